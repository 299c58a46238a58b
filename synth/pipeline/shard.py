"""One shard, start to finish: the work function the unit runner executes in a Ray task.

Generate the shard's tasks, run k rollouts per task concurrently, verify, keep tasks by pass
rate, turn accepted trajectories into token-level samples; the runner writes the returned
tables atomically and commits the shard.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from synth.infra.units import UnitOutput
from synth.pipeline.config import JobConfig
from synth.pipeline.plan import Shard
from synth.pipeline.records import samples_table, tasks_table
from synth.pipeline.runtime import build_user, shard_family, shared_tokenizer
from synth.pipeline.stages import generate_tasks, roll_out, score_and_filter, shard_stats, to_rows
from synth.policy.specs import build_policy
from synth.rollout.trajectory import Trajectory


@dataclass(frozen=True)
class ShardContext:
    """What every shard of a job shares: the config and the live progress counter (if any)."""

    config: JobConfig
    progress: Any = None


async def _run(context: ShardContext, shard: Shard) -> UnitOutput:
    started = time.perf_counter()
    config, progress = context.config, context.progress
    tokenizer = shared_tokenizer(config.tokenizer)
    family = shard_family(config, shard)
    tasks, discards = generate_tasks(family, shard.slots)
    policy = build_policy(config.policy, config.seed)
    user = build_user(config, policy)

    def report(trajectories: list[Trajectory]) -> None:
        if progress is not None:
            progress.add.remote(trajectories=len(trajectories),
                                passed=sum(t.passed for t in trajectories))

    try:
        per_task = await roll_out(tasks, family, policy, user, config, tokenizer, report)
    finally:
        await policy.close()
    scored = score_and_filter(tasks, per_task, config)
    rows, failed_rows, task_rows = to_rows(scored, config, tokenizer)
    stats = shard_stats(scored, discards, rows)
    stats.failed_samples = len(failed_rows)
    stats.wall_s = time.perf_counter() - started
    if progress is not None:
        progress.add.remote(shards=1, samples=stats.samples)
    return UnitOutput(
        tables={f"data/train-{shard.shard_id}.parquet": samples_table(rows),
                f"failed/failed-{shard.shard_id}.parquet": samples_table(failed_rows),
                f"tasks/tasks-{shard.shard_id}.parquet": tasks_table(task_rows)},
        stats={"family": shard.family, **stats.to_json()})


class WarningCounter(logging.Handler):
    """Counts the warnings synth logs while a shard runs, so they reach the driver's log."""

    MAX_DISTINCT = 20

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        message = f"{record.name}: {record.getMessage()}"[:300]
        if message in self.counts or len(self.counts) < self.MAX_DISTINCT:
            self.counts[message] += 1
        else:
            self.counts["(other warnings)"] += 1


def run_shard(context: ShardContext, shard: Shard) -> UnitOutput:
    """Run one shard in memory and return its tables and statistics."""
    counter, logger = WarningCounter(), logging.getLogger("synth")
    logger.addHandler(counter)
    try:
        produced = asyncio.run(_run(context, shard))
    finally:
        logger.removeHandler(counter)
    produced.stats["warnings"] = dict(counter.counts)
    return produced
