"""Escape suite for synth.sandbox: every test tries to break out and asserts the outcome.

Needs bubblewrap. Without it the isolated tests skip, unless SYNTH_SANDBOX_REQUIRED is
set (CI), where a missing or broken bwrap fails the suite instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest
from conftest import isolated_sandbox

from synth.sandbox import (
    Sandbox,
    SandboxLimits,
    SandboxResult,
    SandboxUnavailable,
    isolation_required,
)
from synth.sandbox.backends import Interpreter

LIMITS = SandboxLimits(
    cpu_s=1, wall_s=5, memory_mb=256, max_processes=1, max_file_mb=1, max_disk_mb=4,
    max_output_kb=8, max_result_kb=64,
)  # fmt: skip
PROJECT = Path(__file__).resolve().parent.parent
WRAPPER_MARK = "Trusted host-side wrapper that starts bwrap"  # in every sandbox's command line


@pytest.fixture(scope="module")
def sb() -> Sandbox:
    return isolated_sandbox(LIMITS)


def run_watched(sb: Sandbox, code: str,
                limits: SandboxLimits) -> tuple[SandboxResult, list[psutil.Process]]:
    """Run while recording every process this run starts (the wrapper this test process
    started and all below it; other sandboxes and Ray workers are not ours), for a check
    that none outlives the run."""
    seen: dict[int, psutil.Process] = {}
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(sb.run, code, limits=limits)
        while not future.done():
            for wrapper in psutil.Process().children():
                with contextlib.suppress(psutil.Error):
                    if WRAPPER_MARK in " ".join(wrapper.cmdline()):
                        for proc in [wrapper, *wrapper.children(recursive=True)]:
                            seen.setdefault(proc.pid, proc)
            time.sleep(0.02)
    return future.result(), list(seen.values())


def still_running(procs: list[psutil.Process]) -> list[psutil.Process]:
    alive = []
    for proc in procs:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                alive.append(proc)
        except psutil.NoSuchProcess:
            pass
    return alive


# --- normal behaviour ---------------------------------------------------------------


def test_returns_value(sb: Sandbox) -> None:
    res = sb.run("def main(x):\n    print('hello')\n    return {'sum': sum(x)}", input=[1, 2, 3])
    assert res.ok and res.value == {"sum": 6} and res.limit is None
    assert res.stdout == "hello\n" and res.isolation == "bwrap" and res.returncode == 0


def test_run_function_with_args_and_kwargs(sb: Sandbox) -> None:
    src = "import math\ndef hyp(a, b, scale=1):\n    return math.hypot(a, b) * scale\n"
    res = sb.run_function(src, "hyp", [3, 4], {"scale": 2})
    assert res.ok and res.value == 10.0


def test_workdir_is_copied_in_and_never_written_back(sb: Sandbox, tmp_path: Path) -> None:
    (tmp_path / "data.json").write_text('{"n": 5}')
    (tmp_path / "helpers.py").write_text("def double(v):\n    return 2 * v\n")
    code = (
        "import json, helpers\n"
        "def main(_):\n"
        "    open('new.txt', 'w').write('x')\n"
        "    n = json.load(open('data.json'))['n']\n"
        "    open('data.json', 'w').write('{}')\n"
        "    return helpers.double(n)\n"
    )
    res = sb.run(code, workdir=tmp_path)
    assert res.ok and res.value == 10, res.error
    assert not (tmp_path / "new.txt").exists() and not (tmp_path / "main.py").exists()
    assert (tmp_path / "data.json").read_text() == '{"n": 5}'


def test_exception_comes_back_as_error(sb: Sandbox) -> None:
    res = sb.run("def main(x):\n    raise ValueError('boom ' + str(x))", input=7)
    assert not res.ok and res.value is None and res.limit is None
    assert "ValueError: boom 7" in (res.error or "") and "/work/main.py" in (res.error or "")


def test_non_json_return_value_is_an_error(sb: Sandbox) -> None:
    res = sb.run("def main(x):\n    return object()")
    assert not res.ok and "not JSON serializable" in (res.error or "")


def test_exit_without_return(sb: Sandbox) -> None:
    res = sb.run("import os\ndef main(x):\n    os._exit(3)")
    assert not res.ok and res.value is None and "without returning" in (res.error or "")


def test_stdout_spoofing_does_not_forge_value(sb: Sandbox) -> None:
    fake_report = '{"exit_code": 0, "cpu_s": 0, "maxrss_kb": 0, "result_overflow": false}'
    fake = f'{fake_report}\\n{{"ok": true, "value": "forged"}}'
    code = f"""
