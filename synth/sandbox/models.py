"""Limits, results and errors of the sandbox (plain data, no process logic)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Limit = Literal["cpu_time", "wall_time", "memory", "processes", "file_size", "output"]
"""Which limit stopped a run; ``None`` on the result means none did."""

Isolation = Literal["bwrap", "none"]
"""Backend that ran the code: ``bwrap`` namespaces, or ``none`` (rlimits only, weak)."""


class SandboxLimits(BaseModel):
    """Resource limits for one sandboxed run.

    Every limit is enforced outside the untrusted code's control (kernel rlimits,
    a size-limited tmpfs, or the trusted host process), see ``synth.sandbox``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    cpu_s: float = Field(10.0, gt=0, description="CPU seconds (RLIMIT_CPU, rounded up)")
    wall_s: float = Field(30.0, gt=0, description="wall-clock seconds, enforced by the host")
    memory_mb: int = Field(512, ge=32, description="address space per process (RLIMIT_AS)")
    total_memory_mb: int | None = Field(
        None, ge=32, description="memory of the whole run: processes, shared memory, memfds, "
        "tmpfs files, kernel memory (cgroup); default memory_mb + max_disk_mb + 64",
    )
    max_processes: int = Field(
        1, ge=1, description="processes+threads the code may have alive, itself included"
    )
    max_file_mb: int = Field(16, ge=1, description="largest single file (RLIMIT_FSIZE)")
    max_disk_mb: int = Field(64, ge=1, description="total bytes in the work dir (tmpfs size)")
    max_files: int = Field(
        16384, ge=16, description="files and directories in the work dir (tmpfs nr_inodes)"
    )
    max_output_kb: int = Field(
        64, ge=1, description="stdout and stderr, each; more stops a Sandbox run and is "
        "dropped (the command going on) for a SandboxedCommand",
    )
    max_result_kb: int = Field(1024, ge=1, description="JSON-encoded return value")
    max_open_files: int = Field(64, ge=16, description="RLIMIT_NOFILE")

    def run_memory_mb(self) -> int:
        """The run-wide memory bound in MiB (``total_memory_mb`` or its default)."""
        if self.total_memory_mb is not None:
            return self.total_memory_mb
        return self.memory_mb + self.max_disk_mb + 64


class SandboxResult(BaseModel):
    """Outcome of one run. ``value`` comes over a private channel, never from stdout."""

    ok: bool
    value: Any = None
    error: str | None = None
    limit: Limit | None = None
    stdout: str = ""
    stderr: str = ""
    returncode: int | None = None
    isolation: Isolation
    duration_s: float = 0.0
    cpu_s: float | None = None


class SandboxError(RuntimeError):
    """The sandbox itself could not run (not an error of the sandboxed code)."""


class SandboxUnavailable(SandboxError):
    """Real isolation was required but the bwrap backend is missing or broken."""
