"""Run untrusted, model-written Python with real isolation (bubblewrap + rlimits).

Each run gets a fresh sandbox: a size- and inode-limited tmpfs /work, read-only /usr and the
interpreter prefix (site-packages only on request), no network, its own pid/ipc/uts
namespaces, rlimits for CPU, memory, processes, file size and open files, and a memory
cgroup bounding the run as a whole (shared memory, memfds, kernel memory; see
``synth.sandbox.bounds``); wall time and output are policed by the host. The return value
travels over a private pipe, not stdout, and is decoded without trusting it. Without bwrap
(or without a memory cgroup) the sandbox falls back loudly (log warning; ``isolation ==
"none"`` without bwrap) or raises ``SandboxUnavailable`` when isolation is required
(``SYNTH_SANDBOX_REQUIRED``). ``run`` blocks; asyncio callers use ``arun``.

``SandboxedCommand`` runs any program (bash, pytest, a kernel) the same way, over mounts the
caller chooses; its ``argv()`` confines identically when another program starts it.
"""

from synth.sandbox.models import (
    Isolation,
    Limit,
    SandboxError,
    SandboxLimits,
    SandboxResult,
    SandboxUnavailable,
)
from synth.sandbox.process import CommandResult, Mount, SandboxedCommand
from synth.sandbox.runner import Sandbox, isolation_required

__all__ = [
    "CommandResult",
    "Isolation",
    "Limit",
    "Mount",
    "Sandbox",
    "SandboxError",
    "SandboxLimits",
    "SandboxResult",
    "SandboxUnavailable",
    "SandboxedCommand",
    "isolation_required",
]
