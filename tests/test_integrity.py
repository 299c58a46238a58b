"""Integrity under mistakes and interruptions: an output never mixes configs, a bad output fails
before Ray starts, Ctrl-C leaves a resumable output and no Ray process, errors are one line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import yaml
from conftest import small_job
from typer.testing import CliRunner

from synth.cli.main import app
from synth.infra.raytools import RaySpec
from synth.infra.storage import Output
from synth.infra.units import StalledError, run_units
from synth.pipeline.config import parse_config
from synth.pipeline.guard import OutputError, claim_output
from synth.pipeline.job import run_job

ENV = {**os.environ, "RAY_AUTH_MODE": "disabled"}


def write_config(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data))
    return path


def cli(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "synth.cli.main", *args], cwd=cwd, env=ENV,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def made(ray_session, tmp_path_factory):
    out = tmp_path_factory.mktemp("made") / "out"
    job = small_job(str(out), families=["bank", "library"], tasks=4)
    result = run_job(parse_config(job))
    assert not result.failed
    return job, out


@pytest.mark.parametrize("change", [{"seed": 8}, {"k": 2}, {"tasks": 6}])
def test_a_changed_config_is_refused_naming_the_fields(made, tmp_path, change) -> None:
    job, out = made
    changed = dict(job)
    if "tasks" in change:
        changed["families"] = [{**f, "tasks": change["tasks"]} for f in job["families"]]
    else:
        changed.update(change)
    with pytest.raises(OutputError) as caught:
        run_job(parse_config(changed))
    field = "families" if "tasks" in change else next(iter(change))
    assert f"{field}:" in str(caught.value) and "--overwrite" in str(caught.value)
    # through the command line: exit 2, one line, nothing written
    before = sorted(p.name for p in (out / "data").iterdir())
    result = CliRunner().invoke(app, ["run", str(write_config(tmp_path / "c.yaml", changed)),
                                      "--quiet"])
    assert result.exit_code == 2 and f"{field}:" in result.output, result.output
    assert sorted(p.name for p in (out / "data").iterdir()) == before


def test_overwrite_starts_over_and_the_card_describes_the_rows(made, tmp_path) -> None:
    import shutil

    job, out = made
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    (copy / "notes.txt").write_text("mine")  # not a job file: kept
    changed = {**job, "output": str(copy), "seed": 99}
    result = run_job(parse_config(changed), overwrite=True)
    manifest = json.loads((copy / "manifest.json").read_text())
    assert manifest["fingerprint"]["seed"] == 99 and manifest["config"]["seed"] == 99
    rows = __import__("pyarrow.dataset", fromlist=["dataset"]).dataset(
        str(copy / "data"), format="parquet").to_table()
    assert set(rows.column("job_seed").to_pylist()) == {99}
    assert rows.num_rows == result.summary["totals"]["samples"]
    assert (copy / "notes.txt").read_text() == "mine"


def test_unusable_outputs_fail_before_ray_starts(tmp_path) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    for output, words in ((a_file, "is a file"), (a_file / "below", "cannot write"),
                          (Path("/proc/synth-out"), "cannot write")):
        started = time.perf_counter()
        result = cli("run", "--output", str(output), "--tasks", "1", "--quiet", cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and words in lines[0] and "output" in lines[0], result.stderr
        assert "Traceback" not in result.stderr + result.stdout
        assert "Started a local Ray" not in result.stderr
        assert time.perf_counter() - started < 60


def test_missing_api_key_fails_before_ray(tmp_path) -> None:
    job = small_job(str(tmp_path / "out"), families=["bank"], tasks=1)
    job["policy"] = {"kind": "openai", "base_urls": ["http://127.0.0.1:9"],
                     "api_key_env": "SYNTH_TEST_KEY_NOT_SET"}
    result = cli("run", str(write_config(tmp_path / "c.yaml", job)), "--quiet", cwd=tmp_path)
    assert result.returncode == 2 and "policy.api_key_env" in result.stderr
    assert "SYNTH_TEST_KEY_NOT_SET" in result.stderr and "Started a local Ray" not in \
        result.stderr


def test_errors_are_one_line_and_debug_shows_the_traceback(tmp_path) -> None:
    bad = tmp_path / "conversation.json"
    bad.write_text("{not json")
    result = cli("render", str(bad), cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert len([x for x in result.stderr.splitlines() if x.strip()]) == 1
    assert "JSONDecodeError" in result.stderr
    debug = cli("--debug", "render", str(bad), cwd=tmp_path)
    assert debug.returncode == 1 and "Traceback" in debug.stderr
    missing = cli("inspect", str(tmp_path / "missing"), cwd=tmp_path)
    assert missing.returncode == 2 and "no dataset" in missing.stderr
    assert len([x for x in missing.stderr.splitlines() if x.strip()]) == 1


def _session_processes(sid: int) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if os.getsid(proc.pid) == sid:
                found.append(proc)
        except (ProcessLookupError, PermissionError, psutil.Error):
            continue
    return found


def test_ctrl_c_prints_the_resume_hint_and_leaves_no_ray_process(tmp_path) -> None:
    out = tmp_path / "out"
    job = small_job(str(out), families=["bank", "library", "retail"], tasks=12,
                    shards={"tasks_per_shard": 2, "max_in_flight": 8})
    job["policy"]["latency_s"] = 0.05
    config = write_config(tmp_path / "job.yaml", job)
    driver = subprocess.Popen([sys.executable, "-m", "synth.cli.main", "run", str(config),
                               "--quiet"], cwd=tmp_path, env=ENV, start_new_session=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 180
    while len(list((out / "_commits").glob("*.json"))) < 2:
        assert driver.poll() is None and time.time() < deadline, "finished too early"
        time.sleep(0.05)
    driver.send_signal(signal.SIGINT)
    _, stderr = driver.communicate(timeout=120)
    assert driver.returncode == 130, stderr
    assert "shard(s) committed" in stderr and "rerunning the same command resumes" in stderr
    assert "Traceback" not in stderr
    deadline = time.time() + 30
    while _session_processes(driver.pid) and time.time() < deadline:
        time.sleep(0.5)
    left = _session_processes(driver.pid)
    assert not left, [p.cmdline() for p in left]
    rerun = cli("run", str(config), "--quiet", cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] and manifest["summary"]["shards"]["committed"] == 18


def nothing(context, unit):
    raise AssertionError("an infeasible unit never runs")


def test_units_that_cannot_start_stop_the_job_with_a_message(ray_session, tmp_path) -> None:
    spec = RaySpec(cpus_per_shard=64, stall_timeout_s=2)  # no node has 64 CPUs
    with pytest.raises(StalledError, match="none is running"):
        run_units(Output(str(tmp_path)), [1, 2], str, nothing, None, spec)


def test_claiming_twice_with_the_same_config_is_allowed(tmp_path) -> None:
    config = parse_config(small_job(str(tmp_path / "o"), families=["bank"], tasks=1))
    first = claim_output(config, Output(config.output))
    assert claim_output(config, Output(config.output)) == first
