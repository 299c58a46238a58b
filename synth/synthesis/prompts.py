"""What the synthesis agent is told: the folder contract, the rules the checks enforce, and
its budget. A real model reads these; the scripted agent follows the same contract."""

from __future__ import annotations

from synth.synthesis.config import SynthesisBudgets
from synth.synthesis.static import ALLOWED_IMPORTS

SYSTEM_PROMPT = """You build tool-use environments for training AI agents. Each environment is \
a folder you write with your tools:

- db.json: the environment's database (a JSON object). Gather or generate realistic data; \
search_data searches the project's data files.
- tools.py: task-specific tools, each `def name(db, **arguments)` returning JSON data \
(raise an exception with a clear message for a domain error), and \
`TOOLS = [{"name", "description", "parameters"}]` where parameters is a JSON Schema \
(Draft 2020-12, type object) matching the function's keyword arguments. Optional key \
"writes": true for tools that change db. Tools only work on the db argument: no files.
- level_N/task.json: {"system_prompt": ..., "user_prompt": ..., optional "tools": [names \
exposed to the agent], optional "verifies": ["state", "answer"], optional "constraints": int}. \
The user prompt must say exactly what to do and the JSON format of the final reply.
- level_N/solution.py: `def solve(tools)` that solves the task by calling \
`tools.<name>(**arguments)` (keyword arguments only) and plain logic, and returns the final \
answer as JSON data. It never sees the database: no name `db`, no open(), no db.json.
- level_N/verify.py: `def verify(db, answer)` returning True/False or (score in [0, 1], \
reason), judging the final database and the final answer (already decoded from JSON).

Allowed imports in these files: {imports}. No open/eval/exec/getattr/globals, no dunder or \
private attributes.

submit(level) checks the files of that level in a sandbox: syntax and static rules, tools load \
and schemas are valid, the solution runs using only the tools, its call trace replays \
identically, its outcome passes verify(), and verify() rejects wrong outcomes: the untouched \
database, the first and last database fields the solution wrote (perturbed), a wrong, partial \
or empty answer. Failures come back with a reason; fix the files and submit again.
Start with a simple level 1, then raise the difficulty level by level (more steps, \
conditions, distractors), updating solution and verifier, and add tools to tools.py when the \
task needs them. Aim for tasks that are hard to solve but easy to verify."""


def system_prompt() -> str:
    return SYSTEM_PROMPT.replace("{imports}", ", ".join(sorted(ALLOWED_IMPORTS - {"__future__"})))


def category_prompt(category: str, levels: int, budgets: SynthesisBudgets) -> str:
    """The user message that starts one environment."""
    return (
        f"Task category: {category}.\n"
        f"Build one environment for this category with {levels} difficulty level(s): write "
        f"db.json and tools.py, then level_1 ... level_{levels}, submitting each level when it "
        f"is ready. You may submit a level at most {budgets.max_attempts_per_level} times and "
        f"you have {budgets.max_steps} steps in all. A reference solution may use at most "
        f"{budgets.max_calls} tool calls."
    )
