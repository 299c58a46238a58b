"""The stages of a shard as plain functions: generate_tasks -> roll_out -> score_and_filter ->
to_rows. None of them knows where it runs; `synth.pipeline.shard` chains them inside one Ray
task, and tests call them directly.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from synth import __version__
from synth.env import EnvFamily, Task
from synth.infra.gc_tuning import rollout_gc
from synth.infra.units import UnitIncomplete
from synth.pipeline.config import JobConfig
from synth.pipeline.plan import TaskSlot
from synth.pipeline.records import sample_rows, task_row
from synth.pipeline.stats import LevelStats, ShardStats
from synth.policy.base import Policy
from synth.rollout.loop import run_rollout
from synth.rollout.trajectory import Trajectory
from synth.rollout.users import UserSimulator
from synth.samples import build_samples_many
from synth.seeding import derive_seed
from synth.tokenizer import Tokenizer

GENERATION_ATTEMPTS = 4


@dataclass
class ScoredTask:
    """A task with its k trajectories, how many passed, and whether the filter keeps it."""

    task: Task
    trajectories: list[Trajectory]
    n_passed: int
    kept: bool

    @property
    def pass_rate(self) -> float:
        return self.n_passed / len(self.trajectories) if self.trajectories else 0.0


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


def generate_tasks(family: EnvFamily, slots: Iterable[TaskSlot]) -> tuple[list[Task],
                                                                          Counter[str]]:
    """The validated tasks of these slots, and every discard by reason."""
    discards: Counter[str] = Counter()
    tasks = [t for slot in slots
             if (t := generate_task(family, slot.seed, slot.difficulty, discards)) is not None]
    return tasks, discards


async def roll_out(tasks: Sequence[Task], family: EnvFamily, policy: Policy,
                   user: UserSimulator, config: JobConfig, tokenizer: Tokenizer | None,
                   on_task_done: Callable[[list[Trajectory]], None] | None = None,
                   ) -> list[list[Trajectory]]:
    """k rollouts of every task, at most `shards.max_in_flight` at a time; per task, in order.

    A rollout that ended because the model could not be reached is not data: it is rolled
    out again once the endpoints answer, for up to `outage_tolerance_s`; what still fails
    then raises `UnitIncomplete`, so the shard is not committed and a rerun completes it."""
    gate = asyncio.Semaphore(config.shards.max_in_flight)
    policy.prepare(family, list(tasks))
    ids_tokenizer = tokenizer if policy.wants_token_ids else None

    async def one(task: Task, index: int) -> Trajectory:
        async with gate:
            return await run_rollout(task, family, policy, sampling=config.sampling,
                                     budgets=config.budgets, user=user,
                                     tokenizer=ids_tokenizer, sample_index=index)

    async def all_of(task: Task) -> list[Trajectory]:
        trajectories = list(await asyncio.gather(*(one(task, i) for i in range(config.k))))
        if on_task_done is not None:
            on_task_done(trajectories)
        return trajectories

    with rollout_gc():
        results = list(await asyncio.gather(*(all_of(task) for task in tasks)))
        deadline = time.monotonic() + config.outage_tolerance_s
        while lost := [(i, j) for i, ts in enumerate(results) for j, t in enumerate(ts)
                       if t.outage]:
            left = deadline - time.monotonic()
            if left <= 0 or not await policy.wait_for_endpoints(left):
                reason = results[lost[0][0]][lost[0][1]].finish_reason
                raise UnitIncomplete(
                    f"{len(lost)} rollout(s) could not reach the model ({reason}) within "
                    f"outage_tolerance_s={config.outage_tolerance_s:g}")
            again = await asyncio.gather(*(one(tasks[i], j) for i, j in lost))
            for (i, j), trajectory in zip(lost, again, strict=True):
                results[i][j] = trajectory
        return results


def score_and_filter(tasks: Sequence[Task], per_task: Sequence[list[Trajectory]],
                     config: JobConfig) -> list[ScoredTask]:
    """Pass rates and the pass@k filter."""
    scored = []
    for task, trajectories in zip(tasks, per_task, strict=True):
        n_passed = sum(t.passed for t in trajectories)
        scored.append(ScoredTask(task, trajectories, n_passed,
                                 config.filter.keeps(n_passed / config.k)))
    return scored


def to_rows(scored: Sequence[ScoredTask], config: JobConfig,
            tokenizer: Tokenizer) -> tuple[list[dict], list[dict], list[dict]]:
    """Training rows (passed trajectories of kept tasks; one per user turn), rows of the
    failed trajectories (when `keep_failed`; for analysis, never for training) and task rows."""
    accepted = [(t, s) for s in scored if s.kept for t in s.trajectories if t.passed]
    failed = [(t, s) for s in scored for t in s.trajectories
              if not t.passed] if config.keep_failed else []
    built = build_samples_many([(t.messages, t.completions) for t, _ in accepted + failed],
                               tokenizer)
    rows: list[dict] = []
    failed_rows: list[dict] = []
    for index, ((trajectory, s), samples) in enumerate(zip(accepted + failed, built,
                                                           strict=True)):
        target = rows if index < len(accepted) else failed_rows
        target.extend(sample_rows(trajectory, s.task, samples, tokenizer,
                                  pass_rate=s.pass_rate, k=config.k, sampling=config.sampling,
                                  job_seed=config.seed, version=__version__))
    task_rows = [task_row(s.task, n_passed=s.n_passed, k=config.k, kept=s.kept,
                          job_seed=config.seed) for s in scored]
    return rows, failed_rows, task_rows


def shard_stats(scored: Sequence[ScoredTask], discards: Counter[str],
                rows: Sequence[dict]) -> ShardStats:
    """What the shard's commit record keeps for the dataset card."""
    finishes = Counter(t.finish_reason for s in scored for t in s.trajectories)
    retokenized = Counter(c.retokenized for s in scored for t in s.trajectories
                          for c in t.completions if c.retokenized)
    levels: dict[str, LevelStats] = {}
    environments: dict[str, LevelStats] = {}
    for s in scored:
        counts = LevelStats(tasks=1, kept_tasks=int(s.kept), trajectories=len(s.trajectories),
                            passed=s.n_passed)
        levels.setdefault(str(s.task.difficulty), LevelStats()).add(counts)
        if "environment" in s.task.metadata:
            environments.setdefault(str(s.task.metadata["environment"]), LevelStats()).add(counts)
    return ShardStats(
        tasks=len(scored), kept_tasks=sum(s.kept for s in scored),
        trajectories=sum(len(s.trajectories) for s in scored),
        passed=sum(s.n_passed for s in scored), samples=len(rows),
        trained_tokens=sum(r["n_trained_tokens"] for r in rows),
        discarded=dict(discards), finish_reasons=dict(finishes), by_difficulty=levels,
        by_environment=environments, retokenized=dict(retokenized),
        sample_tokens=[len(r["input_ids"]) for r in rows])
