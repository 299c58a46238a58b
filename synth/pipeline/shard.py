"""One shard, start to finish, as a plain function (Ray placement lives elsewhere).

Generate the shard's tasks, run k rollouts per task concurrently, verify, keep tasks by pass
rate, turn accepted trajectories into token-level samples, write the Parquet files and commit.
Errors inside a shard are caught and recorded; only a committed shard counts as done.
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

from synth import __version__
from synth.env import EnvFamily, Task
from synth.infra.gc_tuning import rollout_gc
from synth.pipeline.config import JobConfig
from synth.pipeline.plan import Shard
from synth.pipeline.records import sample_rows, samples_table, task_row, tasks_table
from synth.pipeline.runtime import build_policy, build_user, resolve_family, shared_tokenizer
from synth.pipeline.storage import Output
from synth.policy.scripted import ScriptedModel
from synth.rollout.loop import run_rollout
from synth.rollout.trajectory import Trajectory
from synth.samples import build_samples_many
from synth.seeding import derive_seed
from synth.tokenizer import Tokenizer

GENERATION_ATTEMPTS = 4


@dataclass
class ShardStats:
    """Counts a shard reports in its commit record (summed into the dataset card)."""

    tasks: int = 0
    kept_tasks: int = 0
    discarded: dict[str, int] = field(default_factory=dict)
    trajectories: int = 0
    passed: int = 0
    samples: int = 0
    finish_reasons: dict[str, int] = field(default_factory=dict)
    by_difficulty: dict[str, list[int]] = field(default_factory=dict)
    sample_tokens: list[int] = field(default_factory=list)
    trained_tokens: int = 0
    wall_s: float = 0.0


def generate_task(family: EnvFamily, seed: int, difficulty: int,
                  discards: Counter[str]) -> Task | None:
    """A validated task for this slot; discarded draws are counted and re-drawn a few times."""
    for attempt in range(GENERATION_ATTEMPTS):
        draw = seed if attempt == 0 else derive_seed(seed, "redraw", attempt)
        try:
            generated = family.generate(draw, difficulty)
        except Exception as exc:
            discards[f"generate_error:{type(exc).__name__}"] += 1
            continue
        if generated.task is not None:
            return generated.task
        discards[generated.discard or "unknown"] += 1
    return None


async def rollout_shard(config: JobConfig, shard: Shard, tokenizer: Tokenizer,
                        progress: Any = None) -> tuple[list[dict], list[dict], ShardStats]:
    """Run a shard in memory: (sample rows, task rows, stats)."""
    started = time.perf_counter()
    stats, discards = ShardStats(), Counter[str]()
    family = resolve_family(shard.family)
    tasks = [t for slot in shard.slots
             if (t := generate_task(family, slot.seed, slot.difficulty, discards)) is not None]
    policy = build_policy(config)
    if isinstance(policy, ScriptedModel):
        policy.remember(family, tasks)
    user = build_user(config, policy)
    gate = asyncio.Semaphore(config.shards.max_in_flight)
    wants_ids = policy.wants_token_ids

    async def one(task: Task, index: int) -> Trajectory:
        async with gate:
            return await run_rollout(task, family, policy, sampling=config.sampling,
                                     budgets=config.budgets, user=user,
                                     tokenizer=tokenizer if wants_ids else None,
                                     sample_index=index)

    sample_rows_out: list[dict] = []
    task_rows: list[dict] = []
    try:
        with rollout_gc():
            per_task = await asyncio.gather(*(
                asyncio.gather(*(one(task, i) for i in range(config.k))) for task in tasks))
    finally:
        await policy.close()
    finishes: Counter[str] = Counter()
    accepted: list[tuple[Trajectory, Task, float]] = []
    for task, trajectories in zip(tasks, per_task, strict=True):
        n_passed = sum(t.passed for t in trajectories)
        pass_rate = n_passed / config.k
        kept = config.filter.keeps(pass_rate)
        finishes.update(t.finish_reason for t in trajectories)
        level = stats.by_difficulty.setdefault(str(task.difficulty), [0, 0, 0, 0])
        level[0] += 1
        level[1] += int(kept)
        level[2] += len(trajectories)
        level[3] += n_passed
        task_rows.append(task_row(task, n_passed=n_passed, k=config.k, kept=kept,
                                  job_seed=config.seed))
        stats.trajectories += len(trajectories)
        stats.passed += n_passed
        if kept:
            stats.kept_tasks += 1
            accepted.extend((t, task, pass_rate) for t in trajectories if t.passed)
        if progress is not None:
            progress.add.remote(trajectories=len(trajectories), passed=n_passed)
    built = build_samples_many([(t.messages, t.completions) for t, _, _ in accepted], tokenizer)
    for (trajectory, task, pass_rate), samples in zip(accepted, built, strict=True):
        sample_rows_out.extend(sample_rows(
            trajectory, task, samples, tokenizer, pass_rate=pass_rate, k=config.k,
            sampling=config.sampling, job_seed=config.seed, version=__version__))
    stats.tasks = len(tasks)
    stats.discarded = dict(discards)
    stats.finish_reasons = dict(finishes)
    stats.samples = len(sample_rows_out)
    stats.sample_tokens = [len(r["input_ids"]) for r in sample_rows_out]
    stats.trained_tokens = sum(r["n_trained_tokens"] for r in sample_rows_out)
    stats.wall_s = time.perf_counter() - started
    return sample_rows_out, task_rows, stats


def execute_shard(config: JobConfig, shard: Shard, progress: Any = None) -> dict[str, Any]:
    """Run and commit one shard unless already committed. Returns its commit record, or an
    error record (not committed, so a rerun retries it) when something inside failed."""
    output = Output(config.output)
    marker = output.read_text(f"_commits/{shard.shard_id}.json")
    if marker is not None:
        return {"shard_id": shard.shard_id, "skipped": True}
    try:
        tokenizer = shared_tokenizer(config.tokenizer)
        rows, task_rows, stats = asyncio.run(rollout_shard(config, shard, tokenizer, progress))
        # Empty shards write no file: readers of `datasets` reject Parquet files without rows.
        files = []
        for name, table in ((f"data/train-{shard.shard_id}.parquet", samples_table(rows)),
                            (f"tasks/tasks-{shard.shard_id}.parquet", tasks_table(task_rows))):
            if table.num_rows:
                output.write_table(name, table)
                files.append(name)
        record = {"shard_id": shard.shard_id, "family": shard.family, "files": files,
                  "stats": stats.__dict__}
        output.commit(shard.shard_id, record)
        if progress is not None:
            progress.add.remote(shards=1, samples=stats.samples)
        return record
    except Exception as exc:
        error = {"shard_id": shard.shard_id, "error": f"{type(exc).__name__}: {exc}",
                 "traceback": traceback.format_exc()[-4000:]}
        with contextlib.suppress(Exception):  # the error is also returned to the driver
            output.write_text(f"_errors/{shard.shard_id}.json", json.dumps(error))
        if progress is not None:
            progress.add.remote(failed=1)
        return error
