"""Model-written environments under the same contract as procedural families.

A `SynthesizedFamily` covers one or more synthesized environments; each accepted level of an
environment is one task. `generate(seed, level)` picks environment `seed % n` (so the same seed
escalates the same environment), revalidates the level in the sandbox (replay the recorded
trace, the verifier accepts it and rejects every corruption) and emits the task. Tools run the
model-written code in the sandbox, never in this process. The state is
{"environment", "level", "db"}, so one family can route calls of several environments whose
tools share names; schemas that differ between environments are checked per environment.

Model-written code is treated as a pure function of its inputs (checked at synthesis time by
replaying in a fresh sandbox), so tool results, verdicts and revalidations are memoized per
process, keyed by the code's hash: families loaded twice share them.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from jsonschema import Draft202012Validator

from synth.env import (
    Corruption,
    EnvFamily,
    Generated,
    ReferenceTurn,
    Task,
    Tool,
    ToolCall,
    ToolError,
    Verdict,
    canonical_hash,
    canonical_json,
    copy_state,
    make_task_id,
    validation_failure,
)
from synth.sandbox import SandboxLimits
from synth.synthesis.answer import decode_answer, make_corruptions, verdict_items
from synth.synthesis.checks import LevelSpec
from synth.synthesis.runner import CodeRunner
from synth.synthesis.static import check_source

CACHE_SIZE = 4096


class _Memo:
    """A bounded LRU map."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size, self.data = size, OrderedDict[Any, Any]()

    def get(self, key: Any) -> Any:
        if key in self.data:
            self.data.move_to_end(key)
            return self.data[key]
        return None

    def put(self, key: Any, value: Any) -> None:
        self.data[key] = value
        if len(self.data) > self.size:
            self.data.popitem(last=False)


_CALLS, _VERDICTS, _CHECKED = _Memo(), _Memo(), _Memo(1024)


class _Rejected(Exception):
    """A level fails revalidation before its verdicts are in (the reason is the message)."""


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def openai_tool(entry: dict[str, Any]) -> dict[str, Any]:
    """A TOOLS entry as the OpenAI tool the model sees (extra keys such as "writes" dropped)."""
    return {"type": "function", "function": {
        "name": entry["name"], "description": entry["description"],
        "parameters": entry["parameters"]}}


