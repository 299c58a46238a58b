"""Run-wide memory bounds that rlimits cannot give.

RLIMIT_AS bounds one process's address space, not System V shared memory, memfds, tmpfs
files or kernel memory (800k empty directories cost ~1 GiB of it). So each run also gets:

* its own cgroup with a memory limit (v2 ``memory.max``, or v1 ``memory.limit_in_bytes``)
  where the machine delegates one: below this process's cgroup, below its parent, or the
  directory named by $SYNTH_SANDBOX_CGROUP; the kernel then charges all of the above to it;
* as root, a fresh IPC namespace with small shm/msg/sem limits and a scratch tmpfs with
  ``nr_inodes``, both made by the wrapper in private namespaces before bwrap starts.

What the machine lacks is logged once (and, for the cgroup, raises when isolation is
required). This module finds the mechanisms; ``_confine.py`` applies them per run.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synth.sandbox.models import SandboxLimits, SandboxUnavailable

log = logging.getLogger("synth.sandbox")
CGROUP_ENV = "SYNTH_SANDBOX_CGROUP"
SCRATCH_MOUNTPOINT = str(Path(tempfile.gettempdir()) / "synth-sandbox-scratch")
_warned: set[str] = set()


@dataclass(frozen=True)
class CgroupSite:
    """Where runs get their cgroups: ``version`` 1 or 2, ``parent`` a writable directory."""

    version: int
    parent: str


def parse_mountinfo(text: str) -> list[tuple[str, str, str, frozenset[str]]]:
    """(root, mount point, fs type, super options) of each line of /proc/self/mountinfo."""
    mounts = []
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if not sep or len(fields) < 5 or len(tail) < 3:
            continue
        unescape = _unescape_octal
        mounts.append((unescape(fields[3]), unescape(fields[4]), tail[0],
                       frozenset(tail[2].split(","))))  # fmt: skip
    return mounts


def _unescape_octal(text: str) -> str:
    return text.encode().decode("unicode_escape") if "\\" in text else text


def parse_proc_cgroup(text: str) -> dict[str, str]:
    """Controller -> cgroup path from /proc/self/cgroup; "" is the v2 unified hierarchy."""
    paths: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        for controller in parts[1].split(",") if parts[1] else [""]:
            paths[controller] = parts[2]
    return paths


def cgroup_candidates(mountinfo: str, proc_cgroup: str) -> list[CgroupSite]:
    """Directories that may hold per-run memory cgroups, best first (unverified)."""
    own = parse_proc_cgroup(proc_cgroup)
    sites: list[CgroupSite] = []
    for root, point, fstype, options in parse_mountinfo(mountinfo):
        if fstype == "cgroup2" and "" in own:
            path = _within(point, root, own[""])
            if path is not None:
                sites.append(CgroupSite(2, path))
            if path is not None and path != point:  # its parent, inside the hierarchy
                sites.append(CgroupSite(2, os.path.dirname(path)))
        elif fstype == "cgroup" and "memory" in options and "memory" in own:
            path = _within(point, root, own["memory"])
            if path is not None:
                sites.append(CgroupSite(1, path))
    return sorted(dict.fromkeys(sites), key=lambda s: -s.version)


def _within(point: str, root: str, path: str) -> str | None:
    if not (path == root or path.startswith(root.rstrip("/") + "/")):
        return None
    rest = path[len(root.rstrip("/")):].lstrip("/")
    return os.path.join(point, rest) if rest else point


def _usable(site: CgroupSite) -> bool:
    """A child can be made there and it has the memory controller's files."""
    if site.version == 2:
        try:
            subtree = Path(site.parent, "cgroup.subtree_control").read_text().split()
        except OSError:
            return False
        if "memory" not in subtree:
            return False
    probe = Path(site.parent, f"synth-sandbox-probe-{uuid.uuid4().hex[:12]}")
    try:
        probe.mkdir()
    except OSError:
        return False
    try:
        limit_file = "memory.max" if site.version == 2 else "memory.limit_in_bytes"
        return (probe / limit_file).exists()
    finally:
        with contextlib.suppress(OSError):
            probe.rmdir()


