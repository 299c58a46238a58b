"""``SandboxedCommand``: run any program inside bubblewrap (a coding agent's bash or pytest on
a per-rollout workspace, a long-lived IPython kernel from a kernelspec).

Inside: its own pid/net/ipc/uts namespaces (the network is only ``lo``), a read-only system
(/usr, /bin, /lib*, the /etc essentials), the interpreter prefix (with this venv's
site-packages on ``PYTHONPATH`` when ``site_packages``), other Python prefixes read-only, a
writable size-limited tmpfs /tmp and the given mounts. rlimits come from ``SandboxLimits``;
wall time and output size are enforced by the host. ``argv()`` is the whole command line:
run by any program (jupyter_client), it confines exactly like ``run()``.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from synth.sandbox.backends import (
    SITE_ROOT,
    UID_TOKEN,
    Interpreter,
    checked,
    choose_bwrap,
    confine_argv,
    launcher_argv,
    namespace_args,
    parent_dirs,
    rlimits,
    scratch_args,
    system_binds,
)
from synth.sandbox.decode import exit_limit, launcher_report, wrapper_report
from synth.sandbox.models import Isolation, Limit, SandboxLimits
from synth.sandbox.runner import isolation_required
from synth.sandbox.streams import Channels, capture

log = logging.getLogger("synth.sandbox")
DEFAULT_LIMITS = SandboxLimits()
TMP = "/tmp"
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc",
                "/proc", "/dev", SITE_ROOT)  # fmt: skip
_FORK_CHECK = (
    "import os\ntry:\n    os.fork()\nexcept OSError:\n    raise SystemExit(42)\nraise SystemExit(1)"
)


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _absolute(path: str, what: str) -> str:
    if not isinstance(path, str) or not path.startswith("/"):
        raise ValueError(f"{what} must be an absolute path, got {path!r}")
    return str(PurePosixPath(os.path.normpath(path)))


@dataclass(frozen=True)
class Mount:
    """A host directory or file visible inside at ``dest`` (read-only unless ``writable``)."""

    host: str
    dest: str
    writable: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "host", _absolute(self.host, "Mount.host"))
        object.__setattr__(self, "dest", _absolute(self.dest, "Mount.dest"))


@dataclass(frozen=True)
class CommandResult:
    """Outcome of one command. ``returncode`` is negative for a signal, None when the run
    was stopped (wall time); ``truncated``: stdout or stderr kept only its first
    ``max_output_kb``."""

    returncode: int | None
    stdout: str
    stderr: str
    limit: Limit | None
    duration_s: float
    truncated: bool
    isolation: Isolation


class SandboxedCommand:
    """One program and the sandbox it runs in; ``run``/``spawn``/``argv`` may be called many
    times, each start is a fresh sandbox over the same mounts.

    ``isolation`` is "bwrap", or "none" (rlimits only, logged loudly) where bwrap is missing
    or broken; with $SYNTH_SANDBOX_REQUIRED set that raises ``SandboxUnavailable`` instead.
    ``limits.max_processes`` counts threads too: give bash/pytest room (e.g. 64).
    """

    isolation: Isolation

    def __init__(self, argv: list[str], *, mounts: Sequence[Mount] = (), cwd: str = "/work",
                 env: Mapping[str, str] | None = None, limits: SandboxLimits = DEFAULT_LIMITS,
                 site_packages: bool = True, python_prefixes: Sequence[str] = ()) -> None:
        self._configure(argv, mounts, cwd, env, limits, site_packages, python_prefixes)
        required = isolation_required()
        bwrap = choose_bwrap(None, force=False, required=required, probe=self._probe)
        self._bwrap = bwrap
        self.isolation = "bwrap" if bwrap is not None else "none"

    def _configure(self, argv: list[str], mounts: Sequence[Mount], cwd: str,
                   env: Mapping[str, str] | None, limits: SandboxLimits, site_packages: bool,
                   python_prefixes: Sequence[str]) -> None:
        if not argv or not all(isinstance(a, str) for a in argv):
            raise ValueError(f"argv must be a non-empty list of strings, got {argv!r}")
        if not isinstance(limits, SandboxLimits):
            raise ValueError(f"limits must be SandboxLimits, got {type(limits).__name__}")
        self._interp = Interpreter.current()
        self.command = list(argv)
        if sys.prefix != sys.base_prefix and self.command[0] == sys.executable:
            self.command[0] = self._interp.executable  # this venv = base python + PYTHONPATH
        if not all(isinstance(m, Mount) for m in mounts):
            raise ValueError(f"mounts must be Mount instances, got {list(mounts)!r}")
        self.mounts = tuple(sorted(mounts, key=lambda m: m.dest.count("/")))
        self.python_prefixes = tuple(_absolute(p, "python prefix") for p in python_prefixes)
        self.cwd = _absolute(cwd, "cwd")
        self.limits, self.site_packages = limits, site_packages
        self._check_layout()
        self._user_env = dict(env or {})
        for key, value in self._user_env.items():
            if not isinstance(key, str) or not isinstance(value, str) or "=" in key or not key:
                raise ValueError(f"env entries must be str: str without '=', got {key!r}")
        self._bwrap: str | None = None

    def _check_layout(self) -> None:
        """Every destination is its own: no system path, no nesting (bwrap would create
        mount points inside a host directory), nothing hiding the interpreter."""
        dests = [m.dest for m in self.mounts] + list(self.python_prefixes)
        for host in [m.host for m in self.mounts] + list(self.python_prefixes):
            if not os.path.exists(host):
                raise ValueError(f"{host} does not exist on the host")
        for dest in dests:
            if dest in ("/", TMP) or any(_under(dest, s) for s in SYSTEM_PATHS):
                raise ValueError(f"{dest} is a system path of the sandbox: mount elsewhere")
            if _under(self._interp.prefix, dest) or _under(dest, self._interp.prefix):
                raise ValueError(f"{dest} overlaps the interpreter prefix {self._interp.prefix}")
        for i, a in enumerate(dests):
            for b in dests[i + 1:]:
                if _under(a, b) or _under(b, a):
                    raise ValueError(f"sandbox paths {a} and {b} overlap")

    def _environment(self) -> dict[str, str]:
        bins = [f"{p}/bin" for p in self.python_prefixes]
        bins += [os.path.dirname(self._interp.executable), "/usr/local/bin", "/usr/bin", "/bin"]
        env = {"PATH": ":".join(dict.fromkeys(bins)), "LANG": "C.UTF-8", "TZ": "UTC",
               "HOME": TMP, "TMPDIR": TMP, "USER": "sandbox", "LOGNAME": "sandbox"}  # fmt: skip
        sites = self._interp.exposed_sites(self.site_packages)
        if sites and self._bwrap is not None:
            env["PYTHONPATH"] = ":".join(f"{SITE_ROOT}/{i}" for i in range(len(sites)))
        elif sites:
            env["PYTHONPATH"] = ":".join(sites)
        return {**env, **self._user_env}

    def _probe(self, bwrap: str) -> str | None:
        """A fork under max_processes=1 must fail inside (RLIMIT_NPROC really applies)."""

        def probe() -> str | None:
            check = SandboxedCommand.__new__(SandboxedCommand)
            check._configure([self._interp.executable, "-I", "-S", "-c", _FORK_CHECK], (),
                             TMP, None, SandboxLimits(cpu_s=10, wall_s=20), False, ())
            check._bwrap, check.isolation = bwrap, "bwrap"
            res = check.run()
            if res.returncode == 42:
                return None
            return f"command self-check failed ({res.returncode}): {res.stderr[-1500:]}"

        return checked(("exec", bwrap, self._interp.executable, os.geteuid()), probe)

    # --- command lines -------------------------------------------------------------

    def argv(self) -> list[str]:
        """The full command line (wrapper, bwrap, launcher, the command), e.g. for a
        kernelspec. Killing its process ends every process inside."""
        return self._command_line(None, None)

    def _command_line(self, result_fd: int | None, report_fd: int | None) -> list[str]:
        privileged = os.geteuid() == 0
        config = {"cwd": self.cwd if self._bwrap else self._host_cwd(),
                  "limits": rlimits(self.limits), "env": self._environment()}  # fmt: skip
        uid = UID_TOKEN if privileged and self._bwrap else "-"
        inner = [*launcher_argv(self._interp, "exec", result_fd, uid), json.dumps(config), "--",
                 *self.command]  # fmt: skip
        if self._bwrap is None:
            return inner
        bwrap = [self._bwrap, *namespace_args(self._bwrap, privileged),
                 *self._filesystem(self._bwrap), "--clearenv", "--remount-ro", "/", "--",
                 *inner]  # fmt: skip (the launcher enters cwd once it is the run's uid)
        chown = tuple(m.host for m in self.mounts if m.writable)
        return confine_argv(self._interp, bwrap, self.limits, privileged=privileged,
                            chown=chown, report_fd=report_fd)  # fmt: skip

    def _filesystem(self, bwrap: str) -> list[str]:
        args = system_binds(self._interp, self.site_packages, etc=True, hidden_under=(TMP,))
        args += ["--proc", "/proc", "--dev", "/dev", "--remount-ro", "/dev"]
        args += scratch_args(bwrap, TMP, self.limits, os.geteuid() == 0)
        for mount in self.mounts:
            args += parent_dirs(mount.dest)
            args += ["--bind" if mount.writable else "--ro-bind", mount.host, mount.dest]
        for prefix in self.python_prefixes:
            args += [*parent_dirs(prefix), "--ro-bind", prefix, prefix]
        covered = [m.dest for m in self.mounts] + list(self.python_prefixes) + [TMP]
        if not any(_under(self.cwd, c) for c in covered):
            args += ["--dir", self.cwd]
        return args

    def _host_cwd(self) -> str:
        """Without bwrap the command runs on the host: the mount holding cwd, else a temp dir."""
        for mount in self.mounts:
            if _under(self.cwd, mount.dest):
                return mount.host + self.cwd[len(mount.dest):]
        return tempfile.gettempdir()

    # --- running ---------------------------------------------------------------------

    def run(self, *, input: bytes | None = None, timeout_s: float | None = None) -> CommandResult:
        """Run to completion, the wall clock (``timeout_s``, default ``limits.wall_s``) or a
        limit; stdout/stderr keep their first ``max_output_kb`` each."""
        wall_s = self.limits.wall_s if timeout_s is None else timeout_s
        if not wall_s > 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s!r}")
        cap = self.limits.max_output_kb * 1024
        caps = {"stdout": cap, "stderr": cap, "result": 4096, "report": 65536}
        with Channels("result", "report") as channels, tempfile.TemporaryFile() as stdin:
            stdin.write(input or b"")
            stdin.seek(0)
            argv = self._command_line(channels.write["result"], channels.write["report"])
            captured = capture(argv, channels, caps, wall_s=wall_s, stdin=stdin,
                               env={"PATH": "/usr/bin:/bin"}, drain=True,
                               wrapped=self._bwrap is not None)  # fmt: skip
        report = launcher_report(captured.data["result"].partition(b"\n")[0])
        limit: Limit | None = captured.stopped
        returncode = None if limit else captured.returncode
        if report is not None:
            returncode = report["exit_code"]
            limit = limit or exit_limit(returncode, report["cpu_s"], self.limits)
        if limit is None and returncode != 0 and wrapper_report(captured.data["report"])[
                "oom_kills"]:  # fmt: skip
            limit = "memory"
        return CommandResult(
            returncode=returncode,
            stdout=captured.data["stdout"].decode("utf-8", "replace"),
            stderr=captured.data["stderr"].decode("utf-8", "replace"),
            limit=limit, duration_s=captured.duration_s,
            truncated=bool(captured.truncated & {"stdout", "stderr"}), isolation=self.isolation,
        )  # fmt: skip

    def spawn(self, **popen_kwargs: Any) -> subprocess.Popen[Any]:
        """Start ``argv()`` for a long-lived program (a kernel). ``kill()`` on the result ends
        every process inside; nothing outlives it. Wall time is not enforced here."""
        popen_kwargs.setdefault("start_new_session", True)
        return subprocess.Popen(self.argv(), **popen_kwargs)
