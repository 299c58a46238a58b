"""What one confined run costs over a plain subprocess: start-up time and memory footprint."""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from synth.sandbox import Mount, Sandbox, SandboxedCommand, SandboxLimits
from synth.sandbox.bounds import memory_cgroup

TARGET_OVERHEAD_CPU_MS = 100.0
"""CPU a command's start pays for its sandbox (wrapper, bwrap, launcher, cgroup)."""
TARGET_TREE_RSS_MB = 64.0
"""Resident memory of the sandbox's own processes around a running command."""
LIMITS = SandboxLimits(cpu_s=10, wall_s=30, max_processes=16)


def _timed(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    """(median wall ms, mean CPU ms of this process and every process it waited for): the
    CPU figure holds on a busy machine, where wall time mostly measures the queue."""
    times, cpu = [], 0.0
    for _ in range(runs):
        before = _cpu_s()
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
        cpu += _cpu_s() - before
    return statistics.median(times), cpu / runs * 1000


def _cpu_s() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    waited = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + waited.ru_utime + waited.ru_stime


def _tree_rss_mb(cmd: SandboxedCommand) -> float:
    """RSS of everything the sandbox adds around ``sleep`` (wrapper, bwrap, launcher)."""
    proc = cmd.spawn(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        tree: list[psutil.Process] = []
        for _ in range(400):
            tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
            if any(p.name() == "sleep" for p in tree):
                break
            time.sleep(0.025)
        return sum(p.memory_info().rss for p in tree if p.name() != "sleep") / 2**20
    finally:
        proc.kill()
        proc.wait()


def bench_sandbox(runs: int = 30, workspace_files: int = 2000) -> dict[str, Any]:
    """Medians over ``runs`` starts of: ``true`` plainly and sandboxed, a Python function in
    ``Sandbox``, ``true`` over a writable workspace of ``workspace_files`` files."""
    command = SandboxedCommand(["true"], limits=LIMITS)
    sandbox = Sandbox(LIMITS)
    plain_ms, plain_cpu = _timed(lambda: subprocess.run(["true"], check=True), runs)
    command_ms, command_cpu = _timed(command.run, runs)
    python_ms, python_cpu = _timed(
        lambda: sandbox.run("def main(x):\n    return x", input=1), runs)
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(workspace_files):
            sub = Path(tmp, f"pkg{i % 20}")
            sub.mkdir(exist_ok=True)
            (sub / f"m{i}.py").write_text("x = 1\n")
        over = SandboxedCommand(["true"], mounts=[Mount(tmp, "/work", writable=True)],
                                limits=LIMITS)  # fmt: skip
        workspace_ms, workspace_cpu = _timed(over.run, runs)
    rss_mb = _tree_rss_mb(SandboxedCommand(["sleep", "30"], limits=LIMITS))
    overhead_cpu = command_cpu - plain_cpu
    return {
        "isolation": command.isolation,
        "memory_cgroup": memory_cgroup() is not None,
        "runs": runs,
        "load_average_1m": os.getloadavg()[0],
        "plain_true_ms": plain_ms,
        "command_true_ms": command_ms,
        "command_vs_plain": command_ms / plain_ms,
        "plain_true_cpu_ms": plain_cpu,
        "command_true_cpu_ms": command_cpu,
        "command_overhead_cpu_ms": overhead_cpu,
        "python_function_ms": python_ms,
        "python_function_cpu_ms": python_cpu,
        "workspace_files": workspace_files,
        "workspace_true_ms": workspace_ms,
        "workspace_true_cpu_ms": workspace_cpu,
        "sandbox_tree_rss_mb": rss_mb,
        "target_overhead_cpu_ms": TARGET_OVERHEAD_CPU_MS,
        "target_tree_rss_mb": TARGET_TREE_RSS_MB,
        "meets_target": overhead_cpu <= TARGET_OVERHEAD_CPU_MS and rss_mb <= TARGET_TREE_RSS_MB,
    }
