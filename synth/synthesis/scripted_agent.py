"""A scripted stand-in for the synthesis agent: writes environments from blueprints.

Like the scripted rollout model it is stateless: the step is the number of tool results in
the prompt, and everything it writes is drawn from (seed, the names its search found). It
writes reasoning and DSML tool calls through the template codec, exactly like V3.2. It plants
faulty attempts (a syntax error, a verifier that accepts everything, a solution that reads the
database, an endless loop, a tool that writes outside its folder, a path outside the folder,
a verifier it never fixes), reads the check's answer and repairs, so every check is exercised.
If a result is not what it planned for, it stops and says so.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from typing import Any

from synth.policy.base import FINISH_STOP, Completion, Policy, Prompt, Sampling
from synth.synthesis.blueprints import (
    LEVEL_FILES,
    TOOLS_ADDED,
    Blueprint,
    draw_params,
    names_from_search,
    render,
    tools_source,
)
from synth.template import render_completion

RESULTS_END = "</function_results>"
USER_MARK = "<｜User｜>"
_RESULT = re.compile(r"<result>(.*?)</result>", re.S)

EXPECTED_REASON = {
    "syntax_error": "syntax_error",
    "verifier_accepts_all": "verifier_accepts_corruption",
    "solution_reads_db": "solution_reads_db",
    "endless_loop": "solution_timeout",
    "tool_writes_outside": "tools_file_access",
    "exhaust_budget": "verifier_accepts_corruption",
}
FAULT_LEVEL = {"syntax_error": 1, "tool_writes_outside": 1, "path_escape": 1,
               "verifier_accepts_all": 2, "solution_reads_db": 2, "endless_loop": 2}

ACCEPT_ALL = "def verify(db, answer):\n    return True\n"
READS_DB = ('import json\n\n\ndef solve(tools):\n    with open("db.json") as fh:\n'
            '        db = json.load(fh)\n    return {"tables": sorted(db)}\n')
LOOP = ("def solve(tools):\n    ready = False\n    while not ready:\n"
        "        ready = ready and bool(tools)\n")
AUDIT = ('\n\ndef _audit(action, **details):\n    with open("../audit.log", "a") as log:\n'
         '        log.write(repr((action, details)) + "\\n")\n')


def assign_faults(faults: list[str], ordinal: int, total: int) -> list[str]:
    """The faults environment `ordinal` of `total` plants (round-robin over environments)."""
    return [f for j, f in enumerate(faults) if j % max(total, 1) == ordinal]


@dataclass(frozen=True)
class Action:
    """One tool call of the plan and what its result should say."""

    tool: str
    arguments: dict[str, Any]
    thought: str
    expect: str | None = None  # submit: "accepted" or a reason; write_file: "error"
    meta: dict[str, Any] = field(default_factory=dict)


class ScriptedSynthesisAgent(Policy):
    """Deterministic blueprint-following synthesis agent with planted faults."""

    def __init__(self, blueprint: Blueprint, *, seed: int, faults: list[str], levels: int,
                 max_attempts: int, model: str = "scripted-synthesis-agent") -> None:
        self.blueprint, self.seed, self.faults = blueprint, seed, list(faults)
        self.levels = min(levels, blueprint.levels)
        self.max_attempts = max_attempts
        self.model = model

    async def complete(self, prompt: Prompt, sampling: Sampling) -> Completion:
        text = render_completion(self._message(prompt.text), thinking_mode="thinking")
        return Completion(text=text, finish_reason=FINISH_STOP,
                          completion_tokens=max(1, len(text) // 3))

    # -- deciding ----------------------------------------------------------------------------
    def _message(self, prompt: str) -> dict[str, Any]:
        turn = prompt[prompt.rfind(USER_MARK):]  # the system prompt's tool help has examples
        step = turn.count(RESULTS_END)
        results = _RESULT.findall(turn)
        first, last = names_from_search(results[0]) if results else ([], [])
        plan = self.plan(first, last)
        if step > 0 and step <= len(plan):
            surprise = self._surprise(plan[step - 1], results[-1] if results else "")
            if surprise:
                return self._final(f"That result is not what I expected: {surprise}. "
                                   "I will stop here rather than guess.",
                                   "Stopping: an unexpected check result.")
        if step >= len(plan):
            return self._final("Every level is written and checked.", "The environment is done.")
        action = plan[step]
        thought = action.thought
        if step > 0 and plan[step - 1].tool == "submit" and plan[step - 1].expect != "accepted":
            thought = f"{self._failure(results[-1])} {thought}"
        call = {"type": "function", "function": {
            "name": action.tool, "arguments": json.dumps(action.arguments, ensure_ascii=False)}}
        return {"role": "assistant", "reasoning_content": thought, "content": "",
                "tool_calls": [call]}

    @staticmethod
    def _final(thought: str, content: str) -> dict[str, Any]:
        return {"role": "assistant", "reasoning_content": thought, "content": content}

    @staticmethod
    def _failure(result: str) -> str:
        try:
            report = json.loads(result)
        except ValueError:
            return "The submission failed."
        detail = str(report.get("detail", "")).strip().splitlines()
        return (f"The {report.get('failed_check')} check failed with {report.get('reason')}"
                f"{': ' + detail[-1][:160] if detail else ''}.")

    @staticmethod
    def _surprise(action: Action, result: str) -> str | None:
        if action.expect is None:
            return None
        if action.expect == "error":
            return None if result.startswith("Error:") else "the write was accepted"
        try:
            report = json.loads(result)
        except ValueError:
            return f"submit answered {result[:200]!r}"
        if action.expect == "accepted":
            return None if report.get("accepted") else f"rejected with {report.get('reason')}"
        if report.get("accepted"):
            return f"accepted although I expected {action.expect}"
        if report.get("reason") != action.expect:
            return f"rejected with {report.get('reason')}, expected {action.expect}"
        return None

    # -- the plan ----------------------------------------------------------------------------
    def plan(self, first: list[str], last: list[str]) -> list[Action]:
        """Every action of this environment, given the names the search found."""
        bp = self.blueprint
        params = draw_params(bp, random.Random(self.seed), first, last)
        acts = [Action("search_data", {"query": bp.search, "limit": 4},
                       f"The category is {bp.category}. I want realistic people in the "
                       "database, so I look for names in the local data first.")]
        at_level: dict[int, list[str]] = {}
        for kind in self.faults:
            level = self.levels if kind == "exhaust_budget" else min(FAULT_LEVEL[kind],
                                                                      self.levels)
            at_level.setdefault(level, []).append(kind)
        if "path_escape" in self.faults:
            acts.append(Action("write_file", {"path": "../shared_notes.md", "content":
                               f"# Notes on {bp.category}\n"},
                               "Let me keep design notes next to the environment folder.",
                               expect="error"))
        tools = tools_source(bp, 1, params)
        names = ", ".join(re.findall(r"^def ([a-z]\w*)\(db", tools, re.M))
        acts += [
            Action("write_file", {"path": "db.json", "content": render(bp.files["db.json"],
                                                                       params)},
                   f"I found {len(first)} first names and {len(last)} last names. Now the "
                   "database: a JSON object with the records this category needs, including "
                   "a few distractors."),
            Action("write_file", {"path": "tools.py", "content": tools},
                   f"Next the tools ({names}). Each takes db first, validates its input and "
                   "raises a clear error for an impossible request."),
            Action("run_python", {"code": bp.probe},
                   "A quick smoke test of the tools against the database in the sandbox."),
        ]
        for level in range(1, self.levels + 1):
            acts += self._level(level, params, at_level.get(level, []))
            if "exhaust_budget" in at_level.get(level, []):
                break
        return acts

    def _level(self, level: int, params: dict[str, str], faults: list[str]) -> list[Action]:
        bp = self.blueprint
        acts: list[Action] = []
        good = {f"level_{level}/{name}": render(bp.level_file(level, name) or "", params)
                for name in LEVEL_FILES}
        if level > 1 and bp.level_file(level, TOOLS_ADDED):
            added = tools_source(bp, level, params)
            acts.append(Action("write_file", {"path": "tools.py", "content": added},
                               f"Level {level} needs more than the current tools can do, so I "
                               "add tools to tools.py."))
        task = json.loads(good[f"level_{level}/task.json"])
        acts += [
            Action("write_file", {"path": path, "content": text},
                   self._write_thought(level, path.rsplit("/", 1)[1], task))
            for path, text in good.items()]
        files = {**good, "tools.py": tools_source(bp, level, params)}
        planted = [k for k in faults if k in EXPECTED_REASON and k != "exhaust_budget"]
        for kind in planted[: self.max_attempts - 1]:
            path, bad, why = self._faulty(kind, level, files)
            acts += [Action("write_file", {"path": path, "content": bad}, why),
                     Action("submit", {"level": level}, f"Submitting level {level}.",
                            expect=EXPECTED_REASON[kind], meta={"fault": kind}),
                     Action("write_file", {"path": path, "content": files[path]},
                            f"Rewriting {path} correctly.")]
        if "exhaust_budget" in faults:
            path = f"level_{level}/verify.py"
            acts.append(Action("write_file", {"path": path, "content": ACCEPT_ALL},
                               "A short verifier will do for this level."))
            for _ in range(self.max_attempts):
                acts.append(Action("submit", {"level": level},
                                   "I think the verifier is fine; submitting again.",
                                   expect=EXPECTED_REASON["exhaust_budget"],
                                   meta={"fault": "exhaust_budget"}))
            return acts
        acts.append(Action("submit", {"level": level}, f"Submitting level {level}.",
                           expect="accepted"))
        return acts

    @staticmethod
    def _write_thought(level: int, name: str, task: dict[str, Any]) -> str:
        if name == "task.json":
            return (f"Level {level}: {task['user_prompt'][:140]}... The prompt states the "
                    "request and the exact JSON reply format.")
        if name == "solution.py":
            return "The reference solution calls only the tools and plain logic."
        return ("The verifier recomputes the expected outcome from the final database and "
                "checks every field the solution writes and every part of the reply.")

    @staticmethod
    def _faulty(kind: str, level: int, files: dict[str, str]) -> tuple[str, str, str]:
        solution = f"level_{level}/solution.py"
        if kind == "syntax_error":
            bad = files[solution].replace("def solve(tools):", "def solve(tools)", 1)
            return solution, bad, "Writing the solution quickly."
        if kind == "verifier_accepts_all":
            return (f"level_{level}/verify.py", ACCEPT_ALL,
                    "The solution is obviously right, so a trivial verifier should do.")
        if kind == "solution_reads_db":
            return solution, READS_DB, "Reading db.json directly would make the solution simpler."
        if kind == "endless_loop":
            bad = files[solution].replace("def solve(tools):\n", LOOP, 1)
            return solution, bad, "The solution should wait until the data is ready."
        if kind == "tool_writes_outside":
            return ("tools.py", files["tools.py"] + AUDIT,
                    "An audit log beside the folder would help debugging the tools.")
        raise ValueError(f"unknown fault {kind!r}")
