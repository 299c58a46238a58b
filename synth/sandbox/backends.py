"""How the launcher is started: inside bubblewrap namespaces, or (weak) as a plain child.

bwrap runs in one of two modes:

* host uid != 0 ("userns"): bwrap makes a user namespace (plus pid, net, ipc, uts,
  cgroup) as the calling user, drops all capabilities and forbids nested user
  namespaces. RLIMIT_NPROC counts per user namespace, so it only sees sandbox tasks.
* host uid == 0 ("privileged"): real root is exempt from RLIMIT_NPROC and home
  dirs such as /root (where pyenv lives) are 0700, so bwrap mounts as root without a
  user namespace, keeps only CAP_SETUID/SETGID/CHOWN/KILL for the trusted launcher, and the
  launcher's child switches to a private, otherwise unused uid leased per run.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import logging
import os
import random
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from synth.sandbox.models import SandboxError, SandboxLimits
from synth.sandbox.seccomp import build_filter

log = logging.getLogger("synth.sandbox")
LAUNCHER_SOURCE = Path(__file__).with_name("_launcher.py").read_text()
SANDBOX_WORKDIR = "/work"
SITE_ROOT = "/site"  # venv site-packages appear here (the host path may lie under /work)
UID_POOL = 4096
_PREFERRED_UID = 2_000_000


@dataclass(frozen=True)
class Interpreter:
    """The Python that runs inside: the base interpreter, never the venv's wrapper."""

    executable: str
    prefix: str
    site_dirs: tuple[str, ...]

    @classmethod
    def current(cls) -> Interpreter:
        prefix = os.path.realpath(sys.base_prefix)
        exe = Path(prefix) / "bin" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
        executable = str(exe) if exe.exists() else os.path.realpath(sys.executable)
        paths = sysconfig.get_paths()
        sites = dict.fromkeys(os.path.realpath(paths[k]) for k in ("purelib", "platlib"))
        return cls(executable, prefix, tuple(p for p in sites if os.path.isdir(p)))


def find_bwrap(explicit: str | None = None) -> str | None:
    """Path of bwrap: explicit argument, $SYNTH_SANDBOX_BWRAP, then $PATH."""
    path = explicit or os.environ.get("SYNTH_SANDBOX_BWRAP") or shutil.which("bwrap")
    return path if path and os.access(path, os.X_OK) else None


