"""Synthesis checks without Ray: static rules, corruptions, the sandboxed harness, each check's
counted reason on a mutated environment, the agent's tools and the scripted agent's script."""

from __future__ import annotations

import asyncio
import json
import random

import pytest

from synth.env.outcome import changed_leaves, perturb
from synth.pipeline.config import ConfigError
from synth.sandbox import Sandbox, SandboxLimits, SandboxUnavailable, isolation_required
from synth.synthesis.answer import decode_answer, make_corruptions
from synth.synthesis.blueprints import (
    LEVEL_FILES,
    blueprints,
    draw_params,
    find_blueprint,
    render,
    tools_source,
)
from synth.synthesis.checks import check_level
from synth.synthesis.config import SynthesisBudgets, parse_synthesis_config
from synth.synthesis.runner import CodeRunner
from synth.synthesis.scripted_agent import ScriptedSynthesisAgent, assign_faults
from synth.synthesis.session import check_path
from synth.synthesis.static import check_source

LIMITS = SandboxLimits(cpu_s=1, wall_s=6, memory_mb=512)
BUDGETS = SynthesisBudgets()


@pytest.fixture(scope="module")
def runner() -> CodeRunner:
    try:
        sandbox = Sandbox(LIMITS, backend="bwrap")
    except SandboxUnavailable as exc:
        if isolation_required():
            pytest.fail(f"SYNTH_SANDBOX_REQUIRED is set but the sandbox is unusable: {exc}")
        pytest.skip(f"bubblewrap sandbox unavailable ({exc}); set SYNTH_SANDBOX_REQUIRED=1")
    return CodeRunner(LIMITS, sandbox)


def library_files(level: int, seed: int = 0) -> dict[str, str]:
    """The library blueprint rendered up to `level` (what the scripted agent writes)."""
    bp = blueprints()["library_loans"]
    params = draw_params(bp, random.Random(seed), [], [])
    files = {"db.json": render(bp.files["db.json"], params),
             "tools.py": tools_source(bp, level, params)}
    for n in range(1, level + 1):
        for name in LEVEL_FILES:
            files[f"level_{n}/{name}"] = render(bp.level_file(n, name) or "", params)
    return files


# -- static rules ---------------------------------------------------------------------------
@pytest.mark.parametrize(("path", "source", "reason"), [
    ("level_1/solution.py", "def solve(tools)\n    return 1\n", "syntax_error"),
    ("level_1/solution.py", "import json\ndef solve(tools):\n    return json.load(open('x'))\n",
     "solution_reads_db"),
    ("level_1/solution.py", "def solve(tools):\n    return 'db.json'\n", "solution_reads_db"),
    ("level_1/solution.py", "def solve(tools):\n    db = 1\n    return db\n", "solution_reads_db"),
    ("level_1/solution.py", "import os\ndef solve(tools):\n    return 1\n",
     "solution_file_access"),
    ("level_1/solution.py", "import socket\ndef solve(tools):\n    return 1\n",
     "solution_forbidden_import"),
    ("level_1/solution.py", "def solve(tools):\n    return tools._box\n",
     "solution_dunder_access"),
    ("level_1/solution.py", "def solve(tools):\n    return getattr(tools, 'x')\n",
     "solution_introspection"),
    ("level_1/solution.py", "def solve(tools):\n    return eval('1')\n", "solution_dynamic_code"),
    ("level_1/solution.py", "def answer(tools):\n    return 1\n", "solution_missing_solve"),
    ("tools.py", "def f(db):\n    open('../log', 'a').write('x')\nTOOLS = []\n",
     "tools_file_access"),
    ("tools.py", "def f(db):\n    return f.__globals__\nTOOLS = []\n", "tools_dunder_access"),
    ("level_1/verify.py", "import subprocess\ndef verify(db, answer):\n    return True\n",
     "verifier_forbidden_import"),
    ("level_1/verify.py", "def verify(db):\n    return True\n", "verifier_missing_verify"),
])
def test_static_rules_name_their_reason(path: str, source: str, reason: str) -> None:
    assert reason in [v.reason for v in check_source(source, path)]


def test_blueprint_sources_are_clean() -> None:
    for level in (1, 2, 3):
        for path, text in library_files(level).items():
            if path.endswith(".py"):
                assert check_source(text, path) == [], path


# -- answers and corruptions ------------------------------------------------------------------
def test_decode_answer_finds_json_in_prose() -> None:
    assert decode_answer('{"a": 1}') == {"a": 1}
    assert decode_answer('Done!\n```json\n{"a": 2}\n```') == {"a": 2}
    assert decode_answer('Booked: {"id": "K1", "n": [1, 2]} - enjoy') == {"id": "K1", "n": [1, 2]}
    assert decode_answer("no json here") == "no json here"
    assert decode_answer("   ") == ""


