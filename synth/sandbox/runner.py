"""``Sandbox``: run untrusted Python, get its JSON return value back, never trust stdout.

``run``/``run_function`` block (they wait for a child process); from asyncio use
``arun``/``arun_function``, which hand the wait to a worker thread.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import errno
import json
import logging
import os
import selectors
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from synth.sandbox.backends import BwrapBackend, Interpreter, PlainBackend, find_bwrap
from synth.sandbox.models import (
    Limit,
    SandboxError,
    SandboxLimits,
    SandboxResult,
    SandboxUnavailable,
)

log = logging.getLogger("synth.sandbox")

Backend = Literal["auto", "bwrap", "none"]
_SELF_CHECK = """
import os
def main(x):
    try:
        pid = os.fork()
    except OSError:
        return x + 1
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return "fork was allowed with max_processes=1 (RLIMIT_NPROC has no effect)"
"""
_checks: dict[tuple[str, str, int, bool], str | None] = {}
_checks_lock = threading.Lock()


def isolation_required() -> bool:
    """$SYNTH_SANDBOX_REQUIRED set to anything but ''/0/false makes isolation mandatory."""
    return os.environ.get("SYNTH_SANDBOX_REQUIRED", "").strip().lower() not in ("", "0", "false")


class Sandbox:
    """Runs code in a fresh sandbox per call. Thread-safe; each run is independent.

    backend: "auto" (bwrap if it passes a self-check, else the weak "none" backend with
    a logged warning), "bwrap" (raise if unusable) or "none" (explicitly weak).
    require_isolation: raise ``SandboxUnavailable`` instead of ever falling back;
    defaults to $SYNTH_SANDBOX_REQUIRED. site_packages: also expose this venv's
    site-packages read-only (off: the code sees only the standard library).
    """

    def __init__(
        self,
        limits: SandboxLimits | None = None,
        *,
        backend: Backend = "auto",
        require_isolation: bool | None = None,
        site_packages: bool = False,
        bwrap: str | None = None,
    ) -> None:
        self.limits = limits or SandboxLimits()
        interp = Interpreter.current()
        required = isolation_required() if require_isolation is None else require_isolation
        if backend == "none" and required:
            raise SandboxUnavailable("backend='none' contradicts require_isolation")
        self._backend: BwrapBackend | PlainBackend
        if backend == "none":
            self._backend = PlainBackend(interp, site_packages)
            log.warning("sandbox backend 'none' chosen: rlimits only, NO isolation")
            return
        path = find_bwrap(bwrap)
        problem = "bwrap not found (apt-get install bubblewrap)" if path is None else None
        if path is not None:
            candidate = BwrapBackend(path, interp, site_packages)
            problem = self._self_check(candidate)
            if problem is None:
                self._backend = candidate
                return
        if backend == "bwrap" or required:
            raise SandboxUnavailable(f"isolated sandbox unavailable: {problem}")
        log.warning(
            "sandbox falling back to backend 'none' (rlimits only, NO filesystem/network/"
            "process isolation): %s",
            problem,
        )
        self._backend = PlainBackend(interp, site_packages)

    @property
    def isolation(self) -> str:
        """Backend name that every result of this sandbox will carry."""
        return self._backend.name

    def _self_check(self, backend: BwrapBackend) -> str | None:
        key = (backend.bwrap, backend.interp.executable, os.geteuid(), backend.site_packages)
        with _checks_lock:
            if key not in _checks:
                limits = SandboxLimits(cpu_s=10, wall_s=20)
                try:
                    res = self._run_with(backend, _SELF_CHECK, {}, "main.py:main", [41], limits)
                    good = res.value == 42 and res.ok
                    why = f"self-check failed: {res.error or res.value!r}"[:2000]
                    _checks[key] = None if good else why
                except (OSError, SandboxError) as exc:
                    _checks[key] = f"self-check failed: {exc}"
            return _checks[key]

    def run(
        self,
        code: str | None = None,
        *,
        workdir: str | os.PathLike[str] | None = None,
        files: Mapping[str, str | bytes] | None = None,
        entry: str = "main.py:main",
        input: Any = None,
        limits: SandboxLimits | None = None,
    ) -> SandboxResult:
        """Run ``entry`` ("file.py:function", or "file.py" as a script) in /work.

        The sandbox's /work starts as a copy of ``workdir`` (host dir, never written
        back), then ``files``, then ``code`` as main.py. The function gets ``input``;
        its JSON-able return value becomes ``result.value``.
        """
        merged = _collect(workdir, files, code)
        return self._run_with(self._backend, None, merged, entry, [input], limits or self.limits)

    def run_function(
        self,
        source: str,
        function: str,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        module: str = "solution",
        workdir: str | os.PathLike[str] | None = None,
        files: Mapping[str, str | bytes] | None = None,
        limits: SandboxLimits | None = None,
    ) -> SandboxResult:
        """Import ``source`` as module ``module`` and return ``function(*args, **kwargs)``."""
        merged = _collect(workdir, files, None)
        merged[f"{module}.py"] = source.encode()
        return self._run_with(
            self._backend, None, merged, f"{module}.py:{function}", list(args),
            limits or self.limits, dict(kwargs or {}),
        )  # fmt: skip

    async def arun(self, code: str | None = None, **kw: Any) -> SandboxResult:
        """``run`` in a worker thread, for asyncio callers."""
        return await asyncio.to_thread(self.run, code, **kw)

    async def arun_function(self, source: str, function: str, *a: Any, **kw: Any) -> SandboxResult:
        """``run_function`` in a worker thread, for asyncio callers."""
        return await asyncio.to_thread(self.run_function, source, function, *a, **kw)

    def _run_with(
        self,
        backend: BwrapBackend | PlainBackend,
        code: str | None,
        files: dict[str, bytes],
        entry: str,
        args: list[Any],
        limits: SandboxLimits,
        kwargs: dict[str, Any] | None = None,
    ) -> SandboxResult:
        if code is not None:
            files = {**files, "main.py": code.encode()}
        file, _, function = entry.partition(":")
        _check_rel(file)
        result_r, result_w = os.pipe()
        try:
            with backend.prepare(limits, result_w) as launch:
                payload = {
                    "files": {k: base64.b64encode(v).decode() for k, v in files.items()},
                    "call": {"file": file, "function": function, "args": args,
                             "kwargs": kwargs or {}},
                    "limits": _rlimits(limits),
                    "uid": launch.uid,
                    "workdir": launch.workdir,
                    "site_dirs": launch.site_dirs,
                }  # fmt: skip
                env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "TZ": "UTC",
                       "HOME": launch.workdir, "TMPDIR": launch.workdir}  # fmt: skip
                with tempfile.TemporaryFile() as stdin:
                    stdin.write(json.dumps(payload).encode())
                    stdin.seek(0)
                    start = time.monotonic()
                    proc = subprocess.Popen(
                        launch.argv, stdin=stdin, stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE, pass_fds=(result_w, *launch.fds), env=env,
                        cwd=launch.workdir if backend.name == "none" else "/",
                        start_new_session=True,
                    )  # fmt: skip
                    os.close(result_w)
                    result_w = -1
                    try:
                        out = _pump(proc, result_r, start + limits.wall_s, limits)
                    finally:
                        if proc.poll() is None:  # only if _pump failed; never a reaped pid
                            with contextlib.suppress(ProcessLookupError, PermissionError):
                                os.killpg(proc.pid, signal.SIGKILL)
                            proc.wait()
                        for pipe in (proc.stdout, proc.stderr):
                            if pipe is not None:
                                pipe.close()
                    out["duration_s"] = round(time.monotonic() - start, 3)
        finally:
            os.close(result_r)
            if result_w >= 0:
                os.close(result_w)
        return _interpret(out, limits, backend.name)


def _check_rel(rel: str) -> None:
    p = PurePosixPath(rel)
    if not rel or p.is_absolute() or ".." in p.parts:
        raise ValueError(f"sandbox paths must be relative without '..': {rel!r}")


def _collect(
    workdir: str | os.PathLike[str] | None,
    files: Mapping[str, str | bytes] | None,
    code: str | None,
) -> dict[str, bytes]:
    """Host-side snapshot of the inputs; symlinks and special files are skipped."""
    merged: dict[str, bytes] = {}
    if workdir is not None:
        root = Path(workdir)
        for path in sorted(root.rglob("*")):
            if path.is_symlink() or not path.is_file():
                continue
            merged[path.relative_to(root).as_posix()] = path.read_bytes()
    for rel, content in (files or {}).items():
        merged[rel] = content.encode() if isinstance(content, str) else content
    if code is not None:
        merged["main.py"] = code.encode()
    for rel in merged:
        _check_rel(rel)
    return merged


def _rlimits(limits: SandboxLimits) -> dict[str, int]:
    mb = 1024 * 1024
    return {
        "cpu_s": max(1, int(-(-limits.cpu_s // 1))),
        "memory_bytes": limits.memory_mb * mb,
        "file_bytes": limits.max_file_mb * mb,
        "open_files": limits.max_open_files,
        "processes": limits.max_processes,
        "result_bytes": limits.max_result_kb * 1024,
    }


def _pump(
    proc: subprocess.Popen[bytes], result_fd: int, deadline: float, limits: SandboxLimits
) -> dict[str, Any]:
    """Read stdout/stderr/result until exit; kill the whole run on wall time or output."""
    assert proc.stdout is not None and proc.stderr is not None
    caps = {"stdout": limits.max_output_kb * 1024, "stderr": limits.max_output_kb * 1024,
            "result": limits.max_result_kb * 1024 + 4096}  # fmt: skip
    bufs = {name: bytearray() for name in caps}
    sel = selectors.DefaultSelector()
    for name, fd in (("stdout", proc.stdout.fileno()), ("stderr", proc.stderr.fileno()),
                     ("result", result_fd)):  # fmt: skip
        os.set_blocking(fd, False)
        sel.register(fd, selectors.EVENT_READ, name)
    limit: Limit | None = None
    while sel.get_map() and limit is None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            limit = "wall_time"
        elif _read_ready(sel, bufs, caps, min(remaining, 0.5)):
            limit = "output"
    if limit is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        # every sandbox process holds stdout/stderr: EOF means the namespace is gone
        settle = time.monotonic() + 2
        while sel.get_map() and time.monotonic() < settle:
            _read_ready(sel, bufs, caps, 0.1)
    sel.close()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    return {"limit": limit, "returncode": proc.returncode,
            **{k: bytes(v) for k, v in bufs.items()}}  # fmt: skip


def _read_ready(
    sel: selectors.BaseSelector, bufs: dict[str, bytearray], caps: dict[str, int], timeout: float
) -> bool:
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
        overflow = overflow or len(chunk) > room
    return overflow


def _classify_error(frame: dict[str, Any]) -> Limit | None:
    kind, err, text = frame.get("exc_type"), frame.get("errno"), frame.get("error") or ""
    if kind == "MemoryError":
        return "memory"
    if err in (errno.EFBIG, errno.ENOSPC, errno.EDQUOT):
        return "file_size"
    if err == errno.EAGAIN or "can't start new thread" in text:
        return "processes"
    return None


def _interpret(out: dict[str, Any], limits: SandboxLimits, isolation: str) -> SandboxResult:
    base = {
        "stdout": out["stdout"].decode("utf-8", "replace"),
        "stderr": out["stderr"].decode("utf-8", "replace"),
        "isolation": isolation,
        "duration_s": out["duration_s"],
        "returncode": out["returncode"],
    }
    if out["limit"] is not None:
        what = {"wall_time": f"wall time limit of {limits.wall_s}s exceeded",
                "output": f"output over {limits.max_output_kb} KiB"}[out["limit"]]  # fmt: skip
        return SandboxResult(ok=False, error=what, limit=out["limit"], **base)
    header, _, frame_bytes = out["result"].partition(b"\n")
    try:
        report = json.loads(header)
    except ValueError:
        tail = base["stderr"][-2000:]
        return SandboxResult(ok=False, error=f"sandbox launcher gave no report: {tail}", **base)
    base["returncode"], base["cpu_s"] = report["exit_code"], report["cpu_s"]
    code = report["exit_code"]
    if report["result_overflow"]:
        msg = f"return value over {limits.max_result_kb} KiB"
        return SandboxResult(ok=False, error=msg, limit="output", **base)
    cpu_cap = _rlimits(limits)["cpu_s"]  # SIGXCPU at the soft limit, SIGKILL one second later
    if code == -signal.SIGXCPU or (code == -signal.SIGKILL and report["cpu_s"] >= cpu_cap):
        msg = f"CPU time limit of {limits.cpu_s}s exceeded"
        return SandboxResult(ok=False, error=msg, limit="cpu_time", **base)
    if code == -signal.SIGXFSZ:
        msg = f"file size limit of {limits.max_file_mb} MiB exceeded"
        return SandboxResult(ok=False, error=msg, limit="file_size", **base)
    try:
        frame = json.loads(frame_bytes or b"null")
    except ValueError:
        frame = None
    if not isinstance(frame, dict) or "ok" not in frame:
        msg = f"code exited without returning (exit code {code})"
        return SandboxResult(ok=False, error=msg, **base)
    if frame["ok"]:
        return SandboxResult(ok=True, value=frame.get("value"), **base)
    error = str(frame.get("error"))
    return SandboxResult(ok=False, error=error, limit=_classify_error(frame), **base)
