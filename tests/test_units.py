"""The generic runner of committed work units on a real local Ray: backpressure, exactly-once
commits, error records, resume from one listing and the index."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pyarrow as pa
import pytest
import ray
from ray import cloudpickle

from synth.bench.driver import simulated_resume, trivial_unit
from synth.infra.raytools import RaySpec
from synth.infra.storage import COMMITS, ERRORS, Output
from synth.infra.units import (
    INDEX,
    UnitIncomplete,
    UnitOutput,
    committed_records,
    read_index,
    run_units,
    write_index,
)

cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import tests/


@ray.remote(num_cpus=0)
class Gate:
    """Counts units alive at once, as the units themselves see it."""

    def __init__(self) -> None:
        self.alive, self.peak = 0, 0

    def enter(self) -> None:
        self.alive += 1
        self.peak = max(self.peak, self.alive)

    def leave(self) -> None:
        self.alive -= 1

    def get_peak(self) -> int:
        return self.peak


def gated_unit(gate, unit: int) -> UnitOutput:
    ray.get(gate.enter.remote())
    time.sleep(0.3)
    ray.get(gate.leave.remote())
    return UnitOutput(stats={"unit": unit})


def table_unit(context, unit: int) -> UnitOutput:
    if unit in context.get("fail", ()):
        raise RuntimeError(f"unit {unit} broke")
    if unit in context.get("incomplete", ()):
        raise UnitIncomplete("endpoint unreachable")
    rows = pa.table({"unit": [unit] * (unit % 3)})
    return UnitOutput(tables={f"data/part-{unit:03d}.parquet": rows}, stats={"rows": unit % 3})


def uid(unit: int) -> str:
    return f"u{unit:03d}"


@pytest.mark.parametrize("bound", [3, 12])
def test_backpressure_bounds_the_units_ray_holds(ray_session, tmp_path, bound) -> None:
    gate = Gate.remote()
    # Tiny CPU shares: every submitted unit starts at once, so the gate sees all Ray holds.
    spec = RaySpec(cpus_per_shard=0.01, max_pending=bound)
    report = run_units(Output(str(tmp_path)), list(range(24)), uid, gated_unit, gate, spec)
    assert report.committed == 24 and not report.failed
    peak = ray.get(gate.get_peak.remote())
    assert peak <= bound and report.max_in_flight == bound
    if bound == 3:
        assert peak == 3  # the bound is reached, not merely respected
    else:
        assert peak > 3  # the same check sees a larger bound: it is not vacuous


def test_units_commit_once_and_failures_are_recorded_then_cleared(ray_session,
                                                                  tmp_path) -> None:
    output, spec = Output(str(tmp_path)), RaySpec(cpus_per_shard=0.5)
    first = run_units(output, list(range(12)), uid, table_unit,
                      {"fail": {4}, "incomplete": {7}}, spec)
    assert sorted(f["unit_id"] for f in first.failed) == ["u004", "u007"]
    incomplete = {f["unit_id"]: f["incomplete"] for f in first.failed}
    assert incomplete == {"u004": False, "u007": True}
    assert output.error_ids() == {"u004", "u007"}
    assert output.committed_ids() == {uid(u) for u in range(12)} - {"u004", "u007"}
    assert not (tmp_path / "data" / "part-004.parquet").exists()
    files = sorted(p.name for p in (tmp_path / "data").iterdir())
    assert files == [f"part-{u:03d}.parquet" for u in range(12) if u % 3 and u not in (4, 7)]
    second = run_units(output, list(range(12)), uid, table_unit, {}, spec)
    assert second.skipped == 10 and not second.failed and second.committed == 12
    assert output.error_ids() == set() and not (tmp_path / "_tmp").exists()
    assert read_index(output) == second.records
    assert second.records["u004"]["stats"] == {"rows": 1}


def test_resume_lists_markers_and_reads_only_those_newer_than_the_index(ray_session,
                                                                        tmp_path) -> None:
    output = Output(str(tmp_path))
    units = list(range(5000))
    records = {f"u{u:07d}": {"unit_id": f"u{u:07d}", "files": [], "stats": {"n": 1, "unit": u}}
               for u in units}
    write_index(output, records)
    commits = tmp_path / COMMITS
    commits.mkdir()
    for unit_id in records:  # markers whose content would break any reader
        (commits / f"{unit_id}.json").write_text("not json")
    report = run_units(output, units, lambda u: f"u{u:07d}", trivial_unit, None,
                       RaySpec(cpus_per_shard=0.5))
    assert report.skipped == 5000 and report.records == records and not report.failed
    # A marker committed after the index is read; an index entry without a marker is dropped.
    (commits / "extra.json").write_text(json.dumps({"unit_id": "extra", "stats": {"n": 2}}))
    (commits / "u0000000.json").unlink()
    found = committed_records(output)
    assert found["extra"]["stats"] == {"n": 2} and "u0000000" not in found
    assert len(found) == 5000


def test_a_unit_committed_before_its_worker_died_is_not_run_again(ray_session,
                                                                  tmp_path) -> None:
    output = Output(str(tmp_path))
    output.commit("u001", {"unit_id": "u001", "files": [], "stats": {"rows": 9}})
    from synth.infra.units import execute_unit

    result = execute_unit(str(tmp_path), "u001", table_unit, {"fail": {1}}, 1)
    assert result["status"] == "committed" and result["stats"] == {"rows": 9}
    assert not Path(output.path(ERRORS)).exists()


def test_simulated_resume_aggregates_every_marker() -> None:
    result = simulated_resume(3000)
    assert result["units"] == 4000 and result["read_since_index"] == 1000


def test_index_is_written_atomically_beside_the_markers(ray_session, tmp_path) -> None:
    output = Output(str(tmp_path))
    run_units(output, [1, 2], uid, table_unit, {}, RaySpec(cpus_per_shard=0.5))
    assert (tmp_path / INDEX).is_file() and not (tmp_path / "_tmp").exists()
    assert set(read_index(output)) == {"u001", "u002"}
