"""How the launcher is started: inside bubblewrap namespaces, or (weak) as a plain child.

bwrap runs in one of two modes:

* host uid != 0 ("userns"): bwrap makes a user namespace (plus pid, net, ipc, uts,
  cgroup) as the calling user, drops all capabilities and forbids nested user
  namespaces. RLIMIT_NPROC counts per user namespace, so it only sees sandbox tasks.
* host uid == 0 ("privileged"): real root is exempt from RLIMIT_NPROC and home
  dirs such as /root (where pyenv lives) are 0700, so bwrap mounts as root without a
  user namespace, keeps only CAP_SETUID/SETGID/CHOWN/KILL for the trusted launcher, and the
  launcher's child switches to a private, otherwise unused uid leased per run.

Either way bwrap is started by the trusted wrapper ``_confine.py`` (uid lease, seccomp
filter, writable mounts), so a command line built here confines the same way whoever runs it.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import shutil
import site
import subprocess
import sys
import sysconfig
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synth.sandbox.bounds import SCRATCH_MOUNTPOINT, check_bounds, confine_bounds
from synth.sandbox.decode import cpu_rlimit
from synth.sandbox.models import SandboxError, SandboxLimits, SandboxUnavailable
from synth.sandbox.seccomp import build_filter

log = logging.getLogger("synth.sandbox")
LAUNCHER_SOURCE = Path(__file__).with_name("_launcher.py").read_text()
CONFINE_SOURCE = Path(__file__).with_name("_confine.py").read_text()
UID_TOKEN = "@UID@"  # replaced by the wrapper with the uid it leased
SANDBOX_WORKDIR = "/work"
SITE_ROOT = "/site"  # venv site-packages appear here (the host path may lie under /work)
ETC_ESSENTIALS = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "nsswitch.conf",
                  "hosts")  # fmt: skip
_checks: dict[tuple[Any, ...], str | None] = {}
_checks_lock = threading.Lock()


@dataclass(frozen=True)
class Interpreter:
    """The Python that runs inside: the base interpreter, never the venv's wrapper."""

    executable: str
    prefix: str
    site_dirs: tuple[str, ...]
    base_site_dirs: tuple[str, ...] = ()  # the interpreter's own, hidden unless exposed

    @classmethod
    def current(cls) -> Interpreter:
        prefix = os.path.realpath(sys.base_prefix)
        exe = Path(prefix) / "bin" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
        executable = str(exe) if exe.exists() else os.path.realpath(sys.executable)
        paths = sysconfig.get_paths()
        sites = dict.fromkeys(os.path.realpath(paths[k]) for k in ("purelib", "platlib"))
        base = site.getsitepackages([sys.base_prefix, sys.base_exec_prefix])
        base_sites = dict.fromkeys(os.path.realpath(p) for p in base)
        return cls(executable, prefix, tuple(p for p in sites if os.path.isdir(p)),
                   tuple(p for p in base_sites if os.path.isdir(p)))

    def exposed_sites(self, site_packages: bool) -> tuple[str, ...]:
        return self.site_dirs if site_packages else ()


def find_bwrap(explicit: str | None = None) -> str | None:
    """Path of bwrap: explicit argument, $SYNTH_SANDBOX_BWRAP, then $PATH."""
    path = explicit or os.environ.get("SYNTH_SANDBOX_BWRAP") or shutil.which("bwrap")
    return path if path and os.access(path, os.X_OK) else None


