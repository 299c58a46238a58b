"""Validated tasks per second per family (one core) and the discard rate."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from synth.env import family_names, get_family

TARGET_TASKS_PER_S = 200.0


def bench_envs(seeds_per_level: int = 200, families: list[str] | None = None) -> dict[str, Any]:
    """Generate `seeds_per_level` tasks at every level of every family, timing CPU."""
    results: dict[str, Any] = {}
    for name in families or family_names():
        family = get_family(name)
        family.generate(0, family.levels[0])  # warm caches (data files, validators)
        discards: Counter[str] = Counter()
        made = 0
        started = time.process_time()
        for level in family.levels:
            for seed in range(seeds_per_level):
                generated = family.generate(seed, level)
                if generated.task is None:
                    discards[generated.discard or "unknown"] += 1
                else:
                    made += 1
        cpu = time.process_time() - started
        attempts = seeds_per_level * len(family.levels)
        results[name] = {"tasks_per_s": made / cpu if cpu else float("inf"),
                         "discard_rate": 1 - made / attempts, "tasks": made,
                         "discards": dict(discards), "cpu_s": cpu}
    slowest = min(r["tasks_per_s"] for r in results.values())
    return {"families": results, "min_tasks_per_s": slowest,
            "target_tasks_per_s": TARGET_TASKS_PER_S, "meets_target": slowest >= TARGET_TASKS_PER_S}
