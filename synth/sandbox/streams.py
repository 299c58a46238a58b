"""Start a sandbox process and collect its output with bounded memory and a wall clock.

Shared by ``Sandbox`` and ``SandboxedCommand``: stdout, stderr and private pipes (the
launcher's result, the wrapper's report) are read together, each capped; the whole process
tree is stopped at the deadline.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import IO, Literal

StopReason = Literal["wall_time", "output"]


class Channels:
    """Named private pipes from the sandbox to the host; the write ends go to the child."""

    def __init__(self, *names: str) -> None:
        self.read: dict[str, int] = {}
        self.write: dict[str, int] = {}
        try:
            for name in names:
                self.read[name], self.write[name] = os.pipe()
        except OSError:
            self.close()
            raise

    def close_writers(self) -> None:
        for fd in self.write.values():
            os.close(fd)
        self.write.clear()

    def close(self) -> None:
        self.close_writers()
        for fd in self.read.values():
            os.close(fd)
        self.read.clear()

    def __enter__(self) -> Channels:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class Captured:
    """What came out of one run: capped bytes per stream and why it was stopped, if it was."""

    returncode: int
    data: dict[str, bytes]
    stopped: StopReason | None = None
    truncated: set[str] = field(default_factory=set)
    duration_s: float = 0.0


def capture(
    argv: list[str],
    channels: Channels,
    caps: Mapping[str, int],
    *,
    wall_s: float,
    stdin: IO[bytes] | int | None,
    env: Mapping[str, str] | None = None,
    cwd: str = "/",
    drain: bool = False,
    wrapped: bool = True,
) -> Captured:
    """Run ``argv`` to completion or to ``wall_s``.

    A stream over its cap stops the run (``stopped="output"``), or with ``drain`` keeps the
    first ``cap`` bytes and discards the rest while the run goes on. ``wrapped``: argv is the
    ``_confine`` wrapper, which on SIGTERM kills the sandbox and cleans up after it.
    """
    start = time.monotonic()
    proc = subprocess.Popen(
        argv, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        pass_fds=tuple(channels.write.values()), env=env, cwd=cwd, start_new_session=True,
    )  # fmt: skip
    channels.close_writers()
    assert proc.stdout is not None and proc.stderr is not None
    fds = {"stdout": proc.stdout.fileno(), "stderr": proc.stderr.fileno(), **channels.read}
    try:
        captured = _pump(proc, fds, caps, start + wall_s, drain, wrapped)
    finally:
        if proc.poll() is None:  # only if _pump failed; never a reaped pid
            _stop(proc, wrapped)
        proc.stdout.close()
        proc.stderr.close()
    captured.duration_s = round(time.monotonic() - start, 3)
    return captured


def _pump(proc: subprocess.Popen[bytes], fds: Mapping[str, int], caps: Mapping[str, int],
          deadline: float, drain: bool, wrapped: bool) -> Captured:
    bufs = {name: bytearray() for name in fds}
    truncated: set[str] = set()
    sel = selectors.DefaultSelector()
    for name, fd in fds.items():
        os.set_blocking(fd, False)
        sel.register(fd, selectors.EVENT_READ, name)
    stopped: StopReason | None = None
    while sel.get_map() and stopped is None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            stopped = "wall_time"
        elif _read_ready(sel, bufs, caps, truncated, min(remaining, 0.5)) and not drain:
            stopped = "output"
    if stopped is not None:
        _signal(proc, wrapped)
        # every sandbox process holds stdout/stderr: EOF means the namespace is gone
        settle = time.monotonic() + 2
        while sel.get_map() and time.monotonic() < settle:
            _read_ready(sel, bufs, caps, truncated, 0.1)
    sel.close()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        _stop(proc, wrapped=False)
    return Captured(proc.returncode, {k: bytes(v) for k, v in bufs.items()}, stopped, truncated)


def _read_ready(sel: selectors.BaseSelector, bufs: dict[str, bytearray],
                caps: Mapping[str, int], truncated: set[str], timeout: float) -> bool:
    """One select round; keeps at most ``caps`` bytes per stream, True if one overflowed."""
    overflow = False
    for key, _ in sel.select(timeout=timeout):
        try:
            chunk = os.read(key.fd, 65536)
        except BlockingIOError:
            continue
        if not chunk:
            sel.unregister(key.fd)
            continue
        buf = bufs[key.data]
        room = caps[key.data] - len(buf)
        buf += chunk[: max(room, 0)]
        if len(chunk) > room:
            overflow = True
            truncated.add(key.data)
    return overflow


def _signal(proc: subprocess.Popen[bytes], wrapped: bool) -> None:
    """The wrapper turns SIGTERM into SIGKILL for the sandbox plus its own cleanup; without
    it the whole process group is killed."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if wrapped:
            os.kill(proc.pid, signal.SIGTERM)
        else:
            os.killpg(proc.pid, signal.SIGKILL)


def _stop(proc: subprocess.Popen[bytes], wrapped: bool) -> None:
    _signal(proc, wrapped)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
