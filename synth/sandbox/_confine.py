"""Trusted host-side wrapper that starts bwrap (stdlib only; run as ``python -I -S -B -c``).

Why a wrapper: a sandbox must be confined the same way whether synth starts it or another
program runs its command line (a Jupyter kernelspec). So everything that needs a host
resource for the lifetime of the run happens here, not in the caller: leasing a private uid
(flock held until the run ends), the run's memory cgroup, as root a private IPC namespace
with small shm limits and a scratch tmpfs with an inode limit (in a private mount namespace,
so the host never sees it), handing bwrap its seccomp filter, giving writable mounts to the
run's uid. The wrapper forks; the child (killed with the wrapper via PR_SET_PDEATHSIG) joins
the cgroup, sets up and execs bwrap; the parent waits (passing SIGINT on to the program
inside, turning SIGTERM/SIGHUP into SIGKILL for the sandbox), kills what is left in the cgroup,
removes it (and those of wrappers that were killed), optionally writes a JSON report to a
private fd and exits with the child's status (128 + signal when it was killed).

Usage: ``python -I -S -B -c <this source> CONFIG_JSON -- bwrap ...``; every argv element
equal to ``@UID@`` becomes the leased uid.
"""

import contextlib
import errno
import fcntl
import json
import os
import signal
import sys
import time

UID_TOKEN = "@UID@"
UID_POOL = 4096
PREFERRED_UID = 2_000_000
PR_SET_PDEATHSIG = 1
CLONE_NEWNS, CLONE_NEWIPC = 0x00020000, 0x08000000
MS_NOSUID, MS_NODEV, MS_REC, MS_PRIVATE = 2, 4, 1 << 14, 1 << 18
CGROUP_PREFIX = "synth-sandbox-"


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
        uid = lo + int.from_bytes(os.urandom(4), "little") % (hi - lo)
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


def _libc(name, *args):
    import ctypes

    if getattr(ctypes.CDLL(None, use_errno=True), name)(*args) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{name}: {os.strerror(err)}")


def _write(path, text):
    with open(path, "w") as fh:
        fh.write(text)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def sweep_cgroups(parent):
    """Remove run cgroups whose wrapper died (SIGKILL leaves no chance to clean up)."""
    with contextlib.suppress(OSError):
        for name in os.listdir(parent):
            owner = name[len(CGROUP_PREFIX):].split("-")[0]
            if name.startswith(CGROUP_PREFIX) and owner.isdigit() and not _alive(int(owner)):
                with contextlib.suppress(OSError):
                    os.rmdir(os.path.join(parent, name))


def make_cgroup(spec):
    sweep_cgroups(spec["parent"])
    path = os.path.join(spec["parent"], f"{CGROUP_PREFIX}{os.getpid()}-{os.urandom(6).hex()}")
    os.mkdir(path, 0o755)
    try:
        for name, value, required in spec["settings"]:
            try:
                _write(os.path.join(path, name), value)
            except OSError:
                if required:
                    raise
    except BaseException:
        os.rmdir(path)
        raise
    return path


def _cgroup_pids(path):
    with contextlib.suppress(OSError), open(os.path.join(path, "cgroup.procs")) as fh:
        return [int(line) for line in fh.read().split()]
    return []


def _counter(path, name, key=None):
    try:
        with open(os.path.join(path, name)) as fh:
            text = fh.read()
    except (OSError, TypeError):
        return None
    if key is None:
        return int(text.split()[0]) if text.split() else None
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == key:
            return int(parts[1])
    return None


def close_cgroup(path, spec):
    """How the run went (OOM kills, peak bytes), then kill what is left and remove it."""
    outcome = {"oom_kills": _counter(path, spec["events"], "oom_kill") or 0,
               "peak_bytes": _counter(path, spec.get("peak"))}
    for _ in range(200):
        if spec.get("kill"):
            with contextlib.suppress(OSError):
                _write(os.path.join(path, spec["kill"]), "1")
        for pid in _cgroup_pids(path):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        try:
            os.rmdir(path)
            break
        except OSError:
            time.sleep(0.01)
    return outcome