def test_corruptions_are_wrong_and_deterministic() -> None:
    before = {"loans": [{"id": "L1", "returned": False}], "n": 1}
    after = {"loans": [{"id": "L1", "returned": True}, {"id": "L2", "returned": False}], "n": 1}
    assert changed_leaves(before, after) == [("loans", 0, "returned"), ("loans", 1, "id"),
                                             ("loans", 1, "returned")]
    answer = json.dumps({"loan": "L2", "fine": 1.5})
    kinds = make_corruptions(before, after, answer, ["state", "answer"])
    assert [c.kind for c in kinds] == ["missing_write", "wrong_field", "other_field",
                                       "wrong_answer", "partial_answer", "empty_answer"]
    assert kinds == make_corruptions(before, after, answer, ["state", "answer"])
    for c in kinds:
        assert (c.state, c.answer) != (after, answer)
    assert [c.kind for c in make_corruptions(before, before, "7", ["answer"])] == [
        "wrong_answer", "partial_answer", "empty_answer"]
    for value in (0, 2.5, True, "S02", [1, 2], {"a": 1}, None):
        assert perturb(value) != value and perturb(value, second=True) != value


# -- the sandboxed harness --------------------------------------------------------------------
def test_solution_has_no_handle_on_the_database(runner: CodeRunner) -> None:
    tools = 'def peek(db):\n    return "ok"\nTOOLS = [{"name": "peek", "description": "d", ' \
            '"parameters": {"type": "object"}}]\n'
    db = {"secret": "s3cr3t"}
    sneaky = [
        "def solve(tools):\n    return open('db.json').read()\n",
        "def solve(tools):\n    return getattr(tools, '__class__').__name__\n",
        "def solve(tools):\n    import os\n    return os.listdir('.')\n",
        "def solve(tools):\n    return __import__('gc').get_objects()\n",
        "def solve(tools):\n    return globals()\n",
    ]
    for source in sneaky:
        out = runner.solve(tools, source, db, ["peek"])
        assert not out["ok"] and "s3cr3t" not in json.dumps(out), source
        assert out["kind"] == "solution_error"
    fine = runner.solve(tools, "def solve(tools):\n    return tools.peek()\n", db, ["peek"])
    assert fine["ok"] and fine["answer"] == "ok" and fine["trace"][0]["name"] == "peek"


def test_endless_loop_is_a_counted_timeout(runner: CodeRunner) -> None:
    files = library_files(1)
    files["level_1/solution.py"] = files["level_1/solution.py"].replace(
        "def solve(tools):\n", "def solve(tools):\n    while True:\n        pass\n", 1)
    assert check_level(files, 1, runner, BUDGETS, "env").reason == "solution_timeout"


def _mutate(files: dict[str, str], path: str, old: str, new: str) -> dict[str, str]:
    assert old in files[path], (path, old)
    return {**files, path: files[path].replace(old, new, 1)}


SOL, VER = "level_1/solution.py", "level_1/verify.py"
MUTATIONS = {
    "missing_file": lambda f: {k: v for k, v in f.items() if k != VER},
    "db_invalid": lambda f: {**f, "db.json": "[1, 2]"},
    "task_invalid": lambda f: {**f, "level_1/task.json": '{"system_prompt": ""}'},
    "tool_schema_invalid": lambda f: _mutate(f, "tools.py", '"required": ["name"]',
                                             '"required": "name"'),
    "tool_signature_mismatch": lambda f: _mutate(f, "tools.py", '"properties": {"name": _ID}',
                                                 '"properties": {"title": _ID}'),
    "tools_load_error": lambda f: _mutate(f, "tools.py", "import datetime", "import datetime\n"
                                          "1 / 0"),
    "solution_unknown_tool": lambda f: _mutate(f, SOL, "tools.find_member(", "tools.find_user("),
    "solution_tool_error": lambda f: _mutate(f, SOL, 'book_id=book["book_id"]', 'book_id="B999"'),
    "solution_invalid_arguments": lambda f: _mutate(
        f, SOL, "def solve(tools):\n", 'def solve(tools):\n    tools.find_member(name="")\n'),
    "nondeterministic_tools": lambda f: _mutate(
        f, "tools.py", 'loan = {"id": f"L{301 + len(db[\'loans\'])}"',
        'import random\n    loan = {"id": f"L{random.randint(0, 10**9)}"'),
    "reference_fails_verifier": lambda f: _mutate(f, VER, 'return 1.0, "the book', 'return 0.5, "'),
    "verifier_error": lambda f: _mutate(f, VER, "def verify(db, answer):\n",
                                        "def verify(db, answer):\n    1 / 0\n"),
    "verifier_accepts_corruption": lambda f: {**f,
                                              VER: "def verify(db, answer):\n    return True\n"},
    "too_few_corruptions": lambda f: _mutate(f, "level_1/task.json", '"verifies": ["state", '
                                             '"answer"]', '"verifies": ["state"]')
    | {SOL: f[SOL].replace("    loan = tools.checkout_book", "    return 1\n    loan = "
                           "tools.checkout_book")},
}