class SynthesizedFamily(EnvFamily):
    """Environments written by the synthesis agent, loaded from its output table."""

    verification = "state"
    multi_turn = False
    blocking_tools = True  # every tool call is a sandbox run

    def __init__(self, name: str, levels: list[LevelSpec], *,
                 limits: SandboxLimits | None = None, max_calls: int = 12,
                 description: str = "") -> None:
        if not levels:
            raise ValueError(f"{name}: no accepted levels to load")
        self.name = name
        self.max_calls = max_calls
        self.specs = {(s.env_id, s.level): s for s in levels}
        self.environments = sorted({s.env_id for s in levels})
        self.levels = tuple(sorted({s.level for s in levels}))
        self.distinct_tasks = len(self.specs)  # one task per accepted level of an environment
        self.description = description or (
            f"{len(self.environments)} model-written environment(s), {len(levels)} task(s)")
        self.runner = CodeRunner(limits)
        self._code = {key: (_sha(s.tools_source), _sha(s.verify_source),
                            canonical_hash(s.to_json())) for key, s in self.specs.items()}
        self._validators: dict[str, Draft202012Validator] = {}
        super().__init__()
        self.tools = self._build_tools()

    # -- tools ------------------------------------------------------------------------------
    def _build_tools(self) -> dict[str, Tool]:
        variants: dict[str, list[dict[str, Any]]] = {}
        for spec in self.specs.values():
            for entry in spec.tools:
                seen = variants.setdefault(entry["name"], [])
                if all(canonical_json(e["parameters"]) != canonical_json(entry["parameters"])
                       for e in seen):
                    seen.append(entry)
        tools = {}
        for name, entries in sorted(variants.items()):
            params = entries[0]["parameters"] if len(entries) == 1 else {
                "type": "object", "anyOf": [e["parameters"] for e in entries]}
            writes = any(e.get("writes") for s in self.specs.values() for e in s.tools
                         if e["name"] == name)
            tools[name] = Tool(name, entries[0]["description"], params,
                               self._tool_fn(name), writes)
        return tools

    def _tool_fn(self, name: str) -> Any:
        def call(state: dict[str, Any], **arguments: Any) -> Any:
            return self._call(state, name, arguments)
        return call

    def _spec(self, state: dict[str, Any]) -> LevelSpec:
        spec = self.specs.get((state.get("environment"), state.get("level")))
        if spec is None:
            raise ValueError("state does not belong to an environment of this family")
        return spec

    def _call(self, state: dict[str, Any], name: str, arguments: dict[str, Any]) -> Any:
        spec = self._spec(state)
        entry = next((t for t in spec.tools if t["name"] == name), None)
        if entry is None:
            raise ToolError(f"unknown tool {name!r} in this environment")
        key = canonical_json(entry["parameters"])
        validator = self._validators.setdefault(key, Draft202012Validator(entry["parameters"]))
        problem = next(iter(validator.iter_errors(arguments)), None)
        if problem is not None:
            raise ToolError(f"invalid arguments for {name}: {problem.message}")
        tools_sha = self._code[(spec.env_id, spec.level)][0]
        memo_key = (tools_sha, canonical_hash(state["db"]), name, canonical_json(arguments))
        found = _CALLS.get(memo_key)
        if found is None:
            out = self.runner.call_tool(spec.tools_source, state["db"], name, arguments)
            if out.get("ok"):
                found = (out["result"], json.dumps(out["db"]))
            else:  # a limit or a crash: as deterministic as a result, and not worth a rerun
                error = f"{name} did not finish ({out.get('kind')}): {out.get('error', '')}"
                found = ({"ok": False, "error": error[:300]}, json.dumps(state["db"]))
            _CALLS.put(memo_key, found)
        result, db_text = found
        state["db"] = json.loads(db_text)
        if not result["ok"]:
            raise ToolError(result["error"].rsplit("\n", 1)[-1])
        return copy_state(result["value"])

    # -- tasks ------------------------------------------------------------------------------
    def generate(self, seed: int, difficulty: int) -> Generated:
        """The task of environment `seed % n` at `difficulty`, revalidated in the sandbox."""
        if difficulty not in self.levels:
            raise ValueError(f"{self.name}: difficulty {difficulty} not in {self.levels}")
        env_id = self.environments[seed % len(self.environments)]
        spec = self.specs.get((env_id, difficulty))
        if spec is None:
            return Generated(None, "level_not_synthesized")
        problem = self._revalidate(spec)
        if problem is not None:
            return Generated(None, problem)
        return Generated(self._task(spec, seed, difficulty))

    def _task(self, spec: LevelSpec, seed: int, difficulty: int) -> Task:
        return Task(
            task_id=make_task_id(self.name, difficulty, seed), family=self.name, seed=seed,
            difficulty=difficulty, system_prompt=spec.system_prompt,
            user_turns=[spec.user_prompt], tools=[openai_tool(t) for t in spec.tools],
            initial_state={"environment": spec.env_id, "level": spec.level,
                           "db": copy_state(spec.db)},
            reference=[ReferenceTurn([[ToolCall(c["name"], c["arguments"])] for c in spec.calls],
                                     spec.answer)],
            check={"environment": spec.env_id, "level": spec.level,
                   "verifies": spec.verifies, "final_db_hash": spec.final_db_hash},
            metadata={"environment": spec.env_id, "source": "synthesized",
                      "required_calls": spec.n_calls, "constraints": spec.constraints,
                      **spec.metadata},
        )

    def _revalidate(self, spec: LevelSpec) -> str | None:
        key = (self._code[(spec.env_id, spec.level)][2], self.max_calls)
        if key in _CHECKED.data:
            return _CHECKED.get(key)
        problem = self._validate(spec)
        _CHECKED.put(key, problem)
        return problem

    def _validate(self, spec: LevelSpec) -> str | None:
        for path, source in (("tools.py", spec.tools_source), ("verify.py", spec.verify_source)):
            found = check_source(source, path)
            if found:
                return f"static:{found[0].reason}"
        if not 1 <= spec.n_calls <= self.max_calls:
            return "calls_out_of_range"
        if canonical_hash(spec.final_db) != spec.final_db_hash:
            return "reference_replay_mismatch"
        wrong = make_corruptions(spec.db, spec.final_db, spec.answer, spec.verifies)
        out: dict[str, Any] = {}

        def judge() -> Iterator[bool]:
            out.update(self.runner.verify_many(spec.verify_source,
                                               verdict_items(spec.answer, wrong),
                                               tools_source=spec.tools_source, db=spec.db,
                                               calls=spec.calls, trace_dbs=True))
            if not out.get("ok"):
                raise _Rejected(f"sandbox:{out.get('kind')}")
            if canonical_hash(out["replay"]["db"]) != spec.final_db_hash or not all(
                    r["ok"] for r in out["replay"]["results"]):
                raise _Rejected("reference_replay_mismatch")
            yield from (v["ok"] and v["score"] >= 1.0 for v in out["verdicts"])

        try:
            problem = validation_failure(wrong, judge)
        except _Rejected as rejected:
            return str(rejected)
        if problem is not None:
            return problem
        final = out["replay"]["db"]
        tools_sha, verify_sha, _ = self._code[(spec.env_id, spec.level)]
        outcomes = [(final, spec.answer), *((c.state, c.answer) for c in wrong)]
        for (db, answer), verdict in zip(outcomes, out["verdicts"], strict=True):
            _VERDICTS.put((verify_sha, canonical_hash(db), answer), verdict)
        before = spec.db
        for call, result, after in zip(spec.calls, out["replay"]["results"], out["replay"]["dbs"],
                                       strict=True):
            key = (tools_sha, canonical_hash(before), call["name"],
                   canonical_json(call["arguments"]))
            _CALLS.put(key, (result, json.dumps(after)))
            before = after
        return None

    # -- verification -------------------------------------------------------------------------
    def verify(self, task: Task, state: Any, answer: str) -> Verdict:
        spec = self.specs.get((task.check["environment"], task.check["level"]))
        if spec is None or not isinstance(state, dict) or "db" not in state:
            return Verdict.fail("the state does not belong to this task")
        key = (self._code[(spec.env_id, spec.level)][1], canonical_hash(state["db"]), answer)
        verdict = _VERDICTS.get(key)
        if verdict is None:
            out = self.runner.verify_many(spec.verify_source,
                                          [{"db": state["db"], "answer": decode_answer(answer)}])
            if not out.get("ok"):
                return Verdict.fail(f"verifier {out.get('kind')}: {out.get('error', '')[:300]}")
            verdict = out["verdicts"][0]
            _VERDICTS.put(key, verdict)
        if not verdict["ok"]:
            return Verdict.fail(f"verifier error: {verdict['error'][-300:]}")
        score = verdict["score"]
        return Verdict(score, verdict["reason"] or "verified", score >= 1.0)

    def corruptions(self, task: Task, state: Any, answer: str,
                    rng: random.Random) -> list[Corruption]:
        """The same wrong outcomes as at synthesis time (deterministic; `rng` unused)."""
        initial = task.initial_state
        return [Corruption(c.kind, {**initial, "db": c.state}, c.answer) for c in
                make_corruptions(initial["db"], state["db"], answer, task.check["verifies"])]
