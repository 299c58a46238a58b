"""Building token-level samples vs raw batched `tokenizers` encoding of the same texts.

Trajectories come from scripted rollouts over every family (with mistakes, so lengths and
shapes vary). "Ours" is `build_samples_many` from messages (incremental rendering, segment-cached
tokenization, masks) with a tokenizer whose cache starts empty; "raw" is
`Tokenizer.encode_batch` (Rust, all cores) of the already rendered full texts. Both must give
identical ids.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from synth.bench.envs import procedural_family_names
from synth.env import get_family
from synth.policy.scripted import MistakeRates, ScriptedConfig, ScriptedModel
from synth.rollout.loop import Budgets, run_rollout
from synth.rollout.trajectory import Trajectory
from synth.samples import build_samples_many
from synth.template import encode_messages
from synth.tokenizer import load_tokenizer

TARGET_SPEEDUP = 1.5


async def _trajectories(n: int, seed: int) -> list[Trajectory]:
    mistakes = MistakeRates(wrong_argument=0.05, skipped_step=0.03, unknown_tool=0.05,
                            wrong_final_answer=0.05)
    model = ScriptedModel(ScriptedConfig(seed=seed, mistakes=mistakes))
    names = procedural_family_names()
    out: list[Trajectory] = []
    index = 0
    while len(out) < n:
        family = get_family(names[index % len(names)])
        level = family.levels[(index // len(names)) % len(family.levels)]
        task = family.generate(seed * 100_003 + index, level).task
        index += 1
        if task is None:
            continue
        traj = await run_rollout(task, family, model, budgets=Budgets(max_tool_rounds=40),
                                 sample_index=index % 4)
        if any(m["role"] == "assistant" for m in traj.messages):
            out.append(traj)
    return out


def bench_template(n_trajectories: int = 3000, seed: int = 0) -> dict[str, Any]:
    """Samples/s and tokens/s of `build_samples` against raw batched encoding, same run."""
    trajectories = asyncio.run(_trajectories(n_trajectories, seed))
    tokenizer = load_tokenizer()  # a fresh segment cache
    started = time.perf_counter()
    built = build_samples_many([(t.messages, t.completions) for t in trajectories], tokenizer)
    samples = [s for per_trajectory in built for s in per_trajectory]
    ours_s = time.perf_counter() - started
    texts = [encode_messages(s.messages, thinking_mode="thinking", drop_thinking=True)
             for s in samples]
    started = time.perf_counter()
    raw = tokenizer.hf.encode_batch(texts, add_special_tokens=False)
    raw_s = time.perf_counter() - started
    identical = all(s.input_ids == r.ids for s, r in zip(samples, raw, strict=True))
    tokens = sum(len(s.input_ids) for s in samples)
    return {
        "trajectories": len(trajectories), "samples": len(samples), "tokens": tokens,
        "samples_per_s": len(samples) / ours_s, "tokens_per_s": tokens / ours_s,
        "raw_tokens_per_s": tokens / raw_s, "speedup_vs_raw": raw_s / ours_s,
        "ids_identical": identical, "cache_hits": tokenizer.cache_hits,
        "cache_misses": tokenizer.cache_misses, "target_speedup": TARGET_SPEEDUP,
        "meets_target": identical and raw_s / ours_s >= TARGET_SPEEDUP,
    }