@functools.cache
def bwrap_features(bwrap: str) -> frozenset[str]:
    try:
        out = subprocess.run([bwrap, "--help"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    text = out.stdout + out.stderr
    return frozenset(f for f in ("--disable-userns", "--size") if f in text)


def system_binds(interp: Interpreter, site_packages: bool, *, etc: bool = False,
                 hidden_under: tuple[str, ...] = (SANDBOX_WORKDIR,)) -> list[str]:
    """Read-only /usr, /bin, /lib*, (with ``etc``) the /etc essentials, and the interpreter
    prefix with every site-packages directory not exposed covered by an empty read-only dir."""
    args = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        host = Path("/") / name
        if host.is_symlink():
            args += ["--symlink", os.readlink(host), str(host)]
        elif host.is_dir():
            args += ["--ro-bind", str(host), str(host)]
    for name in ETC_ESSENTIALS if etc else ():
        if os.path.exists(f"/etc/{name}"):
            args += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    path = interp.prefix
    if any(path == h or path.startswith(h.rstrip("/") + "/") for h in hidden_under):
        raise SandboxError(f"python prefix {path} would be hidden by the sandbox's {path}")
    if not (path == "/usr" or path.startswith("/usr/")):
        args += [*parent_dirs(path), "--ro-bind", path, path]
    exposed = interp.exposed_sites(site_packages)
    for hidden in interp.base_site_dirs:
        if hidden not in exposed and (_under(hidden, path) or _under(hidden, "/usr")):
            args += ["--tmpfs", hidden, "--remount-ro", hidden]
    if exposed:
        args += ["--dir", SITE_ROOT]
    for i, site_dir in enumerate(exposed):
        args += ["--ro-bind", site_dir, f"{SITE_ROOT}/{i}"]
    return args


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def parent_dirs(path: str) -> list[str]:
    """bwrap would create missing parents 0700 (root-only): make them 0755 first."""
    args: list[str] = []
    for parent in reversed(Path(path).parents[:-1]):
        args += ["--dir", str(parent)]
    return args


def namespace_args(bwrap: str, privileged: bool) -> list[str]:
    """New pid/net/ipc/uts (and, unprivileged, user) namespaces; no capabilities left but
    those the launcher needs to switch to the leased uid."""
    if privileged:  # the wrapper already made the IPC namespace (with limits)
        ns = ["--unshare-pid", "--unshare-net", "--unshare-uts"]
        ns += ["--unshare-cgroup-try", "--cap-drop", "ALL"]
        for cap in ("CAP_SETUID", "CAP_SETGID", "CAP_CHOWN", "CAP_KILL"):
            ns += ["--cap-add", cap]
    else:
        ns = ["--unshare-all", "--unshare-user", "--cap-drop", "ALL"]
        if "--disable-userns" in bwrap_features(bwrap):
            ns.append("--disable-userns")
    return [*ns, "--die-with-parent", "--new-session", "--hostname", "sandbox"]


def scratch_args(bwrap: str, dest: str, limits: SandboxLimits, privileged: bool) -> list[str]:
    """The writable tmpfs at ``dest``: as root the wrapper's (size and inode limits), else
    bwrap's own (size only)."""
    if privileged:
        return ["--bind", SCRATCH_MOUNTPOINT, dest]
    if "--size" in bwrap_features(bwrap):
        return ["--size", str(limits.max_disk_mb * 1024 * 1024), "--tmpfs", dest]
    return ["--tmpfs", dest]


def confine_argv(interp: Interpreter, bwrap_argv: list[str], limits: SandboxLimits, *,
                 privileged: bool, chown: tuple[str, ...] = (),
                 report_fd: int | None = None) -> list[str]:
    """The wrapper's command line around ``bwrap_argv``: uid lease, memory bounds, seccomp,
    chown."""
    bpf = build_filter()
    config = {
        **confine_bounds(limits, privileged),
        "lease_uid": privileged,
        "uid_lock_dir": str(Path(tempfile.gettempdir()) / "synth-sandbox-uids"),
        "seccomp": bpf.hex() if bpf is not None else None,
        "chown": list(chown) if privileged else [],
        "report_fd": report_fd,
    }
    return [interp.executable, "-I", "-S", "-B", "-c", CONFINE_SOURCE, json.dumps(config), "--",
            *bwrap_argv]  # fmt: skip


def checked(key: tuple[Any, ...], probe: Callable[[], str | None]) -> str | None:
    """``probe()`` (None: works, else why not) once per process and key."""
    with _checks_lock:
        if key not in _checks:
            try:
                _checks[key] = probe()
            except (OSError, SandboxError) as exc:
                _checks[key] = f"self-check failed: {exc}"
            if _checks[key] is not None:
                _checks[key] = _checks[key][:2000]
        return _checks[key]


def choose_bwrap(explicit: str | None, *, force: bool, required: bool,
                 probe: Callable[[str], str | None]) -> str | None:
    """bwrap's path if it passes ``probe``; else raise (``force``/``required``) or warn
    loudly and return None (the weak backend)."""
    path = find_bwrap(explicit)
    problem = "bwrap not found (apt-get install bubblewrap)" if path is None else probe(path)
    if problem is None:
        check_bounds(os.geteuid() == 0, required)
        return path
    if force or required:
        raise SandboxUnavailable(f"isolated sandbox unavailable: {problem}")
    log.warning(
        "sandbox falling back to backend 'none' (rlimits only, NO filesystem/network/"
        "process isolation): %s",
        problem,
    )
    return None


@dataclass(frozen=True)
class Launch:
    """Everything needed to start one run: argv, fds to pass, in-sandbox paths."""

    argv: list[str]
    workdir: str
    site_dirs: list[str]
    fds: tuple[int, ...] = ()


class BwrapBackend:
    """Real isolation: mount/pid/net/ipc/uts namespaces, read-only system, tmpfs /work."""

    name = "bwrap"

    def __init__(self, bwrap: str, interp: Interpreter, site_packages: bool) -> None:
        self.bwrap, self.interp, self.site_packages = bwrap, interp, site_packages
        self.privileged = os.geteuid() == 0
        self.features = bwrap_features(bwrap)
        if "--size" not in self.features:
            log.warning("bwrap < 0.8 has no --size: max_disk_mb is NOT enforced")
        if build_filter() is None:
            log.warning("no seccomp filter for this CPU: namespace syscalls stay open")

    @contextlib.contextmanager
    def prepare(self, limits: SandboxLimits, result_fd: int,
                report_fd: int | None = None) -> Iterator[Launch]:
        argv = self._argv(limits, result_fd, report_fd)
        yield Launch(argv, SANDBOX_WORKDIR, self._sites())

    def _sites(self) -> list[str]:
        n = len(self.interp.exposed_sites(self.site_packages))
        return [f"{SITE_ROOT}/{i}" for i in range(n)]

    def _argv(self, limits: SandboxLimits, result_fd: int, report_fd: int | None) -> list[str]:
        uid = UID_TOKEN if self.privileged else "-"
        bwrap = [
            self.bwrap,
            *namespace_args(self.bwrap, self.privileged),
            *system_binds(self.interp, self.site_packages),
            "--proc", "/proc", "--dev", "/dev", "--remount-ro", "/dev",
            *scratch_args(self.bwrap, SANDBOX_WORKDIR, limits, self.privileged),
            "--remount-ro", "/",
            "--",
            *launcher_argv(self.interp, "call", result_fd, uid),
        ]  # fmt: skip
        return confine_argv(self.interp, bwrap, limits, privileged=self.privileged,
                            report_fd=report_fd)


class PlainBackend:
    """Weak fallback: a child process with rlimits in a private temp dir, no namespaces.

    It can read whatever the host user can, reach the network, and RLIMIT_NPROC does
    not apply to root. Only for machines without bwrap, and never silently.
    """

    name = "none"

    def __init__(self, interp: Interpreter, site_packages: bool) -> None:
        self.interp, self.site_packages = interp, site_packages

    @contextlib.contextmanager
    def prepare(self, limits: SandboxLimits, result_fd: int,
                report_fd: int | None = None) -> Iterator[Launch]:
        del limits, report_fd
        with tempfile.TemporaryDirectory(prefix="synth-sandbox-") as tmp:
            sites = list(self.interp.exposed_sites(self.site_packages))
            yield Launch(launcher_argv(self.interp, "call", result_fd, "-"), tmp, sites)


def rlimits(limits: SandboxLimits) -> dict[str, int]:
    """The launcher's view of the limits (kernel rlimits, in bytes and whole seconds)."""
    mb = 1024 * 1024
    return {
        "cpu_s": cpu_rlimit(limits),
        "memory_bytes": limits.memory_mb * mb,
        "file_bytes": limits.max_file_mb * mb,
        "open_files": limits.max_open_files,
        "processes": limits.max_processes,
        "result_bytes": limits.max_result_kb * 1024,
    }


def launcher_argv(interp: Interpreter, mode: str, result_fd: int | None, uid: str) -> list[str]:
    """-I: ignore env and user site; -S: no site-packages unless asked; -B: no .pyc."""
    fd = "-" if result_fd is None else str(result_fd)
    return [interp.executable, "-I", "-S", "-B", "-c", LAUNCHER_SOURCE, mode, fd, uid]