@functools.cache
def _bwrap_features(bwrap: str) -> frozenset[str]:
    try:
        out = subprocess.run([bwrap, "--help"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    text = out.stdout + out.stderr
    return frozenset(f for f in ("--disable-userns", "--size") if f in text)


def _ro_binds(interp: Interpreter, site_packages: bool) -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        host = Path("/") / name
        if host.is_symlink():
            args += ["--symlink", os.readlink(host), str(host)]
        elif host.is_dir():
            args += ["--ro-bind", str(host), str(host)]
    path = interp.prefix
    if path == SANDBOX_WORKDIR or path.startswith(SANDBOX_WORKDIR + "/"):
        raise SandboxError(f"python prefix {path} would be hidden by the sandbox's {path}")
    if not (path == "/usr" or path.startswith("/usr/")):
        # bwrap would create missing parents 0700 (root-only): make them 0755 first
        for parent in reversed(Path(path).parents[:-1]):
            args += ["--dir", str(parent)]
        args += ["--ro-bind", path, path]
    if site_packages and interp.site_dirs:
        args += ["--dir", SITE_ROOT]
    for i, site in enumerate(interp.site_dirs if site_packages else ()):
        args += ["--ro-bind", site, f"{SITE_ROOT}/{i}"]
    return args


@dataclass(frozen=True)
class Launch:
    """Everything needed to start one run: argv, fds to pass, in-sandbox paths."""

    argv: list[str]
    workdir: str
    uid: int | None
    site_dirs: list[str]
    fds: tuple[int, ...] = ()


class BwrapBackend:
    """Real isolation: mount/pid/net/ipc/uts namespaces, read-only system, tmpfs /work."""

    name = "bwrap"

    def __init__(self, bwrap: str, interp: Interpreter, site_packages: bool) -> None:
        self.bwrap, self.interp, self.site_packages = bwrap, interp, site_packages
        self.privileged = os.geteuid() == 0
        self.features = _bwrap_features(bwrap)
        if "--size" not in self.features:
            log.warning("bwrap < 0.8 has no --size: max_disk_mb is NOT enforced")
        if build_filter() is None:
            log.warning("no seccomp filter for this CPU: namespace syscalls stay open")

    @contextlib.contextmanager
    def prepare(self, limits: SandboxLimits, result_fd: int) -> Iterator[Launch]:
        uid_cm = lease_uid() if self.privileged else contextlib.nullcontext(None)
        with uid_cm as uid, contextlib.ExitStack() as stack:
            seccomp: list[str] = []
            if (bpf := build_filter()) is not None:
                r, w = os.pipe()
                stack.callback(os.close, r)
                with open(w, "wb") as fh:
                    fh.write(bpf)
                seccomp = ["--seccomp", str(r)]
            argv = self._argv(limits, result_fd, seccomp)
            fds = (int(seccomp[1]),) if seccomp else ()
            yield Launch(argv, SANDBOX_WORKDIR, uid, self._sites(), fds)

    def _sites(self) -> list[str]:
        n = len(self.interp.site_dirs) if self.site_packages else 0
        return [f"{SITE_ROOT}/{i}" for i in range(n)]

    def _argv(self, limits: SandboxLimits, result_fd: int, seccomp: list[str]) -> list[str]:
        if self.privileged:
            ns = ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts"]
            ns += ["--unshare-cgroup-try", "--cap-drop", "ALL"]
            for cap in ("CAP_SETUID", "CAP_SETGID", "CAP_CHOWN", "CAP_KILL"):
                ns += ["--cap-add", cap]
        else:
            ns = ["--unshare-all", "--unshare-user", "--cap-drop", "ALL"]
            if "--disable-userns" in self.features:
                ns.append("--disable-userns")
        tmpfs = ["--tmpfs", SANDBOX_WORKDIR]
        if "--size" in self.features:
            tmpfs = ["--size", str(limits.max_disk_mb * 1024 * 1024), *tmpfs]
        return [
            self.bwrap,
            *ns,
            "--die-with-parent",
            "--new-session",
            *seccomp,
            "--hostname",
            "sandbox",
            *_ro_binds(self.interp, self.site_packages),
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "--remount-ro",
            "/dev",
            *tmpfs,
            "--chdir",
            SANDBOX_WORKDIR,
            "--remount-ro",
            "/",
            "--",
            *launcher_argv(self.interp, result_fd),
        ]


class PlainBackend:
    """Weak fallback: a child process with rlimits in a private temp dir, no namespaces.

    It can read whatever the host user can, reach the network, and RLIMIT_NPROC does
    not apply to root. Only for machines without bwrap, and never silently.
    """

    name = "none"

    def __init__(self, interp: Interpreter, site_packages: bool) -> None:
        self.interp, self.site_packages = interp, site_packages

    @contextlib.contextmanager
    def prepare(self, limits: SandboxLimits, result_fd: int) -> Iterator[Launch]:
        del limits
        with tempfile.TemporaryDirectory(prefix="synth-sandbox-") as tmp:
            sites = list(self.interp.site_dirs) if self.site_packages else []
            yield Launch(launcher_argv(self.interp, result_fd), tmp, None, sites)


def launcher_argv(interp: Interpreter, result_fd: int) -> list[str]:
    """-I: ignore env and user site; -S: no site-packages unless asked; -B: no .pyc."""
    return [interp.executable, "-I", "-S", "-B", "-c", LAUNCHER_SOURCE, str(result_fd)]


def _mapped_ranges(path: str) -> list[tuple[int, int]]:
    try:
        lines = Path(path).read_text().split("\n")
    except OSError:
        return [(0, 2**32 - 1)]
    return [(int(f[0]), int(f[0]) + int(f[2])) for f in (ln.split() for ln in lines) if f]


def _uid_range() -> tuple[int, int]:
    """A pool of uids mapped for both uid and gid (containers may map only 65536)."""
    uids, gids = _mapped_ranges("/proc/self/uid_map"), _mapped_ranges("/proc/self/gid_map")

    def mapped(lo: int, hi: int) -> bool:
        return any(a <= lo and hi <= b for a, b in uids) and any(
            a <= lo and hi <= b for a, b in gids
        )

    if mapped(_PREFERRED_UID, _PREFERRED_UID + UID_POOL):
        return _PREFERRED_UID, _PREFERRED_UID + UID_POOL
    for _a, b in sorted(uids, key=lambda r: r[1] - r[0], reverse=True):
        lo = max(b - UID_POOL - 1, 1000)
        if lo < b - 1 and mapped(lo, b - 1):
            return lo, b - 1
    raise SandboxError("no block of unused uids is mapped in this user namespace")


@contextlib.contextmanager
def lease_uid() -> Iterator[int]:
    """A uid no other run on this host holds (flock), so RLIMIT_NPROC is per run."""
    lock_dir = Path(tempfile.gettempdir()) / "synth-sandbox-uids"
    lock_dir.mkdir(mode=0o700, exist_ok=True)
    lo, hi = _uid_range()
    for _ in range(256):
        uid = random.randrange(lo, hi)
        fd = os.open(lock_dir / f"{uid}.lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                continue
            raise
        try:
            yield uid
        finally:
            os.close(fd)
        return
    raise SandboxError("all sandbox uids are busy")
