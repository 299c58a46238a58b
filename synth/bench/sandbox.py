"""What one confined run costs over a plain subprocess: start-up time and memory footprint."""

from __future__ import annotations

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

TARGET_OVERHEAD_MS = 150.0
"""Start-up a command pays for its sandbox (wrapper, bwrap, launcher), median, one core."""
TARGET_TREE_RSS_MB = 64.0
"""Resident memory of the sandbox's own processes around a running command."""
LIMITS = SandboxLimits(cpu_s=10, wall_s=30, max_processes=16)


def _median_ms(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


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
    plain_ms = _median_ms(lambda: subprocess.run(["true"], check=True), runs)
    command_ms = _median_ms(command.run, runs)
    python_ms = _median_ms(lambda: sandbox.run("def main(x):\n    return x", input=1), runs)
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(workspace_files):
            sub = Path(tmp, f"pkg{i % 20}")
            sub.mkdir(exist_ok=True)
            (sub / f"m{i}.py").write_text("x = 1\n")
        over = SandboxedCommand(["true"], mounts=[Mount(tmp, "/work", writable=True)],
                                limits=LIMITS)  # fmt: skip
        workspace_ms = _median_ms(over.run, runs)
    rss_mb = _tree_rss_mb(SandboxedCommand(["sleep", "30"], limits=LIMITS))
    overhead = command_ms - plain_ms
    return {
        "isolation": command.isolation,
        "memory_cgroup": memory_cgroup() is not None,
        "runs": runs,
        "plain_true_ms": plain_ms,
        "command_true_ms": command_ms,
        "command_overhead_ms": overhead,
        "command_vs_plain": command_ms / plain_ms,
        "python_function_ms": python_ms,
        "workspace_files": workspace_files,
        "workspace_true_ms": workspace_ms,
        "sandbox_tree_rss_mb": rss_mb,
        "target_overhead_ms": TARGET_OVERHEAD_MS,
        "target_tree_rss_mb": TARGET_TREE_RSS_MB,
        "meets_target": overhead <= TARGET_OVERHEAD_MS and rss_mb <= TARGET_TREE_RSS_MB,
    }