@functools.cache
def memory_cgroup() -> CgroupSite | None:
    """The first usable site: $SYNTH_SANDBOX_CGROUP, else one found from /proc."""
    if explicit := os.environ.get(CGROUP_ENV):
        version = 2 if Path(explicit, "cgroup.controllers").exists() else 1
        site = CgroupSite(version, explicit)
        return site if _usable(site) else None
    try:
        mountinfo = Path("/proc/self/mountinfo").read_text()
        proc_cgroup = Path("/proc/self/cgroup").read_text()
    except OSError:
        return None
    return next((s for s in cgroup_candidates(mountinfo, proc_cgroup) if _usable(s)), None)


def total_memory_bytes(limits: SandboxLimits) -> int:
    return limits.run_memory_mb() * 1024 * 1024


def cgroup_spec(site: CgroupSite, limits: SandboxLimits) -> dict[str, Any]:
    """The wrapper's recipe for one run's cgroup: (file, value, required) settings in order,
    and the files that tell how it went."""
    total = str(total_memory_bytes(limits))
    if site.version == 2:
        settings = [("memory.max", total, True), ("memory.swap.max", "0", False)]
        return {"parent": site.parent, "settings": settings, "events": "memory.events",
                "peak": "memory.peak", "kill": "cgroup.kill"}  # fmt: skip
    settings = [("memory.limit_in_bytes", total, True),
                ("memory.memsw.limit_in_bytes", total, False)]  # fmt: skip
    return {"parent": site.parent, "settings": settings, "events": "memory.oom_control",
            "peak": "memory.max_usage_in_bytes", "kill": None}  # fmt: skip


def ipc_sysctls(limits: SandboxLimits) -> dict[str, str]:
    """Limits of the run's own IPC namespace (they are per namespace in the kernel)."""
    total = total_memory_bytes(limits)
    return {
        "kernel/shmmax": str(total),
        "kernel/shmall": str(max(1, total // 4096)),
        "kernel/shmmni": "64",
        "kernel/msgmni": "16",
        "kernel/msgmax": "8192",
        "kernel/msgmnb": "16384",
        "kernel/sem": "32 1024 32 32",
        "fs/mqueue/queues_max": "16",
    }


def scratch_options(limits: SandboxLimits) -> str:
    return f"size={limits.max_disk_mb}m,nr_inodes={limits.max_files},mode=0700"


def confine_bounds(limits: SandboxLimits, privileged: bool) -> dict[str, Any]:
    """The wrapper's memory-bound settings for one run (what this machine supports)."""
    site = memory_cgroup()
    bounds: dict[str, Any] = {"cgroups": [cgroup_spec(site, limits)] if site else []}
    if privileged:
        bounds["scratch"] = {"mountpoint": SCRATCH_MOUNTPOINT, "options": scratch_options(limits)}
        bounds["ipc"] = ipc_sysctls(limits)
    return bounds


def check_bounds(privileged: bool, required: bool) -> None:
    """Warn once per missing mechanism; without a memory cgroup, raise if ``required``."""
    missing = []
    if memory_cgroup() is None:
        missing.append(
            "no delegated memory cgroup: shared memory, memfds, tmpfs files and kernel memory "
            f"are NOT bounded per run (run as root, or set ${CGROUP_ENV} to a delegated cgroup)"
        )
        if required:
            raise SandboxUnavailable(f"isolated sandbox unavailable: {missing[0]}")
    if not privileged:
        missing.append("not root: no inode limit on the scratch tmpfs and default shm limits")
    for message in missing:
        if message not in _warned:
            _warned.add(message)
            log.warning("sandbox: %s", message)
