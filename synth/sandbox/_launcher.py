"""Trusted launcher that runs *inside* the sandbox (stdlib only, never imported by synth).

Two modes, both forking a child that drops privileges (to UID when not ``-``) and applies
rlimits while this parent (which untrusted code cannot ptrace or open /proc/<pid>/fd of:
other uid or non-dumpable) writes one report to RESULT_FD (``-``: none):

* ``call RESULT_FD UID`` with the JSON payload on stdin: run untrusted Python, its JSON
  return value comes back over a private pipe; stdout is never parsed, so printing cannot
  forge a value.
* ``exec RESULT_FD UID CONFIG_JSON -- ARGV...``: exec a program; this parent exits with its
  status (128 + signal when killed), so the command line also works without a report.
"""

import base64
import contextlib
import json
import os
import resource
import select
import signal
import sys
import traceback

MB = 1024 * 1024


def _prctl(option: int, arg: int) -> None:
    """Best-effort prctl: PR_SET_DUMPABLE=4, PR_SET_NO_NEW_PRIVS=38."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(option, arg, 0, 0, 0)
    except Exception:
        pass


def _count_my_processes() -> int:
    """Tasks of this uid visible here (RLIMIT_NPROC counts them, threads included)."""
    uid, n = str(os.getuid()), 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as fh:
                status = fh.read()
            uid_line = next(ln for ln in status.splitlines() if ln.startswith("Uid:"))
            threads = next(ln for ln in status.splitlines() if ln.startswith("Threads:"))
        except (OSError, StopIteration):
            continue
        if uid_line.split()[1] == uid:
            n += int(threads.split()[1])
    return max(n, 1)


def _apply_limits(lim: dict) -> None:
    def setlim(res: int, value: int) -> None:
        resource.setrlimit(res, (value, value))

    cpu = int(lim["cpu_s"])
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    setlim(resource.RLIMIT_AS, lim["memory_bytes"])
    setlim(resource.RLIMIT_FSIZE, lim["file_bytes"])
    setlim(resource.RLIMIT_NOFILE, lim["open_files"])
    setlim(resource.RLIMIT_CORE, 0)
    # NPROC counts every task of this uid in this user namespace: the launcher and
    # bwrap's init share the uid unless the host is root (then the child has its own).
    setlim(resource.RLIMIT_NPROC, _count_my_processes() - 1 + lim["processes"])


def _materialize(files: dict) -> None:
    for rel, b64 in files.items():
        path = os.path.join(os.getcwd(), rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(base64.b64decode(b64))


def _call(call: dict):
    import importlib.util
    import runpy

    path = os.path.join(os.getcwd(), call["file"])
    if not call.get("function"):
        runpy.run_path(path, run_name="__main__")
        return None
    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {call['file']}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    fn = getattr(module, call["function"])
    return fn(*call.get("args", []), **call.get("kwargs", {}))


def _describe(exc: BaseException) -> dict:
    """Error frame; frees the failing frames' locals first (MemoryError leaves them full)."""
    tb = exc.__traceback__
    traceback.clear_frames(tb)
    while tb is not None and tb.tb_frame.f_code.co_filename == "<string>":  # our frames
        tb = tb.tb_next
    try:
        text = "".join(traceback.format_exception(type(exc), exc, tb))[-8000:]
    except BaseException:
        text = f"{type(exc).__name__}: {exc!r}"[:8000]
    return {
        "ok": False,
        "error": text,
        "exc_type": type(exc).__name__,
        "errno": getattr(exc, "errno", None) if isinstance(exc, OSError) else None,
    }


def _drop_privileges(uid) -> None:
    with contextlib.suppress(OSError), open("/proc/self/oom_score_adj", "w") as fh:
        fh.write("1000")  # out of memory, the kernel kills the untrusted side, not us
    if uid is not None:  # host is root: run as a private uid so RLIMIT_NPROC bites
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    _prctl(38, 1)  # no new privileges (bwrap sets it too; the plain backend does not)
    _prctl(4, 1)  # dumpable again (setuid and our parent cleared it): /proc/self stays ours