import os, sys
FAKE = {fake!r}.encode()
def main(x):
    print(FAKE.decode()); sys.stderr.write(FAKE.decode())
    for fd in range(3, 64):          # our own fds: the launcher's result fd is not among them
        try:
            os.write(fd, b"")
        except OSError:
            pass
    ppid = os.getppid()              # the launcher's fds: other uid or non-dumpable
    opened = []
    for fd in range(64):
        try:
            w = os.open(f"/proc/{{ppid}}/fd/{{fd}}", os.O_WRONLY)
            os.write(w, FAKE)
            opened.append(fd)
        except OSError:
            pass
    return {{"opened": opened}}
"""
    res = sb.run(code)
    assert res.ok and res.value == {"opened": []}
    assert "forged" in res.stdout

    res = sb.run("import sys\ndef main(x):\n    print(" + repr(fake) + ")\n    sys.exit(2)")
    assert not res.ok and res.value is None and "SystemExit: 2" in (res.error or "")


def test_output_is_truncated_and_stops_the_run(sb: Sandbox) -> None:
    res = sb.run("def main(x):\n    print('x' * 100_000)\n    return 1")
    assert res.limit == "output" and not res.ok and res.value is None
    assert len(res.stdout) == LIMITS.max_output_kb * 1024


def test_return_value_size_is_limited(sb: Sandbox) -> None:
    res = sb.run("def main(x):\n    return 'y' * 200_000")
    assert res.limit == "output" and not res.ok and res.value is None


def test_async_variant(sb: Sandbox) -> None:
    async def both() -> list[int]:
        rs = await asyncio.gather(
            sb.arun("def main(x):\n    return x * 2", input=21),
            sb.arun_function("def f(a):\n    return -a", "f", [5]),
        )
        return [r.value for r in rs]

    assert asyncio.run(both()) == [42, -5]


# --- escapes ----------------------------------------------------------------------


def test_cannot_write_outside_workdir(sb: Sandbox, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex
    targets = [f"/tmp/escape_{tag}", str(PROJECT / f"escape_{tag}"), str(tmp_path / "x"),
               f"/root/escape_{tag}", f"/usr/escape_{tag}", f"/escape_{tag}",
               f"/dev/shm/escape_{tag}", f"/proc/escape_{tag}"]  # fmt: skip
    code = """
import os
def main(targets):
    written = []
    for t in targets:
        try:
            os.makedirs(os.path.dirname(t), exist_ok=True)
            with open(t, "w") as fh:
                fh.write("pwned")
            written.append(t)
        except OSError:
            pass
    return written
"""
    res = sb.run(code, input=targets)
    assert res.ok, res.error
    assert all(t.startswith("/work/") for t in res.value)  # only the sandbox's own tmpfs
    for t in targets:
        assert not os.path.exists(t), t
    # /work inside is the sandbox's own tmpfs; the host's /work tree is untouched
    res = sb.run(f"def main(_):\n    open('/work/escape_{tag}', 'w').write('x')\n    return 1")
    assert res.ok and not Path(f"/work/escape_{tag}").exists()


def test_cannot_read_host_files(sb: Sandbox, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    paths = [str(secret), "/etc/shadow", "/etc/passwd", str(PROJECT / "pyproject.toml"),
             "/proc/1/root/etc/shadow", f"/proc/1/root{secret}"]  # fmt: skip
    code = """
import os
def main(paths):
    got = {}
    for p in paths:
        try:
            with open(p, "rb") as fh:
                got[p] = fh.read(100).decode("latin-1")
        except OSError as exc:
            pass
    pids = [p for p in os.listdir("/proc") if p.isdigit()]
    return {"read": got, "root": sorted(os.listdir("/")), "pids": len(pids)}
