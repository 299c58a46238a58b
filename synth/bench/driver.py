"""The driver's cost per work unit, from a thousand units to tens of thousands.

The unit runner runs trivial units (each commits a marker and nothing else) at two sizes in the
same run, on an embedded Ray; the figure is the driver process's CPU time per unit (submission,
completion handling, progress, the index), which must stay flat as the job grows. A simulated
resume of 100k committed units (markers on local disk, one index) measures listing and
aggregating them.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

from synth.infra.raytools import RaySpec, init_ray
from synth.infra.storage import COMMITS, Output
from synth.infra.units import UnitOutput, committed_records, run_units, write_index

TARGET_MS_PER_UNIT = 1.0
TARGET_RATIO = 1.3
TARGET_RESUME_S = 30.0


def trivial_unit(context: Any, unit: int) -> UnitOutput:
    """A unit that does nothing but report one statistic."""
    return UnitOutput(stats={"n": 1, "unit": unit})


def driver_cost(units: int, spec: RaySpec) -> dict[str, float]:
    """Driver CPU and wall time of running `units` trivial units into a fresh folder."""
    with tempfile.TemporaryDirectory(prefix="synth-driver-") as tmp:
        report = run_units(Output(tmp), list(range(units)), lambda u: f"u{u:07d}",
                           trivial_unit, None, spec)
        if report.failed or report.committed != units:
            raise RuntimeError(f"driver benchmark: {len(report.failed)} units failed")
    return {"units": units, "driver_cpu_s": report.driver_cpu_s, "wall_s": report.wall_s,
            "driver_ms_per_unit": 1000 * report.driver_cpu_s / units,
            "max_in_flight": report.max_in_flight}


def simulated_resume(units: int) -> dict[str, float]:
    """Write `units` markers and an index to local disk, then time listing and aggregating."""
    with tempfile.TemporaryDirectory(prefix="synth-resume-") as tmp:
        output = Output(tmp)
        folder = Path(tmp) / COMMITS
        folder.mkdir(parents=True)
        records = {}
        for unit in range(units):
            unit_id = f"u{unit:07d}"
            records[unit_id] = {"unit_id": unit_id, "files": [], "stats": {"n": 1}}
            (folder / f"{unit_id}.json").write_text(json.dumps(records[unit_id]))
        write_index(output, records)
        since = 1000  # markers committed after the index was written are read one by one
        for unit in range(units, units + since):
            unit_id = f"u{unit:07d}"
            (folder / f"{unit_id}.json").write_text(json.dumps(
                {"unit_id": unit_id, "files": [], "stats": {"n": 1}}))
        started = time.perf_counter()
        found = committed_records(output)
        total = sum(r["stats"]["n"] for r in found.values())
        wall = time.perf_counter() - started
    if total != units + since:
        raise RuntimeError(f"resume found {total} units, expected {units + since}")
    return {"units": units + since, "read_since_index": since, "wall_s": wall}


def bench_driver(smoke: bool = False) -> dict[str, Any]:
    """Driver ms per unit at a small and a large job in the same run, and a 100k resume."""
    import ray

    small, large, resume = (200, 2000, 5000) if smoke else (1000, 20000, 100000)
    spec = RaySpec(num_cpus=2, cpus_per_shard=0.5)
    init_ray(spec)
    try:
        driver_cost(50, spec)  # warm the worker pool so both sizes start alike
        at_small, at_large = driver_cost(small, spec), driver_cost(large, spec)
    finally:
        ray.shutdown()
    resumed = simulated_resume(resume)
    ratio = at_large["driver_ms_per_unit"] / at_small["driver_ms_per_unit"]
    return {
        "small": at_small, "large": at_large, "per_unit_ratio": ratio,
        "driver_ms_per_unit": at_large["driver_ms_per_unit"], "resume": resumed,
        "targets": {"per_unit_ratio": TARGET_RATIO, "driver_ms_per_unit": TARGET_MS_PER_UNIT,
                    "resume_wall_s": TARGET_RESUME_S},
        "meets_targets": (ratio <= TARGET_RATIO
                          and at_large["driver_ms_per_unit"] <= TARGET_MS_PER_UNIT
                          and resumed["wall_s"] < TARGET_RESUME_S),
    }
