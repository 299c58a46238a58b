"""``Sandbox``: run untrusted Python, get its JSON return value back, never trust stdout.

``run``/``run_function`` block (they wait for a child process); from asyncio use
``arun``/``arun_function``, which hand the wait to a worker thread.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from synth.sandbox.backends import (
    BwrapBackend,
    Interpreter,
    PlainBackend,
    checked,
    choose_bwrap,
    rlimits,
)
from synth.sandbox.decode import interpret
from synth.sandbox.models import (
    SandboxLimits,
    SandboxResult,
    SandboxUnavailable,
)
from synth.sandbox.streams import Channels, capture

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
        def probe(path: str) -> str | None:
            return self._self_check(BwrapBackend(path, interp, site_packages))

        path = choose_bwrap(bwrap, force=backend == "bwrap", required=required, probe=probe)
        if path is None:
            self._backend = PlainBackend(interp, site_packages)
        else:
            self._backend = BwrapBackend(path, interp, site_packages)

    @property
    def isolation(self) -> str:
        """Backend name that every result of this sandbox will carry."""
        return self._backend.name

    def _self_check(self, backend: BwrapBackend) -> str | None:
        def probe() -> str | None:
            limits = SandboxLimits(cpu_s=10, wall_s=20)
            res = self._run_with(backend, _SELF_CHECK, {}, "main.py:main", [41], limits)
            good = res.value == 42 and res.ok
            return None if good else f"self-check failed: {res.error or res.value!r}"

        key = ("call", backend.bwrap, backend.interp.executable, os.geteuid(),
               backend.site_packages)  # fmt: skip
        return checked(key, probe)

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
        kb = 1024
        caps = {"stdout": limits.max_output_kb * kb, "stderr": limits.max_output_kb * kb,
                "result": limits.max_result_kb * kb + 4096, "report": 64 * kb}  # fmt: skip
        with Channels("result", "report") as channels, backend.prepare(
            limits, channels.write["result"], channels.write["report"]
        ) as launch, tempfile.TemporaryFile() as stdin:
            payload = {
                "files": {k: base64.b64encode(v).decode() for k, v in files.items()},
                "call": {"file": file, "function": function, "args": args,
                         "kwargs": kwargs or {}},
                "limits": rlimits(limits),
                "workdir": launch.workdir,
                "site_dirs": launch.site_dirs,
            }  # fmt: skip
            env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "TZ": "UTC",
                   "HOME": launch.workdir, "TMPDIR": launch.workdir}  # fmt: skip
            stdin.write(json.dumps(payload).encode())
            stdin.seek(0)
            captured = capture(
                launch.argv, channels, caps, wall_s=limits.wall_s, stdin=stdin, env=env,
                cwd=launch.workdir if backend.name == "none" else "/",
                wrapped=backend.name == "bwrap",
            )  # fmt: skip
        out = {"limit": captured.stopped, "returncode": captured.returncode,
               "duration_s": captured.duration_s, **captured.data}  # fmt: skip
        return interpret(out, limits, backend.name)


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
