"""The synthesis stage as a Ray job: one Ray task per (category, index).

Like the rollout pipeline's shards, each environment is written to its own Parquet file
(`environments/env-<id>.parquet`, one row) with an atomic write and a commit marker, so a rerun
skips finished environments and a crashed one is retried. The driver then writes
`synthesis.json`: the config, totals and every counted failure reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from synth.pipeline.card import redact_uri
from synth.pipeline.job import init_ray, run_on_ray
from synth.pipeline.storage import Output
from synth.policy.base import Policy
from synth.seeding import derive_seed
from synth.synthesis.config import CategorySpec, ScriptedAgentSpec, SynthesisConfig
from synth.synthesis.loop import environment_row, synthesize_environment
from synth.synthesis.runner import CodeRunner

MANIFEST = "synthesis.json"
ENV_FOLDER = "environments"
ENV_SCHEMA = pa.schema([
    ("env_id", pa.string()), ("category", pa.string()), ("category_key", pa.string()),
    ("index", pa.int32()), ("seed", pa.int64()), ("status", pa.string()),
    ("discard_reason", pa.string()), ("end_reason", pa.string()),
    ("levels", pa.list_(pa.int32())), ("n_tasks", pa.int32()), ("files", pa.string()),
    ("tasks", pa.string()), ("validation_log", pa.string()), ("failure_counts", pa.string()),
    ("transcript", pa.string()), ("steps", pa.int32()), ("submissions", pa.int32()),
    ("model", pa.string()), ("isolation", pa.string()), ("wall_s", pa.float64()),
    ("synth_version", pa.string()),
])


@dataclass(frozen=True)
class EnvSlot:
    """One environment to synthesize."""

    env_id: str
    category: CategorySpec
    index: int
    seed: int
    ordinal: int
    total: int


@dataclass
class SynthesisResult:
    """What a finished synthesis job reports."""

    output: str
    environments: int
    skipped: int
    committed: int
    failed: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    wall_s: float = 0.0


def plan_environments(config: SynthesisConfig) -> list[EnvSlot]:
    """Every environment of the job in a stable order, with seeds from (seed, category, i)."""
    pairs = [(c, i) for c in config.categories for i in range(config.count(c))]
    return [EnvSlot(f"{c.key}-{i:03d}", c, i, derive_seed(config.seed, c.key, i), n, len(pairs))
            for n, (c, i) in enumerate(pairs)]


def build_agent(config: SynthesisConfig, slot: EnvSlot) -> Policy:
    """The scripted agent for this slot's blueprint, or a client of a real model."""
    spec = config.policy
    if isinstance(spec, ScriptedAgentSpec):
        from synth.synthesis.blueprints import find_blueprint
        from synth.synthesis.scripted_agent import ScriptedSynthesisAgent, assign_faults

        return ScriptedSynthesisAgent(
            find_blueprint(slot.category.name, slot.category.blueprint), seed=slot.seed,
            faults=assign_faults(list(spec.faults), slot.ordinal, slot.total),
            levels=config.levels, max_attempts=config.budgets.max_attempts_per_level,
            model=spec.model)
    from synth.policy.openai import OpenAICompletionsClient

    return OpenAICompletionsClient(spec.client_config())


async def _synthesize(config: SynthesisConfig, slot: EnvSlot) -> dict[str, Any]:
    policy = build_agent(config, slot)
    tokenizer = None
    if policy.wants_token_ids:
        from synth.pipeline.runtime import shared_tokenizer

        tokenizer = shared_tokenizer(config.tokenizer)
    started = time.perf_counter()
    try:
        session = await synthesize_environment(config, slot.env_id, slot.category.name, policy,
                                               CodeRunner(config.sandbox), tokenizer)
    finally:
        await policy.close()
    return environment_row(session, category_key=slot.category.key, index=slot.index,
                           seed=slot.seed, model=policy.model,
                           wall_s=time.perf_counter() - started)


def synthesize_one(config: SynthesisConfig, slot: EnvSlot) -> dict[str, Any]:
    """Write and commit one environment unless already committed (runs in a Ray worker)."""
    output = Output(config.output)
    if output.read_text(f"_commits/{slot.env_id}.json") is not None:
        return {"env_id": slot.env_id, "skipped": True}
    try:
        row = asyncio.run(_synthesize(config, slot))
        output.write_table(f"{ENV_FOLDER}/env-{slot.env_id}.parquet",
                           pa.Table.from_pylist([row], schema=ENV_SCHEMA))
        record = {"env_id": slot.env_id, "category": slot.category.key,
                  "status": row["status"], "levels": row["levels"],
                  "end_reason": row["end_reason"], "discard_reason": row["discard_reason"],
                  "failure_counts": json.loads(row["failure_counts"]),
                  "isolation": row["isolation"], "wall_s": row["wall_s"]}
        output.commit(slot.env_id, record)
        return record
    except Exception as exc:
        error = {"env_id": slot.env_id, "error": f"{type(exc).__name__}: {exc}",
                 "traceback": traceback.format_exc()[-4000:]}
        with contextlib.suppress(Exception):
            output.write_text(f"_errors/{slot.env_id}.json", json.dumps(error))
        return error


def summarize(slots: list[EnvSlot], committed: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Totals, per category counts and every failure reason, summed over environments."""
    reasons: Counter[str] = Counter()
    ends: Counter[str] = Counter()
    levels: Counter[str] = Counter()
    categories: dict[str, Counter[str]] = {}
    for slot in slots:
        record = committed.get(slot.env_id)
        if record is None:
            continue
        reasons.update(record["failure_counts"])
        ends[record["end_reason"] or "none"] += 1
        levels.update(str(n) for n in record["levels"])
        cat = categories.setdefault(slot.category.key, Counter())
        cat.update({"environments": 1, "accepted": int(record["status"] == "accepted"),
                    "tasks": len(record["levels"])})
    return {
        "totals": {"environments": sum(c["environments"] for c in categories.values()),
                   "accepted": sum(c["accepted"] for c in categories.values()),
                   "tasks": sum(c["tasks"] for c in categories.values())},
        "categories": {k: dict(v) for k, v in sorted(categories.items())},
        "tasks_per_level": dict(sorted(levels.items())),
        "failure_reasons": dict(reasons.most_common()),
        "end_reasons": dict(ends.most_common()),
    }


def run_synthesis(config: SynthesisConfig, on_progress: Any = None) -> SynthesisResult:
    """Synthesize every uncommitted environment on Ray, then write the manifest."""
    started = time.perf_counter()
    slots = plan_environments(config)
    output = Output(config.output)
    output.ensure()
    output.clean_tmp()
    done = output.committed()
    pending = [s for s in slots if s.env_id not in done]
    init_ray(config.ray)
    if on_progress is None:
        report = None
    else:
        def report(slot: Any, record: dict[str, Any], finished: int) -> None:
            on_progress(record, len(done) + finished, len(slots))
    failed = run_on_ray(synthesize_one, config, pending, lambda s: s.env_id, on_result=report)
    committed = output.committed()
    summary = summarize(slots, committed)
    public = config.model_dump(mode="json")
    public["output"] = redact_uri(config.output)
    manifest = {"complete": not failed and len(committed) >= len(slots), "summary": summary,
                "environments": [s.env_id for s in slots], "config": public}
    output.write_text(MANIFEST, json.dumps(manifest, indent=1, sort_keys=True))
    return SynthesisResult(output=config.output, environments=len(slots), skipped=len(done),
                           committed=len(committed), failed=failed, summary=summary,
                           wall_s=time.perf_counter() - started)
