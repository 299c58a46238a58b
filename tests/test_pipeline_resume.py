"""Resuming a job: the card's numbers and the rows equal those of a run that never stopped,
whether the unit index is missing, stale, or current; planning and seeds never change."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.dataset as ds
import pytest
from conftest import small_job

from synth.infra.storage import COMMITS
from synth.infra.units import INDEX
from synth.pipeline.config import parse_config
from synth.pipeline.job import run_job
from synth.pipeline.plan import plan_shards


def rows(out: Path) -> list[dict]:
    table = ds.dataset(str(out / "data"), format="parquet").to_table()
    return sorted(table.to_pylist(), key=lambda r: r["sample_id"])


@pytest.fixture(scope="module")
def finished(ray_session, tmp_path_factory):
    out = tmp_path_factory.mktemp("whole") / "out"
    config = parse_config(small_job(str(out), families=["bank", "retail", "library"], tasks=8))
    result = run_job(config)
    assert not result.failed and result.committed == result.planned == 6
    return config, result, out


def _interrupt(out: Path, keep_index: bool) -> None:
    """What a driver killed mid-run leaves: some shards never committed."""
    for shard in ("bank-00001", "retail-00000"):
        (out / COMMITS / f"{shard}.json").unlink()
        (out / "data" / f"train-{shard}.parquet").unlink(missing_ok=True)
        (out / "tasks" / f"tasks-{shard}.parquet").unlink()
    if not keep_index:
        (out / INDEX).unlink()


@pytest.mark.parametrize("keep_index", [False, True])
def test_resumed_card_equals_an_uninterrupted_run(finished, tmp_path, keep_index) -> None:
    config, result, out = finished
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    _interrupt(copy, keep_index)
    again = run_job(config.model_copy(update={"output": str(copy)}))
    assert again.skipped == 4 and again.committed == 6 and not again.failed
    assert again.summary == result.summary
    manifest = json.loads((copy / "manifest.json").read_text())
    assert manifest["summary"] == json.loads((out / "manifest.json").read_text())["summary"]
    assert rows(copy) == rows(out)


def test_shard_planning_is_pinned() -> None:
    """Seeds and difficulties of planned tasks never change silently (data would)."""
    config = parse_config({"seed": 7, "output": "/tmp/unused", "families": [
        {"name": "bank", "tasks": 3}, {"name": "travel", "tasks": 2,
                                        "difficulties": {1: 1, 5: 3}}],
        "shards": {"tasks_per_shard": 2}})
    shards = plan_shards(config, {"bank": (1, 2, 3, 4, 5), "travel": (1, 2, 3, 4, 5)})
    planned = [(s.shard_id, [(t.index, t.seed, t.difficulty) for t in s.slots])
               for s in shards]
    assert planned == PINNED_PLAN


PINNED_PLAN = [
    ("bank-00000", [(0, 5268314959643872387, 2), (1, 6804961014525976389, 2)]),
    ("bank-00001", [(2, 5030597530708641165, 5)]),
    ("travel-00000", [(0, 4896600807281149446, 5), (1, 5437031031919351792, 5)]),
]