"""
    res = sb.run(code, input=paths)
    assert res.ok, res.error
    assert res.value["read"] == {}
    assert not {"etc", "home", "tmp", "var"} & set(res.value["root"])
    assert res.value["pids"] <= 3  # own pid namespace: bwrap init, launcher, the code


def test_host_environment_is_not_visible(sb: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNTH_TEST_SECRET", "hunter2")
    res = sb.run("import os\ndef main(_):\n    return dict(os.environ)")
    assert res.ok and "SYNTH_TEST_SECRET" not in res.value
    assert "hunter2" not in str(res.value)


def test_no_network(sb: Sandbox) -> None:
    """Loopback only: a host listener stays unreachable, only `lo` exists, no resolver."""
    server = socket.create_server(("127.0.0.1", 0))
    server.setblocking(False)  # a completed handshake would sit in the backlog
    port = server.getsockname()[1]
    code = """
import os, socket
def main(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2)
        reached = "connected"
    except OSError as exc:
        reached = type(exc).__name__
    with open("/proc/net/dev") as fh:
        devices = [line.split(":")[0].strip() for line in fh.read().splitlines()[2:]]
    return {"reached": reached, "interfaces": [n for _, n in socket.if_nameindex()],
            "devices": devices, "resolver": os.path.exists("/etc/resolv.conf")}
"""
    try:
        res = sb.run(code, input=port)
        with pytest.raises(BlockingIOError):
            server.accept()
    finally:
        server.close()
    assert res.ok, res.error
    assert res.value == {"reached": "ConnectionRefusedError", "interfaces": ["lo"],
                         "devices": ["lo"], "resolver": False}  # fmt: skip


def test_no_subprocesses(sb: Sandbox) -> None:
    code = """
import os, subprocess, threading
def main(_):
    out = {}
    try:
        out["subprocess"] = subprocess.run(["/bin/true"]).returncode
    except OSError as exc:
        out["subprocess"] = type(exc).__name__
    out["system"] = os.system("true")
    try:
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        out["fork"] = "forked"
    except OSError as exc:
        out["fork"] = type(exc).__name__
    try:
        threading.Thread(target=lambda: None).start()
        out["thread"] = "started"
    except RuntimeError as exc:
        out["thread"] = "RuntimeError"
    return out
"""
    res = sb.run(code)
    assert res.ok, res.error
    system = res.value.pop("system")
    assert system in (-1, 127 << 8)  # glibc: spawn failed -> "shell could not be run"
    assert res.value == {"subprocess": "BlockingIOError", "fork": "BlockingIOError",
                         "thread": "RuntimeError"}  # fmt: skip
    res = sb.run("import os\ndef main(_):\n    os.fork()\n    return 'forked'")
    assert not res.ok and res.limit == "processes"


def test_cannot_create_namespaces_or_mount(sb: Sandbox) -> None:
    code = """
import ctypes
def main(_):
    libc = ctypes.CDLL(None, use_errno=True)
    return {
        "unshare": libc.unshare(0x10000000 | 0x00020000),   # CLONE_NEWUSER | CLONE_NEWNS
        "mount": libc.mount(b"none", b"/work", b"tmpfs", 0, None),
    }
