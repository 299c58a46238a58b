"""The main job: plan the shards, run the uncommitted ones through the unit runner, write the
manifest and the dataset card.

Shards are plain functions (`synth.pipeline.shard.run_shard`); where they run is the unit
runner's business (`synth.infra.units`): Ray tasks with backpressure, retried when a worker
dies, exceptions caught inside a shard and recorded, so one bad shard never stops the job.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from synth.env import EnvFamily
from synth.infra.storage import Output
from synth.infra.units import JobResult, RunProgress, run_units
from synth.pipeline.card import write_card
from synth.pipeline.config import JobConfig
from synth.pipeline.guard import claim_output
from synth.pipeline.plan import plan_shards
from synth.pipeline.runlog import RunLog
from synth.pipeline.shard import ShardContext, run_shard
from synth.pipeline.validate import check_job
from synth.policy.specs import OpenAIPolicySpec


class ProgressCounter:
    """Counts trajectories and samples as shards report them (a Ray actor in a job)."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def add(self, **counts: int) -> None:
        for key, value in counts.items():
            self.counts[key] = self.counts.get(key, 0) + value

    def snapshot(self) -> dict[str, int]:
        return dict(self.counts)


class BuildStageError(RuntimeError):
    """A family's build stage left units uncommitted: its tasks cannot be generated."""


def run_build_stage(name: str, family: EnvFamily, config: JobConfig) -> None:
    """Run a family's build stage (if any, and the stages it chains) as committed units; a
    rerun skips what is built."""
    stage = family.build_stage()
    while stage is not None:
        report = run_units(Output(stage.output), stage.units, stage.unit_id, stage.work,
                           stage.context, config.ray)
        if report.failed:
            first = report.failed[0]
            raise BuildStageError(
                f"{name}: build stage {stage.name!r} failed for {len(report.failed)} unit(s) "
                f"(first: {first['unit_id']}: {first.get('error')}); rerun to retry them")
        stage = stage.then


def start_fleet_permits(config: JobConfig) -> Any:
    """With `concurrency_scope: fleet`, one Ray actor lends every worker its share of each
    endpoint's cap, so the whole job never exceeds it; the handle must stay referenced."""
    spec = config.policy
    if isinstance(spec, OpenAIPolicySpec) and spec.concurrency_scope == "fleet":
        from synth.policy.permits import start_permit_broker

        return start_permit_broker(spec.client_config())
    return None


ProgressHook = Callable[[dict[str, int], int], None]


def run_job(config: JobConfig, on_progress: ProgressHook | None = None,
            on_start: Callable[[int], None] | None = None, *,
            overwrite: bool = False) -> JobResult:
    """Run every uncommitted shard of the job on Ray and write the manifest and card.
    ConfigError (before Ray starts): a bad config, or an output that is unwritable or holds
    another config's data (`overwrite` clears the job's files first)."""
    import ray

    from synth.infra.raytools import init_ray

    started = time.perf_counter()
    families = check_job(config)
    output = Output(config.output)
    fingerprint = claim_output(config, output, overwrite)
    init_ray(config.ray)
    permits = start_fleet_permits(config)  # held (referenced) for the job's lifetime
    for name, family in families.items():
        run_build_stage(name, family, config)
    shards = plan_shards(config, {name: f.levels for name, f in families.items()})
    counter = ray.remote(num_cpus=0)(ProgressCounter).remote()
    if on_start is not None:
        on_start(len(shards))

    def tick(progress: RunProgress) -> None:
        if on_progress is not None:
            on_progress(ray.get(counter.snapshot.remote()), progress.finished)

    log = RunLog(config, len(shards))
    report = run_units(output, shards, lambda s: s.shard_id, run_shard,
                       ShardContext(config, counter), config.ray, on_progress=tick,
                       on_unit=log.unit_finished)
    planned = {s.shard_id for s in shards}
    records = {k: v for k, v in report.records.items() if k in planned}
    if permits is not None:
        ray.kill(permits)
    summary = write_card(output, config, shards, records, fingerprint)
    log.finish(output, report.skipped, len(records), report.failed, summary)
    output.clean_tmp()  # the card and log are written through the scratch folder too
    return JobResult(output=config.output, planned=len(shards), skipped=report.skipped,
                     committed=len(records), failed=report.failed, summary=summary,
                     wall_s=time.perf_counter() - started)
