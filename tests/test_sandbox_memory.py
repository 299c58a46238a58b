"""Run-wide memory bounds: System V shared memory, memfds and kernel memory (inodes) stay
within a run's budget for Python runs and commands alike, where rlimits alone let them by.

Needs bubblewrap and a delegated memory cgroup (root here); without them the tests skip,
unless SYNTH_SANDBOX_REQUIRED is set (CI), where they fail instead.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest
from conftest import isolated_sandbox

from synth.sandbox import Sandbox, SandboxedCommand, SandboxLimits, SandboxUnavailable, bounds
from synth.sandbox._confine import CGROUP_PREFIX

LIMITS = SandboxLimits(cpu_s=5, wall_s=20, memory_mb=64, max_processes=8, max_disk_mb=4,
                       max_files=500, max_output_kb=8)  # fmt: skip
BUDGET_MIB = LIMITS.run_memory_mb()  # 64 + 4 + 64

SHM = """
import ctypes
def main(mib):
    libc = ctypes.CDLL(None, use_errno=True)
    libc.shmat.restype = ctypes.c_void_p
    libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
    held, seg = 0, 16 << 20
    while held < mib << 20:   # attach, touch, detach: the pages stay, the address space not
        sid = libc.shmget(0, ctypes.c_size_t(seg), 0o1600)
        if sid < 0:
            return {"held_mib": held >> 20, "errno": ctypes.get_errno()}
        addr = libc.shmat(sid, None, 0)
        ctypes.memset(addr, 1, seg)
        libc.shmdt(ctypes.c_void_p(addr))
        held += seg
    return {"held_mib": held >> 20}
"""
MEMFD = """
import os
def main(mib):
    fds = []
    for i in range(mib):
        if i % 8 == 0:            # each memfd stays under max_file_mb
            fds.append(os.memfd_create("hog"))
        os.write(fds[-1], b"0" * (1 << 20))
    return {"held_mib": mib}
"""
DIRS = """
import os
def main(n):
    made = 0
    try:
        while made < n:
            os.mkdir(f"d{made}")
            made += 1
    except OSError as exc:
        return {"made": made, "errno": exc.errno}
    return {"made": made}
