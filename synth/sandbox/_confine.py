"""Trusted host-side wrapper that starts bwrap (stdlib only; run as ``python -I -S -B -c``).

Why a wrapper: a sandbox must be confined the same way whether synth starts it or another
program runs its command line (a Jupyter kernelspec). So everything that needs a host
resource for the lifetime of the run happens here, not in the caller: leasing a private uid
(flock held until the run ends), handing bwrap its seccomp filter, giving writable mounts to
the run's uid. The wrapper forks; the child (killed with the wrapper via PR_SET_PDEATHSIG)
sets up and execs bwrap; the parent waits, cleans up, optionally writes a JSON report to a
private fd and exits with the child's status (128 + signal when it was killed).

Usage: ``python -I -S -B -c <this source> CONFIG_JSON -- bwrap ...``; every argv element
equal to ``@UID@`` becomes the leased uid.
"""

import contextlib
import errno
import fcntl
import json
import os
import random
import signal
import sys
import traceback

UID_TOKEN = "@UID@"
UID_POOL = 4096
PREFERRED_UID = 2_000_000
PR_SET_PDEATHSIG = 1


def _mapped_ranges(path):
    try:
        with open(path) as fh:
            lines = fh.read().split("\n")
    except OSError:
        return [(0, 2**32 - 1)]
    return [(int(f[0]), int(f[0]) + int(f[2])) for f in (ln.split() for ln in lines) if f]


def uid_range():
    """A pool of uids mapped for both uid and gid (containers may map only 65536)."""
    uids = _mapped_ranges("/proc/self/uid_map")
    gids = _mapped_ranges("/proc/self/gid_map")

    def mapped(lo, hi):
        return any(a <= lo and hi <= b for a, b in uids) and any(
            a <= lo and hi <= b for a, b in gids
        )

    if mapped(PREFERRED_UID, PREFERRED_UID + UID_POOL):
        return PREFERRED_UID, PREFERRED_UID + UID_POOL
    for _a, b in sorted(uids, key=lambda r: r[1] - r[0], reverse=True):
        lo = max(b - UID_POOL - 1, 1000)
        if lo < b - 1 and mapped(lo, b - 1):
            return lo, b - 1
    raise RuntimeError("no block of unused uids is mapped in this user namespace")


@contextlib.contextmanager
def lease_uid(lock_dir):
    """A uid no other run on this host holds (flock), so RLIMIT_NPROC is per run."""
    os.makedirs(lock_dir, mode=0o700, exist_ok=True)
    lo, hi = uid_range()
    for _ in range(256):
        uid = random.randrange(lo, hi)
        fd = os.open(os.path.join(lock_dir, f"{uid}.lock"), os.O_CREAT | os.O_RDWR, 0o600)
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
    raise RuntimeError("all sandbox uids are busy")


def chown_tree(root, uid):
    """Give a writable mount to the run's uid without following symlinks or leaving its
    filesystem (fwalk works on directory fds, so a swapped-in symlink cannot redirect it)."""
    top = os.lstat(root)
    os.chown(root, uid, uid, follow_symlinks=False)
    for _dir, dirs, files, dir_fd in os.fwalk(root, follow_symlinks=False):
        keep = []
        for name in dirs + files:
            try:
                st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
                if st.st_dev != top.st_dev:
                    continue
                if st.st_uid != uid or st.st_gid != uid:
                    os.chown(name, uid, uid, dir_fd=dir_fd, follow_symlinks=False)
            except FileNotFoundError:
                continue
            keep.append(name)
        dirs[:] = [d for d in dirs if d in keep]


def _prctl(option, arg):
    import ctypes

    if ctypes.CDLL(None, use_errno=True).prctl(option, arg, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), f"prctl({option})")


def _exec_bwrap(config, argv, parent):
    """Child side: die with the wrapper, prepare host resources, become bwrap."""
    try:
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:
            os._exit(1)
        uid = config.get("uid")
        for path in config.get("chown", ()):
            chown_tree(path, uid)
        if config.get("seccomp"):
            r, w = os.pipe()
            os.write(w, bytes.fromhex(config["seccomp"]))
            os.close(w)
            os.set_inheritable(r, True)
            argv = [argv[0], "--seccomp", str(r), *argv[1:]]
        if config.get("report_fd") is not None:
            os.close(config["report_fd"])
        os.execv(argv[0], argv)
    except BaseException:
        traceback.print_exc()
    os._exit(125)


def _silence_stdio():
    """The parent keeps no copy of stdout/stderr: EOF on them means the sandbox is gone."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)


def _wait(pid):
    """Exit code of the child; signal handlers kill it, waitpid resumes after them."""
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        return -signal.SIGKILL
    return os.waitstatus_to_exitcode(status)


def run(config, argv):
    """Lease, fork, wait, clean up; returns (exit code, report)."""
    stop, child = [], []

    def on_signal(signum, _frame):
        stop.append(signum)
        for pid in child:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, on_signal)
    lease = lease_uid(config["uid_lock_dir"]) if config.get("lease_uid") else None
    with lease if lease is not None else contextlib.nullcontext(None) as uid:
        config = {**config, "uid": uid}
        argv = [str(uid) if a == UID_TOKEN else a for a in argv]
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:
            _exec_bwrap(config, argv, parent)
        child.append(pid)
        _silence_stdio()
        if stop:
            on_signal(stop[0], None)
        code = _wait(pid)
        report = {"uid": uid, "stopped_by": stop[0] if stop else None}
    return code, report


def main():
    config = json.loads(sys.argv[1])
    if sys.argv[2] != "--":
        raise SystemExit("usage: CONFIG_JSON -- bwrap ...")
    try:
        code, report = run(config, sys.argv[3:])
    except BaseException as exc:
        traceback.print_exc()
        code, report = 125, {"error": f"{type(exc).__name__}: {exc}"}
    fd = config.get("report_fd")
    if fd is not None:
        with contextlib.suppress(OSError):
            os.write(fd, json.dumps(report).encode())
    os._exit(code if code >= 0 else 128 - code)


if __name__ == "__main__":
    main()
