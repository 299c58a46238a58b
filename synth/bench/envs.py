"""Validated tasks per second per family and the discard rate.

Procedural families (tasks generated in-process, no build stage, no blocking tools) are timed
in CPU seconds of one core against the 200 tasks/s target. Families whose generation runs
sandboxed programs, kernels or agents over a built index are timed in wall seconds on a few
seeds and reported apart: their own benchmarks (`synth bench search|code|interpreter`) hold
their targets.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from synth.env import EnvFamily, family_names, get_family

TARGET_TASKS_PER_S = 200.0


def is_procedural(family: EnvFamily) -> bool:
    """Generated in this process from data alone (what the 200 tasks/s target is about)."""
    return not family.blocking_tools and family.build_stage() is None


def procedural_family_names() -> list[str]:
    """The families the throughput benchmarks (template, rollout, report) draw tasks from:
    the ones generated in-process, so the figures measure synth rather than sandboxes."""
    return [name for name in family_names() if is_procedural(get_family(name))]


def _measure(family: EnvFamily, seeds_per_level: int, clock: Any) -> dict[str, Any]:
    family.generate(0, family.levels[0])  # warm caches (data files, validators, kernels)
    discards: Counter[str] = Counter()
    made = 0
    started = clock()
    for level in family.levels:
        for seed in range(seeds_per_level):
            generated = family.generate(seed, level)
            if generated.task is None:
                discards[generated.discard or "unknown"] += 1
            else:
                made += 1
    spent = clock() - started
    attempts = seeds_per_level * len(family.levels)
    return {"tasks_per_s": made / spent if spent else float("inf"),
            "discard_rate": 1 - made / attempts, "tasks": made, "discards": dict(discards),
            "seconds": spent}


def bench_envs(seeds_per_level: int = 200, families: list[str] | None = None,
               heavy_seeds_per_level: int = 3) -> dict[str, Any]:
    """Generate tasks at every level of every family: procedural ones `seeds_per_level` times
    (CPU time), the others `heavy_seeds_per_level` times (wall time)."""
    results: dict[str, Any] = {}
    heavy: dict[str, Any] = {}
    for name in families or family_names():
        family = get_family(name)
        if is_procedural(family):
            results[name] = {**_measure(family, seeds_per_level, time.process_time),
                             "clock": "cpu"}
        else:
            heavy[name] = {**_measure(family, heavy_seeds_per_level, time.perf_counter),
                           "clock": "wall"}
    slowest = min((r["tasks_per_s"] for r in results.values()), default=float("inf"))
    return {"families": results, "other_families": heavy, "min_tasks_per_s": slowest,
            "target_tasks_per_s": TARGET_TASKS_PER_S,
            "meets_target": slowest >= TARGET_TASKS_PER_S}
