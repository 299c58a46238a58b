"""The job as users run it: a `ray start --head` cluster with job submission, a SIGKILLed
driver that is rerun, and bad configs rejected with exit code 2."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pyarrow.dataset as ds
import pytest
import yaml
from conftest import ROOT, small_job
from typer.testing import CliRunner

from synth.cli.main import app
from synth.pipeline.config import parse_config
from synth.pipeline.job import run_job

ENV = {**os.environ, "RAY_AUTH_MODE": "disabled", "PYTHONUNBUFFERED": "1"}


def free_ports(n: int) -> list[int]:
    sockets, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        sockets.append(s)
        ports.append(s.getsockname()[1])
    for s in sockets:
        s.close()
    return ports


def kill_tree_matching(marker: str) -> None:
    """Kill every process whose command line mentions `marker` (this test's cluster only)."""
    for proc in psutil.process_iter(["pid", "cmdline"]):
        try:
            if marker in " ".join(proc.info["cmdline"] or []):
                proc.kill()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass


def sorted_rows(folder: Path):
    return ds.dataset(folder, format="parquet").to_table().sort_by("sample_id")


def write_config(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def head_node():
    """A real `ray start --head` in a temp dir, torn down after the test."""
    temp_dir = Path(tempfile.mkdtemp(prefix="rh", dir="/tmp"))  # socket paths must be short
    gcs, dashboard, agent, agent_grpc, metrics, runtime_env, client = free_ports(7)
    command = ["ray", "start", "--head", f"--port={gcs}", "--num-cpus=2",
               "--include-dashboard=true", "--dashboard-host=127.0.0.1",
               f"--dashboard-port={dashboard}", f"--dashboard-agent-listen-port={agent}",
               f"--dashboard-agent-grpc-port={agent_grpc}", f"--metrics-export-port={metrics}",
               f"--runtime-env-agent-port={runtime_env}", f"--ray-client-server-port={client}",
               f"--temp-dir={temp_dir}", "--disable-usage-stats"]
    ray_bin = str(Path(sys.executable).parent / "ray")
    started = subprocess.run([ray_bin, *command[1:]], env=ENV, capture_output=True, text=True,
                             timeout=120)
    try:
        assert started.returncode == 0, started.stderr[-2000:]
        yield f"http://127.0.0.1:{dashboard}"
    finally:
        kill_tree_matching(str(temp_dir))
        shutil.rmtree(temp_dir, ignore_errors=True)


def test_job_submitted_to_a_head_node_succeeds(head_node, tmp_path) -> None:
    from ray.job_submission import JobStatus, JobSubmissionClient

    out = tmp_path / "out"
    config = write_config(tmp_path / "job.yaml",
                          small_job(str(out), families=["bank", "travel"], tasks=4))
    client = JobSubmissionClient(head_node)
    job_id = client.submit_job(
        entrypoint=f"{sys.executable} jobs/run_job.py {config}",
        runtime_env={"working_dir": str(ROOT),
                     "excludes": [".venv", ".git", "out", "**/__pycache__", ".hypothesis"],
                     "env_vars": {"RAY_AUTH_MODE": "disabled"}},
    )
    deadline = time.time() + 300
    status = client.get_job_status(job_id)
    while status not in {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.STOPPED}:
        assert time.time() < deadline, "job did not finish in time"
        time.sleep(1)
        status = client.get_job_status(job_id)
    logs = client.get_job_logs(job_id)
    assert status == JobStatus.SUCCEEDED, logs[-3000:]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] and all(s["committed"] for s in manifest["shards"])
    assert sorted_rows(out / "data").num_rows == manifest["summary"]["totals"]["samples"] > 0
    assert (out / "README.md").exists() and "shards committed 2/2" in logs


def test_killed_driver_resumes_without_loss_or_duplicates(ray_session, tmp_path) -> None:
    job = small_job(str(tmp_path / "killed"), families=["bank", "library", "retail"], tasks=12,
                    shards={"tasks_per_shard": 2, "max_in_flight": 8})
    job["policy"]["latency_s"] = 0.03  # slow enough to be caught mid-run
    reference_out = tmp_path / "reference"
    reference = run_job(parse_config({**job, "output": str(reference_out)}))
    assert not reference.failed
    config = write_config(tmp_path / "job.yaml", job)
    command = [sys.executable, "-m", "synth.cli.main", "run", str(config), "--quiet"]
    driver = subprocess.Popen(command, env=ENV, cwd=tmp_path, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    commits = tmp_path / "killed" / "_commits"
    deadline = time.time() + 180
    while len(list(commits.glob("*.json"))) < 3:
        assert driver.poll() is None, "the driver finished before it could be killed"
        assert time.time() < deadline
        time.sleep(0.05)
    os.kill(driver.pid, signal.SIGKILL)
    driver.wait()
    done_at_kill = len(list(commits.glob("*.json")))
    with contextlib.suppress(ProcessLookupError):  # its embedded Ray goes down with it
        os.killpg(driver.pid, signal.SIGKILL)
    assert done_at_kill < reference.planned, "killed after the job had finished"
    rerun = subprocess.run(command, env=ENV, cwd=tmp_path, capture_output=True, text=True,
                           timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    killed_rows = sorted_rows(tmp_path / "killed" / "data")
    assert killed_rows.equals(sorted_rows(reference_out / "data"))
    ids = killed_rows.column("sample_id").to_pylist()
    assert len(ids) == len(set(ids))
    manifest = json.loads((tmp_path / "killed" / "manifest.json").read_text())
    assert manifest["complete"]


BAD_CONFIGS = {
    "output": ({"families": [{"name": "bank", "tasks": 2}]}, "output"),
    "families": ({"output": "x"}, "families"),
    "k": ({"output": "x", "families": [{"name": "bank", "tasks": 2}], "k": "four"}, "k"),
    "tasks": ({"output": "x", "families": [{"name": "bank", "tasks": -1}]}, "families.0.tasks"),
    "unknown family": ({"output": "x", "families": [{"name": "nope", "tasks": 2}]},
                       "families.0.name"),
    "bad uri": ({"output": "ftp://127.0.0.1/x", "families": [{"name": "bank", "tasks": 2}]},
                "output"),
    "unknown field": ({"output": "x", "families": [{"name": "bank", "tasks": 2}], "kk": 1},
                      "kk"),
    "level": ({"output": "x", "families": [{"name": "bank", "tasks": 2,
                                            "difficulties": [9]}]}, "families.0.difficulties"),
    "options": ({"output": "x", "families": [{"name": "bank", "tasks": 2, "options": {"x": 1}}]},
                "families.0.options.x"),
    "source options": ({"output": "x", "families": [
        {"name": "synthesized:/nowhere", "tasks": 2, "options": {"x": 1}}]}, "families.0.options"),
    "policy": ({"output": "x", "families": [{"name": "bank", "tasks": 2}],
                "policy": {"kind": "openai", "base_urls": []}}, "policy.openai.base_urls"),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_config_exits_2_naming_the_field(tmp_path, case: str) -> None:
    data, field = BAD_CONFIGS[case]
    config = write_config(tmp_path / "bad.yaml", data)
    result = CliRunner().invoke(app, ["run", str(config)])
    assert result.exit_code == 2, result.output
    assert field in result.output, result.output


def test_unreadable_config_exits_2(tmp_path) -> None:
    (tmp_path / "bad.yaml").write_text("seed: [unclosed")
    for path in (tmp_path / "bad.yaml", tmp_path / "missing.yaml"):
        result = CliRunner().invoke(app, ["run", str(path)])
        assert result.exit_code == 2 and "config" in result.output
