"""Cutting a job into shards with deterministic ids and per-task seeds.

A shard holds whole tasks (all k rollouts of a task live in one shard, so pass@k needs no
shuffle). Task i of family f has seed derive_seed(job seed, f, i) and a difficulty drawn from
the configured mix with a generator seeded the same way, so any task can be regenerated alone
and a rerun plans exactly the same shards.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from synth.pipeline.config import ConfigError, JobConfig
from synth.seeding import derive_seed


@dataclass(frozen=True)
class TaskSlot:
    """One task to generate: its index in the family, seed and difficulty."""

    index: int
    seed: int
    difficulty: int


@dataclass(frozen=True)
class Shard:
    """The unit of scheduling, retry and resume."""

    shard_id: str
    family: str
    slots: tuple[TaskSlot, ...]


def shard_name(family: str) -> str:
    """A file-name-safe form of a family name (model-written families carry paths)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", family).strip("_") or "family"


def family_slots(job_seed: int, family: str, tasks: int,
                 weights: dict[int, float]) -> list[TaskSlot]:
    """The task slots of one family in a job (a family's build stage may prepare them)."""
    slots = []
    for index in range(tasks):
        seed = derive_seed(job_seed, family, index)
        pick = random.Random(derive_seed(job_seed, family, index, "difficulty"))
        difficulty = pick.choices(list(weights), weights=list(weights.values()))[0]
        slots.append(TaskSlot(index, seed, difficulty))
    return slots


def plan_shards(config: JobConfig, levels: dict[str, tuple[int, ...]]) -> list[Shard]:
    """All shards of the job, in a stable order. `levels` maps family name to its levels."""
    shards: list[Shard] = []
    per_shard = config.shards.tasks_per_shard
    for spec in config.families:
        if spec.name not in levels:
            raise ConfigError(f"families.{spec.name}: unknown environment family")
        slots = family_slots(config.seed, spec.name, spec.tasks, spec.weights(levels[spec.name]))
        for number, start in enumerate(range(0, len(slots), per_shard)):
            shards.append(Shard(f"{shard_name(spec.name)}-{number:05d}", spec.name,
                                tuple(slots[start:start + per_shard])))
    return shards
