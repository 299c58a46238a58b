"""Checking one level of a model-written environment, never trusting the agent.

`check_level` runs the checks in order and stops at the first failure; each check appends a
`CheckEntry` (passed or failed, with a stable reason name) to the validation log. A level that
passes every check becomes a `LevelSpec`: everything the loaded family needs to rebuild its
task (database, tool code and schemas, prompts, the recorded call trace and answer, verifier).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from synth.env import MIN_CORRUPTIONS, Corruption, canonical_hash, validation_failure
from synth.synthesis.answer import encode_answer, make_corruptions, verdict_items
from synth.synthesis.config import SynthesisBudgets
from synth.synthesis.runner import CodeRunner
from synth.synthesis.static import check_source

VERIFIES = ("state", "answer")


@dataclass
class CheckEntry:
    """One check of one submission: passed, or failed with a counted reason."""

    check: str
    ok: bool
    reason: str | None = None
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class LevelSpec:
    """An accepted level: an environment + task in data form (see module docstring)."""

    env_id: str
    level: int
    system_prompt: str
    user_prompt: str
    tools: list[dict[str, Any]]
    tools_source: str
    verify_source: str
    solution_source: str
    db: dict[str, Any]
    calls: list[dict[str, Any]]
    answer: str
    final_db: dict[str, Any]
    final_db_hash: str
    verifies: list[str]
    corruptions: list[str]
    constraints: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def n_calls(self) -> int:
        return len(self.calls)

    @property
    def tool_names(self) -> list[str]:
        return [t["name"] for t in self.tools]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LevelSpec:
        return cls(**data)


@dataclass
class LevelOutcome:
    """The checks of one submission and, when all passed, the accepted level."""

    entries: list[CheckEntry]
    spec: LevelSpec | None = None

    @property
    def reason(self) -> str | None:
        return next((e.reason for e in self.entries if not e.ok), None)


class _Stop(Exception):
    pass


class _Log:
    def __init__(self) -> None:
        self.entries: list[CheckEntry] = []

    def ok(self, check: str, detail: str = "") -> None:
        self.entries.append(CheckEntry(check, True, None, detail))

    def fail(self, check: str, reason: str, detail: str) -> _Stop:
        self.entries.append(CheckEntry(check, False, reason, detail[:3000]))
        return _Stop()


def _task(text: str, log: _Log) -> dict[str, Any]:
    try:
        task = json.loads(text)
    except ValueError as exc:
        raise log.fail("task", "task_invalid", f"task.json is not JSON: {exc}") from None
    problems = []
    if not isinstance(task, dict):
        raise log.fail("task", "task_invalid", "task.json must hold an object")
    for key in ("system_prompt", "user_prompt"):
        if not isinstance(task.get(key), str) or not task[key].strip():
            problems.append(f"'{key}' must be a non-empty string")
    if "tools" in task and not (isinstance(task["tools"], list)
                                and all(isinstance(t, str) for t in task["tools"])):
        problems.append("'tools' must be a list of tool names")
    verifies = task.get("verifies", list(VERIFIES))
    if not (isinstance(verifies, list) and verifies and set(verifies) <= set(VERIFIES)):
        problems.append(f"'verifies' must be a non-empty subset of {list(VERIFIES)}")
    constraints = task.get("constraints", 0)
    if not isinstance(constraints, int) or isinstance(constraints, bool) or constraints < 0:
        problems.append("'constraints' must be an integer >= 0")
    if problems:
        raise log.fail("task", "task_invalid", "; ".join(problems))
    log.ok("task")
    return task


def _tool_entries(spec: list[Any], signatures: dict[str, Any], log: _Log) -> None:
    seen: set[str] = set()
    for position, entry in enumerate(spec):
        name = entry.get("name", "")
        where = f"TOOLS[{position}] ({name})"
        if not name.isidentifier() or name in seen or name.startswith("_"):
            raise log.fail("tool_schemas", "tool_schema_invalid",
                           f"{where}: names must be unique identifiers without a leading _")
        seen.add(name)
        if not isinstance(entry.get("description"), str) or not entry["description"].strip():
            raise log.fail("tool_schemas", "tool_schema_invalid", f"{where}: needs a description")
        params = entry.get("parameters")
        try:
            Draft202012Validator.check_schema(params)
        except SchemaError as exc:
            raise log.fail("tool_schemas", "tool_schema_invalid",
                           f"{where}: parameters is not a valid JSON Schema (Draft 2020-12): "
                           f"{exc.message}") from None
        if not isinstance(params, dict) or params.get("type") != "object":
            raise log.fail("tool_schemas", "tool_schema_invalid",
                           f"{where}: parameters must be an object schema (type: object)")
        sig = signatures.get(name)
        if sig is None or sig["first"] != "db":
            raise log.fail("tool_schemas", "tool_signature_mismatch",
                           f"{where}: the function must be def {name}(db, **arguments)")
        props = set(params.get("properties", {}))
        extra = props - set(sig["names"])
        missing = set(sig["required"]) - set(params.get("required", []))
        if (extra and not sig["var_keyword"]) or missing:
            raise log.fail("tool_schemas", "tool_signature_mismatch",
                           f"{where}: schema properties {sorted(props)} / required "
                           f"{sorted(params.get('required', []))} do not match the function's "
                           f"parameters {sig['names']} (required {sig['required']})")
    log.ok("tool_schemas", f"{len(spec)} tools, Draft 2020-12 valid")


def _sandboxed(result: dict[str, Any], check: str, log: _Log) -> dict[str, Any]:
    if not result.get("ok"):
        raise log.fail(check, result.get("kind", f"{check}_error"), result.get("error") or "")
    return result


def _trace(trace: list[dict[str, Any]], tools: dict[str, dict[str, Any]],
           budgets: SynthesisBudgets, log: _Log) -> None:
    for position, call in enumerate(trace):
        if not call["ok"]:
            reason = ("solution_unknown_tool" if call.get("error") == "unknown tool"
                      else "solution_tool_error")
            raise log.fail("trace", reason, f"call {position + 1} {call['name']}"
                           f"({json.dumps(call['arguments'])}) failed: {call.get('error')}")
        validator = Draft202012Validator(tools[call["name"]]["parameters"])
        error = next(iter(validator.iter_errors(call["arguments"])), None)
        if error is not None:
            raise log.fail("trace", "solution_invalid_arguments",
                           f"call {position + 1} {call['name']}: arguments "
                           f"{json.dumps(call['arguments'])} break its schema: {error.message}")
    if not 1 <= len(trace) <= budgets.max_calls:
        raise log.fail("trace", "calls_out_of_range", f"the solution made {len(trace)} tool "
                       f"calls; a task needs between 1 and {budgets.max_calls}")
    log.ok("trace", f"{len(trace)} calls, all valid")


def check_level(files: dict[str, str], level: int, runner: CodeRunner,
                budgets: SynthesisBudgets, env_id: str,
                previous: LevelSpec | None = None) -> LevelOutcome:
    """Run every check of `level` on the folder's current files."""
    log = _Log()
    try:
        spec = _check(files, level, runner, budgets, env_id, previous, log)
    except _Stop:
        return LevelOutcome(log.entries)
    return LevelOutcome(log.entries, spec)