@pytest.mark.parametrize("reason", sorted(MUTATIONS))
def test_each_check_fails_with_its_reason(runner: CodeRunner, reason: str) -> None:
    outcome = check_level(MUTATIONS[reason](library_files(1)), 1, runner, BUDGETS, "env")
    assert outcome.spec is None
    assert outcome.reason == reason, [e for e in outcome.entries if not e.ok]


def test_levels_must_get_harder(runner: CodeRunner) -> None:
    first = check_level(library_files(2), 1, runner, BUDGETS, "env").spec
    assert first is not None and first.n_calls == 3
    files = library_files(2)
    files["level_2/task.json"] = files["level_1/task.json"]
    files["level_2/solution.py"] = files["level_1/solution.py"]
    files["level_2/verify.py"] = files["level_1/verify.py"]
    assert check_level(files, 2, runner, BUDGETS, "env", first).reason == "not_harder"
    small = SynthesisBudgets(max_calls=5)
    assert check_level(library_files(2), 2, runner, small, "env",
                       first).reason == "calls_out_of_range"


# -- the agent's tools and the scripted agent ---------------------------------------------------
@pytest.mark.parametrize(("path", "problem"), [
    ("db.json", None), ("level_2/task.json", None), ("../x", "write_outside_folder"),
    ("/etc/passwd", "write_outside_folder"), ("a/../../b", "write_outside_folder"),
    ("a\\b", "write_outside_folder"), ("a/b/c/d", "bad_path"), ("_synth_harness.py", "bad_path"),
])
def test_write_paths_stay_in_the_folder(path: str, problem: str | None) -> None:
    assert check_path(path) == problem


def test_search_data_finds_names() -> None:
    from synth.synthesis.search import search_data

    hits = search_data("first names last names", 4)
    assert {h["path"] for h in hits[:2]} == {"people.json:first_names", "people.json:last_names"}
    assert all("/" not in h["file"] for h in search_data("library loans solution verify"))


def test_blueprints_match_categories() -> None:
    assert len(blueprints()) >= 4
    assert find_blueprint("Managing a library's loans").slug == "library_loans"
    assert find_blueprint("plan a travel itinerary for a family").slug == "travel_itinerary"
    with pytest.raises(KeyError):
        find_blueprint("quantum chromodynamics")


def test_config_is_validated_at_construction() -> None:
    base = {"output": "/tmp/x", "categories": [{"name": "restocking a warehouse"}]}
    assert parse_synthesis_config(base).count(parse_synthesis_config(base).categories[0]) == 1
    for bad in ({"categories": []}, {"levels": 0}, {"categories": [{"name": "unknown thing"}]},
                {"policy": {"kind": "scripted", "faults": ["nope"]}}, {"output": "ftp://x/y"},
                {"categories": [{"name": "restocking a warehouse"}] * 2}):
        with pytest.raises(ConfigError):
            parse_synthesis_config({**base, **bad})


def test_scripted_agent_is_deterministic_and_writes_dsml() -> None:
    from synth.policy.base import Prompt, Sampling
    from synth.template import parse_completion

    bp = blueprints()["travel_itinerary"]
    make = lambda seed: ScriptedSynthesisAgent(bp, seed=seed, faults=["syntax_error"],  # noqa: E731
                                               levels=3, max_attempts=3)
    names = (["Ana", "Kofi", "Mei"], ["Silva", "Chen"])
    assert make(1).plan(*names) == make(1).plan(*names)
    assert make(1).plan(*names) != make(2).plan(*names)
    completion = asyncio.run(make(1).complete(Prompt("<｜User｜>go<｜Assistant｜>"), Sampling()))
    parsed = parse_completion(completion.text, thinking_mode="thinking")
    assert parsed.ok and parsed.message["tool_calls"][0]["function"]["name"] == "search_data"
    plan = make(1).plan(*names)
    submits = [a.expect for a in plan if a.tool == "submit"]
    assert submits == ["syntax_error", "accepted", "accepted", "accepted"]
    assert assign_faults(["a", "b", "c", "d", "e"], 1, 4) == ["b"]
    assert assign_faults(["a", "b", "c", "d", "e"], 0, 4) == ["a", "e"]


def test_step_budget_ends_the_session_with_a_counted_reason(runner: CodeRunner) -> None:
    from synth.synthesis.loop import environment_row, synthesize_environment

    category = "planning a travel itinerary"
    config = parse_synthesis_config({"output": "/tmp/unused", "categories": [{"name": category}],
                                     "budgets": {"max_steps": 3}})
    agent = ScriptedSynthesisAgent(find_blueprint(category), seed=0, faults=[], levels=3,
                                   max_attempts=3)
    session = asyncio.run(synthesize_environment(config, "travel-000", category, agent, runner))
    assert session.end_reason == "step_budget_exhausted" and not session.accepted
    assert set(session.files) == {"db.json", "tools.py"}
    row = environment_row(session, category_key="travel", index=0, seed=0, model=agent.model,
                          wall_s=0.0)
    assert row["status"] == "discarded" and row["discard_reason"] == "step_budget_exhausted"
    assert json.loads(row["failure_counts"]) == {"step_budget_exhausted": 1}
