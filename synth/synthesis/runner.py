"""Host side of the harness: every run of model-written code goes through `synth.sandbox`.

Each method ships the harness and the files it needs into a fresh sandbox and returns the
harness's JSON dict. A run stopped by a limit (an endless loop, too much memory) comes back as
{"ok": False, "kind": "<what>_timeout" | "<what>_limit", ...} so checks can count it.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from synth.sandbox import Sandbox, SandboxLimits, SandboxResult

HARNESS_MODULE = "_synth_harness"
HARNESS_FILE = f"{HARNESS_MODULE}.py"
TOOLS_LOADED = "synth-harness: tools loaded"  # printed to stderr by the harness


@functools.cache
def harness_source() -> str:
    return (Path(__file__).with_name("harness.py")).read_text(encoding="utf-8")


@functools.cache
def shared_sandbox(limits: SandboxLimits) -> Sandbox:
    """One Sandbox per process and limits (its self-check runs once)."""
    return Sandbox(limits)


def _failed(result: SandboxResult, what: str) -> dict[str, Any]:
    if result.limit in ("cpu_time", "wall_time"):
        kind = f"{what}_timeout"
    elif result.limit is not None:
        kind = f"{what}_limit_{result.limit}"
    else:
        kind = f"{what}_crashed"
    return {"ok": False, "kind": kind, "error": (result.error or "")[-3000:],
            "stdout": result.stdout[-2000:]}


def _script_result(value: Any) -> bool:
    """The code run owns the result pipe: check every field the session reads."""
    return (isinstance(value, dict) and isinstance(value.get("ok"), bool)
            and isinstance(value.get("error"), str | None)
            and isinstance(value.get("changed"), dict)
            and all(isinstance(v, str | None) for v in value["changed"].values())
            and isinstance(value.get("removed"), list)
            and all(isinstance(v, str) for v in value["removed"]))


class CodeRunner:
    """Runs the harness's entry points in the sandbox."""

    def __init__(self, limits: SandboxLimits | None = None,
                 sandbox: Sandbox | None = None) -> None:
        self.limits = limits or SandboxLimits(cpu_s=5, wall_s=10)
        self.sandbox = sandbox or shared_sandbox(self.limits)

    @property
    def isolation(self) -> str:
        return self.sandbox.isolation

    def _run(self, entry: str, payload: dict[str, Any], files: dict[str, str],
             what: str) -> dict[str, Any]:
        result = self.sandbox.run_function(harness_source(), entry, [payload],
                                           module=HARNESS_MODULE, files=files,
                                           limits=self.limits)
        if not result.ok:
            if what == "solution" and TOOLS_LOADED not in result.stderr:
                what = "tools"
            return _failed(result, what)
        value = result.value
        if not isinstance(value, dict) or "ok" not in value:
            return {"ok": False, "kind": f"{what}_crashed", "error": "no result from the harness"}
        value.setdefault("stdout", result.stdout[-2000:])
        return value

    def call_tool(self, tools_source: str, db: Any, name: str,
                  arguments: dict[str, Any]) -> dict[str, Any]:
        payload = {"db": db, "name": name, "arguments": arguments}
        return self._run("call_tool", payload, {"tools.py": tools_source}, "tool")

    def solve(self, tools_source: str, solution_source: str, db: Any,
              tool_names: list[str] | None) -> dict[str, Any]:
        """Load the tools (their TOOLS and signatures come back under "tools", "signatures")
        and run the solution. The database travels in the payload, never as a file the
        solution could open. A limit hit before the tools loaded is a "tools_*" failure."""
        payload = {"db": db, "tool_names": tool_names}
        files = {"tools.py": tools_source, "solution.py": solution_source}
        return self._run("solve", payload, files, "solution")

    def verify_many(self, verify_source: str, items: list[dict[str, Any]], *,
                    tools_source: str | None = None, db: Any = None,
                    calls: list[dict[str, Any]] | None = None,
                    trace_dbs: bool = False) -> dict[str, Any]:
        """Judge each item {db | "replayed", answer}; with `calls`, replay them on `db` first
        (with `trace_dbs`, the result also holds the database after each call)."""
        files = {"verify.py": verify_source}
        if calls is not None and tools_source is not None:
            files["tools.py"] = tools_source
        payload = {"items": items, "db": db, "calls": calls, "trace_dbs": trace_dbs}
        return self._run("verify_many", payload, files, "verifier")

    def script(self, code: str, files: dict[str, str], max_file_bytes: int) -> dict[str, Any]:
        payload = {"code": code, "harness": HARNESS_FILE, "max_file_bytes": max_file_bytes}
        result = self.sandbox.run_function(harness_source(), "script", [payload],
                                           module=HARNESS_MODULE, files=files,
                                           limits=self.limits)
        if not result.ok or not _script_result(result.value):
            out = _failed(result, "run_python")
            out["stderr"] = result.stderr[-2000:]
            if result.ok:
                out["error"] = "the code replaced run_python's result with a malformed one"
            return out
        value = dict(result.value)
        value["stdout"], value["stderr"] = result.stdout[-4000:], result.stderr[-2000:]
        return value