def _check(files: dict[str, str], level: int, runner: CodeRunner, budgets: SynthesisBudgets,
           env_id: str, previous: LevelSpec | None, log: _Log) -> LevelSpec:
    folder = f"level_{level}"
    paths = {"db": "db.json", "tools": "tools.py", "task": f"{folder}/task.json",
             "solution": f"{folder}/solution.py", "verify": f"{folder}/verify.py"}
    missing = [p for p in paths.values() if p not in files]
    if missing:
        raise log.fail("files", "missing_file", f"missing: {', '.join(missing)}")
    log.ok("files")
    try:
        db = json.loads(files[paths["db"]])
    except ValueError as exc:
        raise log.fail("database", "db_invalid", f"db.json is not JSON: {exc}") from None
    if not isinstance(db, dict):
        raise log.fail("database", "db_invalid", "db.json must hold a JSON object")
    log.ok("database", f"{len(files[paths['db']])} bytes")
    task = _task(files[paths["task"]], log)
    sources = {paths[k]: files[paths[k]] for k in ("tools", "solution", "verify")}
    for path, source in sources.items():
        found = [v for v in check_source(source, path) if v.reason == "syntax_error"]
        if found:
            raise log.fail("syntax", "syntax_error", f"{path} line {found[0].line}: "
                           f"{found[0].message}")
    log.ok("syntax")
    for path, source in sources.items():
        found = check_source(source, path)
        if found:
            raise log.fail("static_rules", found[0].reason,
                           "\n".join(f"{path} {v}" for v in found[:5]))
    log.ok("static_rules", "imports, file access, dynamic code, introspection, db access")
    solved = runner.solve(files[paths["tools"]], files[paths["solution"]], db,
                          task.get("tools"))
    if "tools" not in solved:
        kind = solved.get("kind", "tools_load_error")
        if kind.startswith("solution_"):  # stopped by a limit after the tools had loaded
            log.ok("tools_load", "loaded; the solution did not finish")
            raise log.fail("solution_run", kind, solved.get("error") or "")
        raise log.fail("tools_load", kind, solved.get("error") or "")
    log.ok("tools_load", f"isolation={runner.isolation}")
    spec_list = solved["tools"]
    _tool_entries(spec_list, solved["signatures"], log)
    by_name = {t["name"]: t for t in spec_list}
    exposed = task.get("tools", list(by_name))
    unknown = [t for t in exposed if t not in by_name]
    if unknown or not exposed:
        raise log.fail("task", "task_invalid", f"task.json 'tools' names unknown tools {unknown}")
    if not solved.get("ok"):
        trace = solved.get("trace") or []
        kind = solved.get("kind", "solution_error")
        raise log.fail("solution_run", kind, f"{solved.get('error')}\n(trace so far: "
                       f"{[c['name'] for c in trace]})")
    log.ok("solution_run", "ran in the sandbox with only the tool proxy")
    trace = solved["trace"]
    _trace(trace, by_name, budgets, log)
    calls = [{"name": c["name"], "arguments": c["arguments"]} for c in trace]
    answer = encode_answer(solved["answer"])
    constraints = task.get("constraints", 0)
    if previous is not None:
        harder = len(calls) > previous.n_calls or constraints > previous.constraints
        if not harder:
            raise log.fail("escalation", "not_harder",
                           f"level {level} needs more tool calls ({len(calls)} vs "
                           f"{previous.n_calls}) or more constraints ({constraints} vs "
                           f"{previous.constraints}) than level {previous.level}")
        log.ok("escalation", f"{len(calls)} calls vs {previous.n_calls}")
    final_db = solved["db"]
    verifies = list(task.get("verifies") or (VERIFIES if final_db != db else ["answer"]))
    corruptions = make_corruptions(db, final_db, answer, verifies)
    _check_outcomes(files[paths["verify"]], files[paths["tools"]], runner, db, calls, trace,
                    final_db, answer, corruptions, verifies, log)
    writes = {c["name"] for c in trace if c.get("changed")}
    tools = [{**by_name[n], "writes": bool(by_name[n].get("writes")) or n in writes}
             for n in exposed]
    return LevelSpec(
        env_id=env_id, level=level, system_prompt=task["system_prompt"],
        user_prompt=task["user_prompt"], tools=tools, tools_source=files[paths["tools"]],
        verify_source=files[paths["verify"]], solution_source=files[paths["solution"]],
        db=db, calls=calls, answer=answer, final_db=final_db,
        final_db_hash=canonical_hash(final_db),
        verifies=verifies, corruptions=[c.kind for c in corruptions], constraints=constraints,
        metadata={k: v for k, v in task.items() if k not in (
            "system_prompt", "user_prompt", "tools", "verifies", "constraints")},
    )


