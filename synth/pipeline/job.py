"""The Ray layer: submit a job's shards as Ray tasks, skip committed ones, finish the card.

Shards are plain functions (`synth.pipeline.shard.execute_shard`); this module only decides
where they run. Ray retries a shard whose worker died (`max_retries`); exceptions inside a
shard are caught there and reported, so one bad shard never stops the job.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import ray

from synth.pipeline.card import write_card
from synth.pipeline.config import JobConfig, RaySpec
from synth.pipeline.plan import plan_shards
from synth.pipeline.runtime import family_levels
from synth.pipeline.shard import execute_shard
from synth.pipeline.storage import Output


@ray.remote(num_cpus=0)
class ProgressCounter:
    """Counts shards, trajectories and samples as workers report them."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def add(self, **counts: int) -> None:
        for key, value in counts.items():
            self.counts[key] = self.counts.get(key, 0) + value

    def snapshot(self) -> dict[str, int]:
        return dict(self.counts)


@dataclass
class JobResult:
    """What a finished (or partly failed) job reports."""

    output: str
    shards: int
    skipped: int
    committed: int
    failed: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    wall_s: float = 0.0


def init_ray(spec: RaySpec) -> None:
    """Join the configured cluster (or RAY_ADDRESS), else start an embedded local Ray."""
    if ray.is_initialized():
        return
    address = spec.address or os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address, log_to_driver=False)
    else:  # "local": a fresh embedded instance, never a cluster found on this machine
        ray.init(address="local", num_cpus=spec.num_cpus, include_dashboard=False,
                 log_to_driver=False)


def run_on_ray(function: Callable[..., dict[str, Any]], config: Any, items: list[Any],
               item_id: Callable[[Any], str], *extra: Any,
               on_result: Callable[[Any, dict[str, Any], int], None] | None = None,
               on_tick: Callable[[int], None] | None = None) -> list[dict[str, Any]]:
    """Run `function(config, item, *extra)` as one Ray task per item (fractional CPUs, retried
    on worker death) and return the error records. A task returns a record dict; one with an
    "error" key failed inside (caught there), and a dead worker past its retries counts too."""
    remote = ray.remote(function).options(num_cpus=config.ray.cpus_per_shard,
                                          max_retries=config.ray.max_retries)
    config_ref = ray.put(config)
    waiting = {remote.remote(config_ref, item, *extra): item for item in items}
    failed: list[dict[str, Any]] = []
    while waiting:
        ready, _ = ray.wait(list(waiting), num_returns=1, timeout=0.5)
        for ref in ready:
            item = waiting.pop(ref)
            try:
                record = ray.get(ref)
            except Exception as exc:  # the worker died more often than max_retries
                record = {"id": item_id(item), "error": f"{type(exc).__name__}: {exc}"}
            if "error" in record:
                failed.append(record)
            if on_result is not None:
                on_result(item, record, len(items) - len(waiting))
        if on_tick is not None:
            on_tick(len(items) - len(waiting))
    return failed


ProgressHook = Callable[[dict[str, int], int], None]


def run_job(config: JobConfig, on_progress: ProgressHook | None = None,
            on_start: Callable[[int], None] | None = None) -> JobResult:
    """Run every uncommitted shard of the job on Ray and write the manifest and card."""
    started = time.perf_counter()
    levels = {spec.name: family_levels(spec.name) for spec in config.families}
    shards = plan_shards(config, levels)
    output = Output(config.output)
    output.ensure()
    output.clean_tmp()
    done = output.committed()
    pending = [s for s in shards if s.shard_id not in done]
    init_ray(config.ray)
    progress = ProgressCounter.remote()
    if on_start is not None:
        on_start(len(shards))

    def tick(finished: int) -> None:
        if on_progress is not None:
            on_progress(ray.get(progress.snapshot.remote()), len(done) + finished)

    failed = run_on_ray(execute_shard, config, pending, lambda s: s.shard_id, progress,
                        on_tick=tick)
    committed = output.committed()
    summary = write_card(output, config, shards, committed)
    output.clean_tmp()  # leave no empty scratch folder beside the dataset
    return JobResult(output=config.output, shards=len(shards), skipped=len(done),
                     committed=len(committed), failed=failed, summary=summary,
                     wall_s=time.perf_counter() - started)
