"""A tiny seccomp-BPF filter for bwrap's ``--seccomp FD`` (no libseccomp needed).

Why: as host root the sandboxed code runs without a user namespace of bwrap's, so
nothing else would stop it from ``unshare(CLONE_NEWUSER|CLONE_NEWNS)`` and mounting an
unlimited tmpfs (memory DoS) or probing the kernel with namespace tricks. The filter
fails namespace/mount syscalls and a few notorious kernel attack surfaces with EPERM,
answers clone3 with ENOSYS (glibc then falls back to clone, whose flags we can read)
and rejects foreign syscall ABIs (i386 ``int 0x80``, x32) outright.
"""

from __future__ import annotations

import platform
import struct

_LD_ABS, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06
_ALLOW = 0x7FFF0000
_EPERM = 0x00050000 | 1
_ENOSYS = 0x00050000 | 38
_NS_FLAGS = 0x7E020080  # CLONE_NEW{NS,CGROUP,UTS,IPC,USER,PID,NET,TIME}

# name: (x86_64, aarch64)
_DENY = {
    "mount": (165, 40),
    "umount2": (166, 39),
    "pivot_root": (155, 41),
    "setns": (308, 268),
    "open_tree": (428, 428),
    "move_mount": (429, 429),
    "fsopen": (430, 430),
    "fsconfig": (431, 431),
    "fsmount": (432, 432),
    "fspick": (433, 433),
    "mount_setattr": (442, 442),
    "bpf": (321, 280),
    "userfaultfd": (323, 282),
    "perf_event_open": (298, 241),
    "add_key": (248, 217),
    "request_key": (249, 218),
    "keyctl": (250, 219),
    "ptrace": (101, 117),
    "process_vm_readv": (310, 270),
    "process_vm_writev": (311, 271),
    "io_uring_setup": (425, 425),
    "io_uring_enter": (426, 426),
    "io_uring_register": (427, 427),
}
_FLAGGED = {"clone": (56, 220), "unshare": (272, 97)}
_CLONE3 = 435
_ARCHES = {"x86_64": (0, 0xC000003E), "aarch64": (1, 0xC00000B7)}


Ins = tuple[int, int, str | None, str | None]  # (opcode, k, jump-if-true, jump-if-false)


def _ins(op: int, k: int, jt: str | None = None, jf: str | None = None) -> Ins:
    return (op, k, jt, jf)


def build_filter(machine: str | None = None) -> bytes | None:
    """The filter as ``struct sock_filter[]`` bytes, or None on an unsupported arch."""
    arch = _ARCHES.get(machine or platform.machine())
    if arch is None:
        return None
    col, audit_arch = arch
    prog: list[Ins | str] = [  # a str is a label for the next instruction
        _ins(_LD_ABS, 4),  # seccomp_data.arch
        _ins(_JEQ, audit_arch, jf="deny"),
        _ins(_LD_ABS, 0),  # seccomp_data.nr
    ]
    if col == 0:  # x32 ABI syscalls carry bit 30
        prog.append(_ins(_JGE, 0x40000000, jt="deny"))
    prog += [_ins(_JEQ, nrs[col], jt="deny") for nrs in _DENY.values()]
    prog += [_ins(_JEQ, nrs[col], jt="flags") for nrs in _FLAGGED.values()]
    prog += [
        _ins(_JEQ, _CLONE3, jt="enosys"),
        _ins(_RET, _ALLOW),
        "flags",
        _ins(_LD_ABS, 16),  # low word of args[0]: the clone/unshare flags
        _ins(_JSET, _NS_FLAGS, jt="deny"),
        _ins(_RET, _ALLOW),
        "deny",
        _ins(_RET, _EPERM),
        "enosys",
        _ins(_RET, _ENOSYS),
    ]
    return _assemble(prog)


def _assemble(prog: list[Ins | str]) -> bytes:
    labels: dict[str, int] = {}
    code: list[Ins] = []
    for item in prog:
        if isinstance(item, str):
            labels[item] = len(code)
        else:
            code.append(item)
    out = b""
    for pc, (op, k, jt, jf) in enumerate(code):
        t = labels[jt] - pc - 1 if jt else 0
        f = labels[jf] - pc - 1 if jf else 0
        if not (0 <= t < 256 and 0 <= f < 256):
            raise ValueError("seccomp jump out of range")
        out += struct.pack("<HBBI", op, t, f, k)
    return out