def _check_outcomes(verify_source: str, tools_source: str, runner: CodeRunner, db: Any,
                    calls: list[dict[str, Any]], trace: list[dict[str, Any]], final_db: Any,
                    answer: str, corruptions: list[Corruption], verifies: list[str],
                    log: _Log) -> None:
    """Replay the trace in a fresh sandbox, then: the verifier accepts the reference's outcome
    and rejects every corruption (and there are enough of them)."""
    verdicts: list[dict[str, Any]] = []

    def judge() -> Iterator[bool]:
        judged = _sandboxed(runner.verify_many(verify_source, verdict_items(answer, corruptions),
                                               tools_source=tools_source, db=db, calls=calls),
                            "verification", log)
        keys = ("ok", "value", "changed")
        replayed = [{k: r.get(k) for k in keys} for r in judged["replay"]["results"]]
        recorded = [{k: c.get(k) for k in keys} for c in trace]
        if replayed != recorded or judged["replay"]["db"] != final_db:
            raise log.fail("replay", "nondeterministic_tools", "replaying the recorded calls in "
                           "a fresh sandbox gave different results or a different database; "
                           "tools must be deterministic functions of (db, arguments)")
        log.ok("replay", "the call trace reproduces the final database")
        verdicts.extend(judged["verdicts"])
        gold = verdicts[0]
        if not gold["ok"]:
            raise log.fail("verify_reference", "verifier_error", gold["error"])
        yield gold["score"] >= 1.0
        log.ok("verify_reference", gold["reason"])
        yield from (v["ok"] and v["score"] >= 1.0 for v in verdicts[1:])

    problem = validation_failure(corruptions, judge)
    kinds = [c.kind for c in corruptions]
    if problem == "too_few_corruptions":
        raise log.fail("corruptions", problem, f"only {kinds} apply (verifies={verifies}); a "
                       f"level needs at least {MIN_CORRUPTIONS} wrong outcomes to reject")
    if problem == "reference_fails_verifier":
        raise log.fail("verify_reference", problem, f"the solution's outcome scored "
                       f"{verdicts[0]['score']}: {verdicts[0]['reason']}")
    if problem is not None:
        accepted = [c.kind for c, v in zip(corruptions, verdicts[1:], strict=True)
                    if v["ok"] and v["score"] >= 1.0]
        raise log.fail("corruptions", "verifier_accepts_corruption",
                       f"verify() accepted wrong outcomes: {accepted} (of {kinds}); it must "
                       "check the database fields the solution wrote and every part of the "
                       "answer")
    log.ok("corruptions", f"rejected {kinds}")