def _child(p: dict, w: int) -> None:
    _drop_privileges(p.get("uid"))
    os.chdir(p["workdir"])
    _materialize(p["files"])
    _apply_limits(p["limits"])
    sys.path.insert(0, os.getcwd())
    if p.get("site_dirs"):
        import site

        for d in p["site_dirs"]:
            site.addsitedir(d)
    sys.argv = [p["call"]["file"]]
    me = os.getpid()
    try:
        value = _call(p["call"])
        data = json.dumps({"ok": True, "value": value}).encode()
    except BaseException as exc:  # everything goes back to the host
        if os.getpid() != me:  # a forked descendant unwinding: not the result
            traceback.print_exc()
            os._exit(1)
        data = json.dumps(_describe(exc)).encode()
    if os.getpid() != me:
        os._exit(0)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    _write_all(w, data)
    os._exit(0)


def _supervise(pid: int, r: int, cap: int) -> tuple[dict, bytes]:
    """Collect the child's frame (capped) and its exit status and CPU use."""
    chunks: list[bytes] = []
    size, overflow, eof, status, usage = 0, False, False, None, None
    while True:
        if status is None:
            done, st, ru = os.wait4(pid, os.WNOHANG)
            if done:
                status, usage = st, ru
        if eof:
            break
        ready = select.select([r], [], [], 0.05 if status is None else 0)[0]
        if not ready:
            if status is not None:  # child gone; descendants may still hold the pipe
                break
            continue
        chunk = os.read(r, 65536)
        eof = not chunk
        size += len(chunk)
        if size > cap:
            overflow = True
            os.kill(pid, signal.SIGKILL)
            break
        chunks.append(chunk)
    if status is None:
        _, status, usage = os.wait4(pid, 0)
    report = {**_status(status, usage), "result_overflow": overflow}
    return report, (b"" if overflow else b"".join(chunks))


def _status(status: int, usage) -> dict:
    return {
        "exit_code": os.waitstatus_to_exitcode(status),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
        "maxrss_kb": usage.ru_maxrss,
    }


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _exec_command(result_fd, uid, config: dict, argv: list) -> None:
    """Fork the command, wait for it, report; exit with its status like a shell would."""
    pid = os.fork()
    if pid == 0:
        try:
            if result_fd is not None:
                os.close(result_fd)
            _drop_privileges(uid)
            os.chdir(config["cwd"])
            _apply_limits(config["limits"])
            os.execvpe(argv[0], argv, config["env"])
        except OSError as exc:
            sys.stderr.write(f"sandbox: cannot run {argv[0]!r}: {exc.strerror}\n")
            os._exit(127 if exc.errno == 2 else 126)
        except BaseException:
            traceback.print_exc()
        os._exit(126)
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)  # the command decides; we outlive it
    while True:
        try:
            _, status, usage = os.wait4(pid, 0)
            break
        except InterruptedError:
            continue
    report = _status(status, usage)
    if result_fd is not None:
        _write_all(result_fd, json.dumps(report).encode() + b"\n")
    code = report["exit_code"]
    os._exit(code if code >= 0 else 128 - code)





def _optional_int(text: str):
    return None if text == "-" else int(text)


def main() -> None:
    mode, result_fd, uid = sys.argv[1], _optional_int(sys.argv[2]), _optional_int(sys.argv[3])
    _prctl(4, 0)  # not dumpable: a same-uid child cannot open /proc/<us>/fd or ptrace us
    if mode == "exec":
        if sys.argv[5] != "--":
            raise SystemExit("usage: exec RESULT_FD UID CONFIG_JSON -- ARGV...")
        _exec_command(result_fd, uid, json.loads(sys.argv[4]), sys.argv[6:])
    payload = json.loads(sys.stdin.buffer.read())
    payload["uid"] = uid
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    if uid is not None and os.stat(payload["workdir"]).st_uid != uid:  # /work is the run's
        os.chmod(payload["workdir"], 0o700)  # before chown: root here lacks CAP_FOWNER
        os.chown(payload["workdir"], uid, uid)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            os.close(result_fd)
            _child(payload, w)
        except BaseException:
            traceback.print_exc()
        os._exit(70)
    os.close(w)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # an interrupt is for the code, not us
    report, frame = _supervise(pid, r, payload["limits"]["result_bytes"])
    _write_all(result_fd, json.dumps(report).encode() + b"\n" + frame)


if __name__ == "__main__":
    main()