def _private_namespaces(config, uid):
    """As root: a private mount namespace holding the scratch tmpfs (size and inode limits)
    and a fresh IPC namespace with small shm/msg/sem limits; bwrap inherits both."""
    scratch, ipc = config.get("scratch"), config.get("ipc")
    flags = (CLONE_NEWNS if scratch else 0) | (CLONE_NEWIPC if ipc else 0)
    if flags:
        _libc("unshare", flags)
    if scratch:
        _libc("mount", None, b"/", None, MS_REC | MS_PRIVATE, None)
        os.makedirs(scratch["mountpoint"], mode=0o700, exist_ok=True)
        options = scratch["options"] + ("" if uid is None else f",uid={uid},gid={uid}")
        _libc("mount", b"tmpfs", scratch["mountpoint"].encode(), b"tmpfs",
              MS_NOSUID | MS_NODEV, options.encode())
    for name, value in (ipc or {}).items():
        _write(f"/proc/sys/{name}", value)


def _exec_bwrap(config, argv, parent, cgroups):
    """Child side: die with the wrapper, join the cgroups, prepare namespaces and host
    resources, become bwrap."""
    try:
        _libc("prctl", PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        if os.getppid() != parent:
            os._exit(1)
        os.setpgid(0, 0)  # a signal to the caller's process group reaches only the wrapper
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        for path in cgroups:
            _write(os.path.join(path, "cgroup.procs"), "0")
        with contextlib.suppress(OSError):  # bwrap and the launcher outlive an OOM kill
            _write("/proc/self/oom_score_adj", "-1000")
        uid = config.get("uid")
        _private_namespaces(config, uid)
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
        import traceback

        traceback.print_exc()
    os._exit(125)


def interrupt(root):
    """SIGINT for the program inside (a kernel's interrupt), not for bwrap: it would die and
    take the sandbox along. Finds the descendants of ``root`` through /proc."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                with open(f"/proc/{entry}/stat") as fh:
                    head, _, tail = fh.read().rpartition(")")
                children.setdefault(int(tail.split()[1]), []).append(
                    (int(entry), head.partition("(")[2]))
    todo = [root]
    while todo:
        for pid, name in children.get(todo.pop(), ()):
            todo.append(pid)
            if name != "bwrap":
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGINT)


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

    def on_interrupt(signum, _frame):
        for pid in child:
            interrupt(pid)

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, on_signal)
    signal.signal(signal.SIGINT, on_interrupt)
    lease = lease_uid(config["uid_lock_dir"]) if config.get("lease_uid") else None
    with lease if lease is not None else contextlib.nullcontext(None) as uid:
        config = {**config, "uid": uid}
        argv = [str(uid) if a == UID_TOKEN else a for a in argv]
        cgroups, outcomes = [], []
        try:
            for spec in config.get("cgroups", ()):
                cgroups.append((make_cgroup(spec), spec))
            parent = os.getpid()
            pid = os.fork()
            if pid == 0:
                _exec_bwrap(config, argv, parent, [path for path, _ in cgroups])
            child.append(pid)
            _silence_stdio()
            if stop:
                on_signal(stop[0], None)
            code = _wait(pid)
        finally:
            outcomes = [close_cgroup(path, spec) for path, spec in cgroups]
    report = {"uid": uid, "stopped_by": stop[0] if stop else None,
              "oom_kills": sum(o["oom_kills"] for o in outcomes),
              "peak_bytes": max((o["peak_bytes"] or 0 for o in outcomes), default=None)}
    return code, report


def main():
    config = json.loads(sys.argv[1])
    if sys.argv[2] != "--":
        raise SystemExit("usage: CONFIG_JSON -- bwrap ...")
    try:
        code, report = run(config, sys.argv[3:])
    except BaseException as exc:
        import traceback

        traceback.print_exc()
        code, report = 125, {"error": f"{type(exc).__name__}: {exc}"}
    fd = config.get("report_fd")
    if fd is not None:
        with contextlib.suppress(OSError):
            os.write(fd, json.dumps(report).encode())
    os._exit(code if code >= 0 else 128 - code)


if __name__ == "__main__":
    main()