"""


@pytest.fixture(scope="module")
def sb() -> Sandbox:
    sandbox = isolated_sandbox(LIMITS)
    if bounds.memory_cgroup() is None:
        pytest.skip("no delegated memory cgroup on this machine")
    return sandbox


def contained(res: object, budget_mib: int = BUDGET_MIB) -> bool:
    """Stopped by the memory bound, or stopped itself below it."""
    if getattr(res, "limit", None) == "memory":
        return True
    value = getattr(res, "value", None)
    return isinstance(value, dict) and value.get("held_mib", 1 << 30) <= budget_mib


def host_shm_segments() -> int:
    return len(Path("/proc/sysvipc/shm").read_text().splitlines()) - 1


def test_system_v_shared_memory_is_bounded(sb: Sandbox) -> None:
    before = host_shm_segments()
    res = sb.run(SHM, input=512)
    assert contained(res), res
    assert host_shm_segments() == before  # the run's IPC namespace died with it
    if os.geteuid() == 0:
        res = sb.run("def main(_):\n    return open('/proc/sys/kernel/shmmax').read()")
        assert int(res.value) == BUDGET_MIB << 20


def test_memfds_are_bounded(sb: Sandbox) -> None:
    res = sb.run(MEMFD, input=512)
    assert res.limit == "memory" and not res.ok, res


def test_the_bound_is_the_configured_one(sb: Sandbox) -> None:
    roomy = LIMITS.model_copy(update={"total_memory_mb": 512})
    res = sb.run(MEMFD, input=200, limits=roomy)
    assert res.ok and res.value == {"held_mib": 200}, res
    assert sb.run(MEMFD, input=200).limit == "memory"


@pytest.mark.skipif(os.geteuid() != 0, reason="the inode limit needs root")
def test_scratch_inodes_are_bounded(sb: Sandbox) -> None:
    res = sb.run(DIRS, input=100_000)
    assert res.ok and res.value["made"] < LIMITS.max_files and res.value["errno"] == 28, res


def run_as_command(source: str, arg: int) -> tuple[object, dict[str, object] | None]:
    """``main(arg)`` of ``source`` as a plain python3 command in /tmp, its value printed."""
    script = f"import json, os\nos.chdir('/tmp')\n{source}\nprint(json.dumps(main({arg})))"
    res = SandboxedCommand(["python3", "-c", script], limits=LIMITS).run()
    value = json.loads(res.stdout) if res.returncode == 0 and res.stdout else None
    return res, value


def test_commands_are_bounded_too(sb: Sandbox) -> None:
    del sb  # only its skip conditions
    res, _ = run_as_command(MEMFD, 512)
    assert res.limit == "memory", res
    res, value = run_as_command(SHM, 512)
    assert res.limit == "memory" or (value is not None and value["held_mib"] <= BUDGET_MIB), res
    if os.geteuid() == 0:
        res, value = run_as_command(DIRS, 100_000)
        assert value is not None and value["made"] < LIMITS.max_files, res


def test_each_run_gets_its_own_cgroup_and_leaves_none(sb: Sandbox) -> None:
    site = bounds.memory_cgroup()
    assert site is not None
    parent = Path(site.parent)
    before = {p.name for p in parent.iterdir() if p.name.startswith(CGROUP_PREFIX)}
    proc = SandboxedCommand(["sleep", "300"], limits=LIMITS).spawn(
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        sleeper = None
        for _ in range(200):
            sleeper = next((p for p in psutil.Process(proc.pid).children(recursive=True)
                            if p.name() == "sleep"), None)  # fmt: skip
            if sleeper is not None:
                break
            time.sleep(0.05)
        assert sleeper is not None
        lines = Path(f"/proc/{sleeper.pid}/cgroup").read_text().split()
        path = next(ln for ln in lines if ":memory:" in ln or ln.startswith("0::"))
        run_cgroup = parent / path.rsplit("/", 1)[1]
        limit_file = "memory.max" if site.version == 2 else "memory.limit_in_bytes"
        assert int((run_cgroup / limit_file).read_text()) == BUDGET_MIB << 20
    finally:
        proc.kill()  # the wrapper dies without cleaning up: the next run sweeps its cgroup
        proc.wait()
    assert psutil.wait_procs([sleeper], timeout=10)[1] == []
    SandboxedCommand(["true"], limits=LIMITS).run()
    sb.run("def main(_):\n    return 1")
    assert not run_cgroup.exists()
    after = {p.name for p in parent.iterdir() if p.name.startswith(CGROUP_PREFIX)}
    owners = [int(name[len(CGROUP_PREFIX):].split("-")[0]) for name in after - before]
    assert all(psutil.pid_exists(pid) for pid in owners)  # only runs still going


def test_without_a_cgroup_isolation_required_refuses(monkeypatch: pytest.MonkeyPatch,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv(bounds.CGROUP_ENV, "/nonexistent/cgroup")
    monkeypatch.setattr(bounds, "_warned", set())
    bounds.memory_cgroup.cache_clear()
    try:
        monkeypatch.setenv("SYNTH_SANDBOX_REQUIRED", "1")
        with pytest.raises(SandboxUnavailable, match="memory cgroup"):
            SandboxedCommand(["true"])
        with pytest.raises(SandboxUnavailable, match="memory cgroup"):
            Sandbox(LIMITS)
        monkeypatch.setenv("SYNTH_SANDBOX_REQUIRED", "0")
        with caplog.at_level(logging.WARNING, logger="synth.sandbox"):
            weak = SandboxedCommand(["echo", "runs"], limits=LIMITS)
        assert any("NOT bounded per run" in r.message for r in caplog.records)
        assert weak.run().stdout == "runs\n"
    finally:
        bounds.memory_cgroup.cache_clear()


V1_MOUNTINFO = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""
V1_CGROUP = "8:pids:/\n4:memory:/jobs/abc\n0::/\n"
V2_MOUNTINFO = "29 23 0:26 /user.slice /sys/fs/cgroup rw shared:4 - cgroup2 cgroup2 rw,nsdelegate\n"
V2_CGROUP = "0::/user.slice/user-1000.slice/app.scope\n"


def test_cgroup_sites_are_found_from_proc() -> None:
    assert bounds.cgroup_candidates(V1_MOUNTINFO, V1_CGROUP) == [
        bounds.CgroupSite(2, "/sys/fs/cgroup/unified"),
        bounds.CgroupSite(1, "/sys/fs/cgroup/memory/jobs/abc"),
    ]
    assert bounds.cgroup_candidates(V2_MOUNTINFO, V2_CGROUP) == [
        bounds.CgroupSite(2, "/sys/fs/cgroup/user-1000.slice/app.scope"),
        bounds.CgroupSite(2, "/sys/fs/cgroup/user-1000.slice"),
    ]
    assert bounds.cgroup_candidates(V2_MOUNTINFO, "0::/system.slice/x\n") == []
    assert bounds.cgroup_candidates("garbage\n", "also garbage") == []


@pytest.mark.skipif(os.geteuid() != 0, reason="the private scratch tmpfs needs root")
def test_concurrent_runs_each_see_only_their_own_scratch(sb: Sandbox) -> None:
    code = """
import os, time
def main(tag):
    open(tag, "w").write(tag)
    time.sleep(0.5)
    return sorted(os.listdir("."))
"""
    tags = [f"run{i}" for i in range(4)]
    with ThreadPoolExecutor(len(tags)) as pool:
        results = list(pool.map(lambda tag: sb.run(code, input=tag), tags))
    assert [r.value for r in results] == [["main.py", tag] for tag in tags], results
    assert os.listdir(bounds.SCRATCH_MOUNTPOINT) == []  # the host never saw those files
