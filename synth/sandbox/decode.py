"""Turn what came out of a sandbox into results. Never raises, whatever the bytes hold.

The launcher's report is trusted code, but the frame after it is written by the sandboxed
code itself (it owns the pipe), so it may be garbage, a wrong shape or nested deep enough to
overflow the host's stack: every field is checked before use.
"""

from __future__ import annotations

import errno
import json
import signal
from typing import Any

from synth.sandbox.models import Limit, SandboxLimits, SandboxResult

MAX_RESULT_DEPTH = 100
"""Deepest nesting of lists/objects accepted in a return value (the host's stack is finite)."""

def nesting_depth(value: Any, stop_after: int) -> int:
    """Deepest list/dict nesting of a decoded value, iteratively; stops past ``stop_after``."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            depth += 1
            deepest = max(deepest, depth)
            if deepest > stop_after:
                return deepest
            stack.extend((child, depth) for child in item if isinstance(child, list | dict))
    return deepest


def load_json(data: bytes, max_depth: int = MAX_RESULT_DEPTH) -> tuple[bool, Any]:
    """(True, value) for valid JSON within ``max_depth`` that re-encodes as UTF-8 (no lone
    surrogates); else (False, why). The C decoder guards its own recursion."""
    try:
        value = json.loads(data)
        if nesting_depth(value, max_depth) > max_depth:
            return False, f"nested deeper than {max_depth} levels"
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except (ValueError, UnicodeError, RecursionError) as exc:
        return False, f"not valid JSON ({type(exc).__name__})"
    return True, value


def launcher_report(header: bytes) -> dict[str, Any] | None:
    """The launcher's status line, or None when it is missing or malformed."""
    ok, report = load_json(header, max_depth=2)
    if not ok or not isinstance(report, dict):
        return None
    code, cpu = report.get("exit_code"), report.get("cpu_s")
    if not isinstance(code, int) or isinstance(code, bool):
        return None
    if not isinstance(cpu, int | float) or isinstance(cpu, bool):
        return None
    return {"exit_code": code, "cpu_s": float(cpu),
            "result_overflow": report.get("result_overflow") is True}  # fmt: skip


def wrapper_report(data: bytes) -> dict[str, Any]:
    """The wrapper's account of the run (OOM kills in its cgroup, peak memory); zeros when
    there is none (no wrapper, or it was killed)."""
    ok, report = load_json(data, max_depth=2)
    report = report if ok and isinstance(report, dict) else {}
    oom, peak = report.get("oom_kills"), report.get("peak_bytes")
    return {"oom_kills": oom if isinstance(oom, int) and oom > 0 else 0,
            "peak_bytes": peak if isinstance(peak, int) and peak > 0 else None,
            "error": report.get("error") if isinstance(report.get("error"), str) else None}


def exit_limit(code: int, cpu_s: float, limits: SandboxLimits) -> Limit | None:
    """Which rlimit a status shows: SIGXCPU at the soft CPU limit (SIGKILL one second later),
    SIGXFSZ for a file over max_file_mb; ``128 + signal`` when a shell reports its child."""
    cpu_cap = cpu_rlimit(limits)
    if code == -signal.SIGXCPU or (code == 128 + signal.SIGXCPU and cpu_s >= cpu_cap):
        return "cpu_time"
    if code in (-signal.SIGKILL, 128 + signal.SIGKILL) and cpu_s >= cpu_cap:
        return "cpu_time"
    if code in (-signal.SIGXFSZ, 128 + signal.SIGXFSZ):
        return "file_size"
    return None


def cpu_rlimit(limits: SandboxLimits) -> int:
    """RLIMIT_CPU is whole seconds: round up."""
    return max(1, int(-(-limits.cpu_s // 1)))


def limit_message(limit: Limit, limits: SandboxLimits) -> str:
    return {
        "wall_time": f"wall time limit of {limits.wall_s}s exceeded",
        "output": f"output over {limits.max_output_kb} KiB",
        "cpu_time": f"CPU time limit of {limits.cpu_s}s exceeded",
        "file_size": f"file size limit of {limits.max_file_mb} MiB exceeded",
        "memory": f"memory limit of {limits.memory_mb} MiB exceeded",
        "processes": f"process limit of {limits.max_processes} exceeded",
    }[limit]


def _classify_error(frame: dict[str, Any]) -> Limit | None:
    kind, err, text = frame.get("exc_type"), frame.get("errno"), frame.get("error")
    if kind == "MemoryError":
        return "memory"
    if err == errno.ENOMEM:
        return "memory"
    if err in (errno.EFBIG, errno.ENOSPC, errno.EDQUOT):
        return "file_size"
    if err == errno.EAGAIN or (isinstance(text, str) and "can't start new thread" in text):
        return "processes"
    return None


def interpret(out: dict[str, Any], limits: SandboxLimits, isolation: str) -> SandboxResult:
    """The result of one ``Sandbox`` run from its captured streams. A failed run during which
    the kernel killed a process for the run-wide memory bound is a "memory" failure."""
    result = _interpret(out, limits, isolation)
    if result.ok or result.limit is not None:
        return result
    if wrapper_report(out.get("report", b""))["oom_kills"]:
        error = (f"memory limit of the run ({limits.run_memory_mb()} MiB in all) exceeded: "
                 f"the kernel killed a process. {result.error or ''}")  # fmt: skip
        return result.model_copy(update={"limit": "memory", "error": error.strip()})
    return result


def _interpret(out: dict[str, Any], limits: SandboxLimits, isolation: str) -> SandboxResult:
    base = {
        "stdout": out["stdout"].decode("utf-8", "replace"),
        "stderr": out["stderr"].decode("utf-8", "replace"),
        "isolation": isolation,
        "duration_s": out["duration_s"],
        "returncode": out["returncode"],
    }
    if out["limit"] is not None:
        return SandboxResult(ok=False, error=limit_message(out["limit"], limits),
                             limit=out["limit"], **base)  # fmt: skip
    header, _, frame_bytes = out["result"].partition(b"\n")
    report = launcher_report(header)
    if report is None:
        tail = base["stderr"][-2000:]
        return SandboxResult(ok=False, error=f"sandbox launcher gave no report: {tail}", **base)
    code = base["returncode"] = report["exit_code"]
    base["cpu_s"] = report["cpu_s"]
    if report["result_overflow"]:
        msg = f"return value over {limits.max_result_kb} KiB"
        return SandboxResult(ok=False, error=msg, limit="output", **base)
    if (limit := exit_limit(code, report["cpu_s"], limits)) is not None:
        return SandboxResult(ok=False, error=limit_message(limit, limits), limit=limit, **base)
    ok, frame = load_json(frame_bytes) if frame_bytes else (False, "empty")
    if not ok:
        if frame_bytes:
            msg = f"the return value could not be decoded: {frame}"
            return SandboxResult(ok=False, error=msg, **base)
        return SandboxResult(ok=False, error=f"code exited without returning (exit code {code})",
                             **base)  # fmt: skip
    if not isinstance(frame, dict) or not isinstance(frame.get("ok"), bool):
        return SandboxResult(ok=False, error="the return frame has the wrong shape", **base)
    if frame["ok"]:
        return SandboxResult(ok=True, value=frame.get("value"), **base)
    error = frame.get("error")
    error = error if isinstance(error, str) else f"code failed with a non-text error: {error!r}"
    return SandboxResult(ok=False, error=error[-8000:], limit=_classify_error(frame), **base)