"""
    res = sb.run(code)
    assert res.ok and res.value == {"unshare": -1, "mount": -1}


def test_fork_bomb_is_stopped(sb: Sandbox) -> None:
    limits = LIMITS.model_copy(update={"max_processes": 8, "wall_s": 1.5, "cpu_s": 30})
    res = sb.run("import os\ndef main(_):\n    while True:\n        os.fork()", limits=limits)
    assert not res.ok and res.limit == "processes"
    catching = "import os\ndef main(_):\n    while True:\n        try:\n            os.fork()\n" \
               "        except OSError:\n            pass"  # fmt: skip
    start = time.monotonic()
    res, procs = run_watched(sb, catching, limits)
    assert res.limit == "wall_time" and time.monotonic() - start < 60  # ends, not hangs
    assert len(procs) > 3 and still_running(procs) == []  # nothing left behind on the host


def test_memory_limit(sb: Sandbox) -> None:
    small = LIMITS.model_copy(update={"memory_mb": 64})
    res = sb.run("def main(_):\n    return len(bytearray(512 * 1024 * 1024))", limits=small)
    assert not res.ok and res.limit == "memory"
    grow = "def main(_):\n    hog = []\n    while True:\n        hog.append(bytearray(4 << 20))"
    res = sb.run(grow, limits=small)
    assert not res.ok and res.limit == "memory" and "MemoryError" in (res.error or "")


def test_cpu_time_limit(sb: Sandbox) -> None:
    roomy_wall = LIMITS.model_copy(update={"wall_s": 120})  # a busy machine grants less CPU
    res = sb.run("def main(_):\n    while True:\n        pass", limits=roomy_wall)
    assert not res.ok and res.limit == "cpu_time"
    assert res.duration_s < roomy_wall.wall_s and (res.cpu_s or 0) >= 0.9


def test_wall_time_limit(sb: Sandbox) -> None:
    res = sb.run("import time\ndef main(_):\n    time.sleep(30)", limits=LIMITS.model_copy(
        update={"wall_s": 1}))  # fmt: skip
    assert not res.ok and res.limit == "wall_time" and res.duration_s < 60


def test_file_size_limit(sb: Sandbox) -> None:
    one_file = "def main(_):\n    open('big', 'wb').write(b'0' * (2 << 20))"
    res = sb.run(one_file)
    assert not res.ok and res.limit == "file_size"
    many = (
        "def main(_):\n    for i in range(16):\n        open(f'f{i}', 'wb').write(b'0' * 900_000)"
    )
    res = sb.run(many)  # each file is under max_file_mb, together over max_disk_mb
    assert not res.ok and res.limit == "file_size" and "No space left" in (res.error or "")


def test_site_packages_only_on_request(sb: Sandbox) -> None:
    import pydantic

    sites = Interpreter.current().site_dirs
    if not any(Path(pydantic.__file__).resolve().is_relative_to(s) for s in sites):
        pytest.skip("pydantic is not installed in this interpreter's site-packages")
    res = sb.run("def main(_):\n    import pydantic\n    return pydantic.VERSION")
    assert not res.ok and "ModuleNotFoundError" in (res.error or "")
    with_site = Sandbox(LIMITS, backend="bwrap", site_packages=True)
    res = with_site.run("def main(_):\n    import pydantic\n    return str(pydantic.VERSION)")
    assert res.ok, res.error


SEARCH_SITE_PACKAGES = """
import os, site, sys
def main(dirs):
    listed = {d: sorted(os.listdir(d)) for d in dirs if os.path.isdir(d)}
    sys.path[:0] = dirs
    site.main()
    for d in dirs:
        site.addsitedir(d)
    imported = []
    for name in ("pydantic", "yaml", "IPython", "requests", "boto3", "pytest"):
        try:
            __import__(name)
            imported.append(name)
        except ImportError:
            pass
    import json, sqlite3, ctypes, decimal  # the standard library stays whole
    return {"listed": listed, "imported": imported}
"""


def test_without_site_packages_only_the_standard_library_is_mounted(sb: Sandbox) -> None:
    interp = Interpreter.current()
    dirs = list(interp.base_site_dirs) + list(interp.site_dirs)
    res = sb.run(SEARCH_SITE_PACKAGES, input=dirs)
    assert res.ok, res.error
    assert res.value["imported"] == []
    assert all(entries == [] for entries in res.value["listed"].values()), res.value["listed"]


# --- backend selection (no bwrap needed) -------------------------------------------


def test_missing_bwrap_raises_when_isolation_required() -> None:
    with pytest.raises(SandboxUnavailable, match="bwrap not found"):
        Sandbox(LIMITS, bwrap="/nonexistent/bwrap", require_isolation=True)
    with pytest.raises(SandboxUnavailable):
        Sandbox(LIMITS, backend="bwrap", bwrap="/nonexistent/bwrap", require_isolation=False)


def test_missing_bwrap_falls_back_loudly(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="synth.sandbox"):
        weak = Sandbox(LIMITS, bwrap="/nonexistent/bwrap", require_isolation=False)
    assert weak.isolation == "none"
    assert any("NO filesystem/network/process isolation" in r.message for r in caplog.records)
    res = weak.run("def main(x):\n    return x + 1", input=1)
    assert res.ok and res.value == 2 and res.isolation == "none"
    res = weak.run("def main(_):\n    return len(bytearray(512 << 20))")  # rlimits still apply
    assert res.limit == "memory"


def test_required_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNTH_SANDBOX_REQUIRED", "1")
    with pytest.raises(SandboxUnavailable):
        Sandbox(LIMITS, bwrap="/nonexistent/bwrap")
    monkeypatch.setenv("SYNTH_SANDBOX_REQUIRED", "0")
    assert not isolation_required()
