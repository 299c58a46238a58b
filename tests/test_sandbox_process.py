"""SandboxedCommand: arbitrary programs in bubblewrap, tried the way an attacker would.

Needs bubblewrap; without it the isolated tests skip unless SYNTH_SANDBOX_REQUIRED is set
(CI), where an unusable sandbox fails instead. Network checks use loopback only.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from synth.sandbox import (
    Mount,
    SandboxedCommand,
    SandboxLimits,
    SandboxUnavailable,
    isolation_required,
)

LIMITS = SandboxLimits(cpu_s=2, wall_s=10, memory_mb=512, max_processes=32, max_file_mb=4,
                       max_disk_mb=16, max_output_kb=16)  # fmt: skip


def command(argv: list[str], **kw: object) -> SandboxedCommand:
    kw.setdefault("limits", LIMITS)
    try:
        cmd = SandboxedCommand(argv, **kw)  # type: ignore[arg-type]
    except SandboxUnavailable as exc:
        pytest.fail(f"SYNTH_SANDBOX_REQUIRED is set but the sandbox is unusable: {exc}")
    if cmd.isolation != "bwrap":
        if isolation_required():
            pytest.fail("isolation is required but the command runs unconfined")
        pytest.skip("bubblewrap unavailable; set SYNTH_SANDBOX_REQUIRED=1 to fail instead")
    return cmd


def sh(script: str, **kw: object) -> SandboxedCommand:
    return command(["bash", "-c", script], **kw)


def _gone(pids: list[psutil.Process]) -> list[psutil.Process]:
    """Processes of ``pids`` still alive after they had ample time to die (liveness only)."""
    _, alive = psutil.wait_procs(pids, timeout=10)
    return alive


# --- normal behaviour -----------------------------------------------------------------


def test_runs_a_command_and_reports_its_status() -> None:
    res = sh("echo out; echo err >&2; pwd; exit 3").run()
    assert (res.returncode, res.stdout, res.stderr) == (3, "out\n/work\n", "err\n")
    assert res.limit is None and not res.truncated and res.isolation == "bwrap"
    res = command(["cat"]).run(input=b"piped \x00 bytes")
    assert res.returncode == 0 and res.stdout == "piped \x00 bytes"
    res = command(["no-such-program"]).run()
    assert res.returncode == 127 and "no-such-program" in res.stderr


def test_host_environment_stays_out_and_env_goes_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNTH_TEST_SECRET", "hunter2")
    res = sh("env", env={"GREETING": "hi"}).run()
    assert "hunter2" not in res.stdout and "GREETING=hi" in res.stdout
    assert "HOME=/tmp" in res.stdout


def test_bash_and_pytest_children_run_when_processes_allow(tmp_path: Path) -> None:
    (tmp_path / "test_small.py").write_text("def test_one():\n    assert 1 + 1 == 2\n")
    work = [Mount(str(tmp_path), "/work", writable=True)]
    res = sh("ls / | sort | head -3; (echo b; echo a) | sort", mounts=work).run()
    assert res.returncode == 0 and res.stdout.endswith("a\nb\n"), res.stderr
    pytest_run = command([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                         mounts=work, env={"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})  # fmt: skip
    res = pytest_run.run(timeout_s=60)
    assert res.returncode == 0 and "1 passed" in res.stdout, res.stdout + res.stderr
    one = sh("(echo a) | cat", limits=LIMITS.model_copy(update={"max_processes": 1})).run()
    assert one.returncode != 0 and "fork" in one.stderr.lower()


def test_site_packages_and_python_prefixes(tmp_path: Path) -> None:
    probe = [sys.executable, "-c", "import pydantic; print('imported')"]
    assert command(probe).run().stdout == "imported\n"
    res = command(probe, site_packages=False).run()
    assert res.returncode == 1 and "ModuleNotFoundError" in res.stderr
    venv = tmp_path / "repo-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next(venv.glob("lib/python*/site-packages"))
    (site / "repo_only.py").write_text("VALUE = 'from the repo venv'\n")
    code = "import sys, repo_only; print(sys.prefix, repo_only.VALUE)"
    res = command(["python", "-c", code], python_prefixes=[str(venv)],
                  site_packages=False).run()  # fmt: skip
    assert res.stdout == f"{venv} from the repo venv\n", res.stderr


# --- confinement ------------------------------------------------------------------------


def test_cannot_read_host_files_outside_mounts(tmp_path: Path) -> None:
    shared, private = tmp_path / "shared", tmp_path / "private"
    shared.mkdir()
    private.mkdir()
    (shared / "visible.txt").write_text("VISIBLE")
    (private / "secret.txt").write_text("TOP-SECRET")
    paths = ["/data/visible.txt", f"{private}/secret.txt", "/etc/shadow", "/etc/passwd",
             f"/proc/1/root{private}/secret.txt", str(Path(__file__)), "/root/.bash_history"]
    script = ('for f in "$@"; do cat "$f" >/dev/null 2>&1 && echo "read $f"; done; '
              "ls -d /home /var /srv 2>/dev/null; ls /etc")  # fmt: skip
    res = command(["bash", "-c", script, "probe", *paths],
                  mounts=[Mount(str(shared), "/data")]).run()  # fmt: skip
    lines = res.stdout.split()
    assert lines[:2] == ["read", "/data/visible.txt"] and "read" not in lines[2:], res.stdout
    assert set(lines[2:]) <= {"alternatives", "hosts", "ld.so.cache", "ld.so.conf",
                              "ld.so.conf.d", "nsswitch.conf"}  # fmt: skip


def test_writable_mount_persists_read_only_mount_fails(tmp_path: Path) -> None:
    rw, ro = tmp_path / "rw", tmp_path / "ro"
    rw.mkdir(mode=0o700)
    ro.mkdir()
    (ro / "keep.txt").write_text("original")
    mounts = [Mount(str(rw), "/work", writable=True), Mount(str(ro), "/inputs")]
    script = ("mkdir -p out/deep && echo made > out/deep/new.txt; "
              "echo changed > /inputs/keep.txt; echo $? ; touch /inputs/new; touch /usr/x; "
              "touch /escape; echo scratch > /tmp/s && cat /tmp/s")  # fmt: skip
    res = sh(script, mounts=mounts).run()
    assert (rw / "out" / "deep" / "new.txt").read_text() == "made\n"
    assert (ro / "keep.txt").read_text() == "original" and not (ro / "new").exists()
    assert res.stdout == "1\nscratch\n" and res.stderr.count("Read-only file system") == 4
    again = sh("cat out/deep/new.txt", mounts=mounts).run()  # a later run, another uid
    assert again.stdout == "made\n"
    assert not Path("/escape").exists() and not Path("/usr/x").exists()


def test_handing_the_workspace_over_never_follows_links(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("host file")
    work = tmp_path / "work"
    work.mkdir()
    (work / "to_file").symlink_to(outside)
    mounts = [Mount(str(work), "/work", writable=True)]
    sh("ln -s /etc/hostname hostname; ln -s /etc etc; ln -s / root", mounts=mounts).run()
    res = sh("ls", mounts=mounts).run()  # the next run hands the tree to its own uid
    assert res.stdout.split() == ["etc", "hostname", "root", "to_file"]
    me = os.geteuid()
    for host_path in (outside, tmp_path, Path("/etc"), Path("/etc/hostname"), Path("/")):
        assert host_path.stat().st_uid in (me, 0), host_path


def test_only_loopback_inside_and_host_listener_unreachable() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    server.setblocking(False)  # a completed handshake would sit in the backlog
    port = server.getsockname()[1]
    probe = (
        "import socket\n"
        "try:\n"
        f"    socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
        "    print('connected')\n"
        "except OSError as exc:\n"
        "    print(type(exc).__name__)\n"
    )
    script = (f"python3 -c \"{probe}\"; ip -o link | cut -d: -f2; "
              "tail -n +3 /proc/net/dev | cut -d: -f1; ls /sys/class/net 2>/dev/null; "
              "test -e /etc/resolv.conf && echo resolver")  # fmt: skip
    try:
        res = sh(script).run()
        with pytest.raises(BlockingIOError):
            server.accept()
    finally:
        server.close()
    lines = [ln.strip() for ln in res.stdout.splitlines()]
    assert lines == ["ConnectionRefusedError", "lo", "lo"], res.stdout + res.stderr


def test_infinite_loop_and_sleep_end_with_a_limit() -> None:
    one_second = LIMITS.model_copy(update={"cpu_s": 1})
    res = command(["python3", "-c", "while True: pass"], limits=one_second).run(timeout_s=120)
    assert res.limit == "cpu_time" and res.returncode is not None and res.returncode < 0
    res = command(["sleep", "60"]).run(timeout_s=1)
    assert res.limit == "wall_time" and res.returncode is None


def test_fork_bomb_ends_with_a_limit_and_leaves_nothing(tmp_path: Path) -> None:
    tag = uuid.uuid4().hex
    bomb = sh(f"bomb() {{ bomb | bomb & }}; bomb; sleep 60 # {tag}",
              limits=LIMITS.model_copy(update={"max_processes": 16}))  # fmt: skip
    res = bomb.run(timeout_s=3)
    assert res.limit == "wall_time"
    left = [p for p in psutil.process_iter(["cmdline"]) if tag in " ".join(p.info["cmdline"] or [])]
    assert _gone(left) == []


def test_huge_output_is_truncated() -> None:
    res = command(["python3", "-c", "print('x' * 5_000_000); print('done', flush=True)"]).run()
    assert res.truncated and len(res.stdout) == LIMITS.max_output_kb * 1024
    assert res.returncode == 0 and res.limit is None  # drained, not killed
    res = command(["yes"]).run(timeout_s=1)
    assert res.truncated and res.limit == "wall_time"


def test_spawn_then_kill_leaves_no_process() -> None:
    cmd = sh("sleep 300 & sleep 300 & wait")
    proc = cmd.spawn(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        tree = psutil.Process(proc.pid)
        for _ in range(200):  # until both sleeps exist (start-up takes a moment)
            family = tree.children(recursive=True)
            if sum(p.name() == "sleep" for p in family) == 2:
                break
            time.sleep(0.05)
        assert sum(p.name() == "sleep" for p in family) == 2
    finally:
        proc.kill()
        proc.wait()
    assert _gone(family) == []


def test_an_interrupt_reaches_the_program_not_the_sandbox() -> None:
    code = ("import time\ntry:\n    print('ready', flush=True)\n    time.sleep(60)\n"
            "except KeyboardInterrupt:\n    print('interrupted', flush=True)\n")  # fmt: skip
    proc = command(["python3", "-c", code]).spawn(stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        os.killpg(proc.pid, signal.SIGINT)  # what jupyter_client does to interrupt a kernel
        out, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
        proc.wait()
    assert out == b"interrupted\n" and proc.returncode == 0


def test_argv_run_by_plain_subprocess_is_confined_the_same(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    cmd = sh(f"cat {secret}; ip -o link | wc -l; id -u; echo $HOST_ONLY; exit 5")
    host_env = {**os.environ, "HOST_ONLY": "leaked"}
    plain = subprocess.run(cmd.argv(), capture_output=True, text=True, env=host_env, timeout=30)
    ours = cmd.run()
    assert plain.returncode == ours.returncode == 5
    plain_lines, our_lines = plain.stdout.split("\n"), ours.stdout.split("\n")
    assert plain_lines[0] == our_lines[0] == "1"  # only lo
    assert plain_lines[2] == our_lines[2] == ""  # the caller's environment stays outside
    assert "No such file" in plain.stderr and "TOP-SECRET" not in plain.stdout
    if os.geteuid() == 0:
        assert int(plain_lines[1]) != 0  # a leased uid, not root


# --- configuration and fallback -----------------------------------------------------------


@pytest.mark.parametrize("bad", [
    lambda: SandboxedCommand(["true"], mounts=[Mount("/tmp", "relative")]),
    lambda: SandboxedCommand(["true"], mounts=[Mount("/nonexistent-host-dir", "/data")]),
    lambda: SandboxedCommand(["true"], mounts=[Mount("/tmp", "/usr/lib/x")]),
    lambda: SandboxedCommand(["true"], mounts=[Mount("/tmp", "/work"),
                                               Mount("/tmp", "/work/inner")]),
    lambda: SandboxedCommand(["true"], cwd="work"),
    lambda: SandboxedCommand(["true"], env={"A=B": "x"}),
    lambda: SandboxedCommand(["true"], python_prefixes=["relative/venv"]),
    lambda: SandboxedCommand(["true"], python_prefixes=["/nonexistent/venv"]),
    lambda: SandboxedCommand(["true"], mounts=["/tmp:/data"]),
    lambda: SandboxedCommand([]),
    lambda: SandboxedCommand(["true"]).run(timeout_s=0),
])  # fmt: skip
def test_bad_configuration_raises_value_error(bad: Callable[[], object]) -> None:
    with pytest.raises(ValueError):
        bad()


def test_missing_bwrap_falls_back_loudly_or_raises(monkeypatch: pytest.MonkeyPatch,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("SYNTH_SANDBOX_BWRAP", "/nonexistent/bwrap")
    monkeypatch.setattr("shutil.which", lambda *_a, **_k: None)
    monkeypatch.setenv("SYNTH_SANDBOX_REQUIRED", "1")
    with pytest.raises(SandboxUnavailable, match="bwrap not found"):
        SandboxedCommand(["true"])
    monkeypatch.setenv("SYNTH_SANDBOX_REQUIRED", "0")
    with caplog.at_level(logging.WARNING, logger="synth.sandbox"):
        weak = SandboxedCommand(["sh", "-c", "echo $HOME; exit 4"], limits=LIMITS)
    assert weak.isolation == "none"
    assert any("NO filesystem/network/process isolation" in r.message for r in caplog.records)
    res = weak.run()
    assert (res.returncode, res.stdout, res.isolation) == (4, "/tmp\n", "none")
    one_second = LIMITS.model_copy(update={"cpu_s": 1})
    res = SandboxedCommand(["python3", "-c", "while True: pass"], limits=one_second).run()
    assert res.limit == "cpu_time"  # rlimits still apply
