"""Outages are not data: a job against a model server that goes away, comes back, or serves
broken token ids ends with the dataset an undisturbed run makes (real local Ray, the mock
server over loopback)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow.dataset as ds
import pytest
import yaml
from conftest import MISTAKES

from synth.pipeline.config import parse_config
from synth.pipeline.job import run_job
from synth.policy.mock_config import FaultRates, MockServerConfig
from synth.policy.mock_process import MockServerProcess
from synth.policy.scripted import ScriptedConfig

ENV = {**os.environ, "RAY_AUTH_MODE": "disabled"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mock_config(**extra) -> MockServerConfig:
    return MockServerConfig(scripted=ScriptedConfig(seed=5, mistakes=MISTAKES),
                            latency_s=extra.pop("latency_s", 0.02), **extra)


def job(output: Path, port: int, tolerance: float) -> dict:
    return {
        "seed": 5, "output": str(output), "k": 2,
        "families": [{"name": "bank", "tasks": 6}, {"name": "library", "tasks": 6}],
        "policy": {"kind": "openai", "base_urls": [f"http://127.0.0.1:{port}"],
                   "model": "scripted-dsv32", "max_retries": 1, "backoff_base_s": 0.05,
                   "backoff_max_s": 0.2, "cooldown_s": 0.2, "routing": "least_outstanding"},
        "shards": {"tasks_per_shard": 2, "max_in_flight": 8},
        "outage_tolerance_s": tolerance,
    }


def rows(out: Path, folder: str = "data") -> list[dict]:
    table = ds.dataset(str(out / folder), format="parquet").to_table()
    return sorted(table.to_pylist(), key=lambda r: r["sample_id"])


@pytest.fixture(scope="module")
def reference(ray_session, tmp_path_factory):
    """The undisturbed run (its own mock, same behaviour)."""
    out = tmp_path_factory.mktemp("reference") / "out"
    port = free_port()
    with MockServerProcess(mock_config(), port=port):
        result = run_job(parse_config(job(out, port, 5)))
    assert not result.failed and result.summary["totals"]["samples"] > 0
    return out


def wait_for_commits(folder: Path, n: int, timeout: float = 240) -> None:
    deadline = time.time() + timeout
    while len(list((folder / "_commits").glob("*.json"))) < n:
        assert time.time() < deadline, "the job made no progress"
        time.sleep(0.05)


def test_outage_leaves_shards_uncommitted_and_the_rerun_completes_them(reference,
                                                                        tmp_path) -> None:
    port, out = free_port(), tmp_path / "out"
    config = tmp_path / "job.yaml"
    config.write_text(yaml.safe_dump(job(out, port, tolerance=1)))
    command = [sys.executable, "-m", "synth.cli.main", "run", str(config), "--quiet"]
    server = MockServerProcess(mock_config(latency_s=0.1), port=port)
    server.start()
    driver = subprocess.Popen(command, cwd=tmp_path, env=ENV, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    wait_for_commits(out, 1)
    server.stop()  # the endpoint goes away mid-run
    _, stderr = driver.communicate(timeout=300)
    assert driver.returncode == 1, stderr
    assert "rerunning the same command completes them" in stderr
    assert "could not reach the model" in stderr
    errors = [json.loads(p.read_text()) for p in (out / "_errors").glob("*.json")]
    assert errors and all(e["incomplete"] for e in errors)
    committed = {p.stem for p in (out / "_commits").glob("*.json")}
    assert committed.isdisjoint({e["unit_id"] for e in errors}) and len(committed) < 6
    with MockServerProcess(mock_config(latency_s=0.1), port=port):  # the endpoint is back
        rerun = subprocess.run(command, cwd=tmp_path, env=ENV, capture_output=True, text=True,
                               timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert rows(out) == rows(reference) and rows(out, "failed") == rows(reference, "failed")
    assert not list((out / "_errors").glob("*.json"))


def test_a_short_outage_is_waited_out(reference, ray_session, tmp_path) -> None:
    port, out = free_port(), tmp_path / "out"
    server = MockServerProcess(mock_config(latency_s=0.1), port=port)
    server.start()
    outcome: dict = {}
    worker = threading.Thread(target=lambda: outcome.setdefault(
        "result", run_job(parse_config(job(out, port, tolerance=120)))))
    worker.start()
    wait_for_commits(out, 1)
    server.stop()
    time.sleep(6)  # down for 6 s, then back on the same port
    server = MockServerProcess(mock_config(latency_s=0.1), port=port)
    server.start()
    try:
        worker.join(timeout=300)
    finally:
        server.stop()
    result = outcome["result"]
    assert not result.failed and result.committed == 6
    assert rows(out) == rows(reference)
    tasks = ds.dataset(str(out / "tasks"), format="parquet").to_table().to_pylist()
    reference_tasks = ds.dataset(str(reference / "tasks"), format="parquet").to_table()
    assert sorted(t["pass_rate"] for t in tasks) == sorted(
        reference_tasks.column("pass_rate").to_pylist())


def test_an_unreachable_endpoint_stops_before_ray_with_nothing_committed(tmp_path) -> None:
    out, config = tmp_path / "out", tmp_path / "job.yaml"
    config.write_text(yaml.safe_dump(job(out, free_port(), tolerance=1)))
    done = subprocess.run([sys.executable, "-m", "synth.cli.main", "run", str(config),
                           "--quiet"], cwd=tmp_path, env=ENV, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2 and "policy.base_urls" in done.stderr, done.stderr
    assert "cannot reach" in done.stderr and "Started a local Ray" not in done.stderr
    assert not (out / "_commits").exists()


def test_invalid_served_ids_never_reach_rows(reference, ray_session, tokenizer,
                                             tmp_path) -> None:
    port, out = free_port(), tmp_path / "out"
    faults = FaultRates(invalid_ids=0.3, wrong_ids=0.2)
    with MockServerProcess(mock_config(faults=faults), port=port):
        result = run_job(parse_config(job(out, port, tolerance=5)))
    assert not result.failed
    replaced = result.summary["retokenized"]
    assert replaced and sum(replaced.values()) > 0, result.summary
    vocabulary = tokenizer.vocab_size
    for row in rows(out) + rows(out, "failed"):
        assert all(0 <= i < vocabulary for i in row["input_ids"])
    assert rows(out) == rows(reference)  # replaced by the text's own tokens: the same rows
