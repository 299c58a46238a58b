"""A family's build stage runs as committed units before rollouts; a rerun skips them."""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow as pa
import pytest
from ray import cloudpickle

from synth.env import BuildStage, EnvFamily
from synth.infra.units import UnitOutput
from synth.pipeline.config import parse_config
from synth.pipeline.job import BuildStageError, run_build_stage

cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import tests/


def index_part(context: dict, unit: int) -> UnitOutput:
    if unit in context["broken"]:
        raise ValueError(f"part {unit} cannot be built")
    return UnitOutput(tables={f"parts/part-{unit}.parquet": pa.table({"n": [unit]})},
                      stats={"rows": 1})


class IndexedFamily(EnvFamily):
    name = "test_indexed"
    description = "a family that builds an index first"

    def __init__(self, where: Path, broken: tuple[int, ...] = ()) -> None:
        super().__init__()
        self.where, self.broken = where, broken

    def build_stage(self) -> BuildStage:
        return BuildStage("index", str(self.where), list(range(5)), lambda u: f"part-{u}",
                          index_part, {"broken": self.broken})


def test_build_stage_commits_once_and_failures_stop_the_job(ray_session, tmp_path) -> None:
    config = parse_config({"output": str(tmp_path / "out"),
                           "families": [{"name": "bank", "tasks": 1}]})
    where = tmp_path / "index"
    with pytest.raises(BuildStageError, match=r"test: build stage 'index' failed for 1 unit"):
        run_build_stage("test", IndexedFamily(where, broken=(3,)), config)
    assert sorted(p.name for p in (where / "parts").iterdir()) == [
        f"part-{u}.parquet" for u in (0, 1, 2, 4)]
    built = {p: p.stat().st_mtime_ns for p in (where / "parts").iterdir()}
    run_build_stage("test", IndexedFamily(where), config)  # the rerun builds only part 3
    after = {p: p.stat().st_mtime_ns for p in (where / "parts").iterdir()}
    assert len(after) == 5 and all(after[p] == t for p, t in built.items())
    assert not (where / "_errors").exists() or not list((where / "_errors").iterdir())


def test_families_without_a_build_stage_build_nothing(tmp_path) -> None:
    from synth.env import get_family

    assert get_family("bank").build_stage() is None
