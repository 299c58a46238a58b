"""One conformance suite for every registered environment family.

Adding a family adds its cases here with no edit: the parameters come from the registry.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import generic_examples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from synth.env import (
    EXPECTED,
    MIN_CORRUPTIONS,
    Environment,
    Task,
    canonical_hash,
    copy_state,
    family_names,
    get_family,
)

FAMILIES = family_names()
CASES = [(name, level) for name in FAMILIES for level in get_family(name).levels]
OUTCOME_CASES = [(name, level) for name, level in CASES if get_family(name).compares_outcome]
SEEDS = range(8)
ROOT = Path(__file__).resolve().parent.parent


def first_tasks(name: str, level: int, n: int = 3) -> list[Task]:
    family, tasks = get_family(name), []
    n = generic_examples(name, n)
    for seed in range(200):
        generated = family.generate(seed, level)
        if generated.task is not None:
            tasks.append(generated.task)
            if len(tasks) == n:
                return tasks
    raise AssertionError(f"{name} level {level}: fewer than {n} valid tasks in 200 seeds")


def test_catalog_is_large_enough() -> None:
    assert len(FAMILIES) >= 8, FAMILIES
    assert sum(get_family(n).multi_turn for n in FAMILIES) >= 3
    kinds = {get_family(n).verification for n in FAMILIES}
    assert {"state", "answer", "constraints"} <= kinds


@pytest.mark.parametrize("name", FAMILIES)
def test_family_shape(name: str) -> None:
    family = get_family(name)
    assert family.description and len(family.levels) >= 3
    assert 6 <= len(family.tools) <= 15, "a family exposes 6-15 tools"
    assert any(t.writes for t in family.tools.values()), "a family has write tools"
    assert any(not t.writes for t in family.tools.values()), "a family has read tools"
    for t in family.tools.values():
        Draft202012Validator.check_schema(t.parameters)
        assert t.description


@pytest.mark.parametrize(("name", "level"), CASES)
def test_same_seed_same_task(name: str, level: int) -> None:
    family = get_family(name)
    for task in first_tasks(name, level):
        again = family.generate(task.seed, level).task
        assert again is not None
        assert again.to_json_text() == task.to_json_text()
        assert again.state_hash() == task.state_hash()


@pytest.mark.parametrize(("name", "level"), CASES)
def test_different_seeds_different_tasks(name: str, level: int) -> None:
    tasks = first_tasks(name, level, n=5)
    assert len({t.to_json_text() for t in tasks}) == len(tasks)
    assert len({(tuple(t.user_turns), t.state_hash()) for t in tasks}) == len(tasks)


@pytest.mark.parametrize(("name", "level"), CASES)
def test_gold_passes_and_corruptions_fail(name: str, level: int) -> None:
    family = get_family(name)
    for task in first_tasks(name, level):
        assert 1 <= task.n_reference_calls <= 12
        state, answer = family.run_reference(task)
        assert family.verify(task, state, answer).passed
        corrupted = family.wrong_outcomes(task, state, answer, random.Random(task.seed))
        assert len(corrupted) >= MIN_CORRUPTIONS
        for c in corrupted:
            verdict = family.verify_corruption(task, c)
            assert not verdict.passed, f"corruption {c.kind} passed: {verdict.reason}"
            assert 0.0 <= verdict.score <= 1.0 and verdict.reason


def test_state_families_compare_outcomes() -> None:
    assert len(OUTCOME_CASES) >= 6 * 5, "most state-checking families compare outcomes"


@pytest.mark.parametrize(("name", "level"), OUTCOME_CASES)
def test_generic_corruptions_of_outcome_families_fail(name: str, level: int) -> None:
    """The stored outcome is the reference's; perturbing, dropping or duplicating any part the
    reference changed, or not writing at all, fails with a reason."""
    family = get_family(name)
    for task in first_tasks(name, level):
        state, answer = family.run_reference(task)
        assert family.outcome(task, state) == task.check[EXPECTED]
        changed = family.outcome(task, task.initial_state) != task.check[EXPECTED]
        generic = family.generic_corruptions(task, state, answer)
        kinds = [c.kind for c in generic]
        if not changed:
            assert generic == []
            continue
        assert {"missing_write", "wrong_field", "other_field", "dropped_field"} <= set(kinds)
        for c in generic:
            assert c.projected == (c.kind != "missing_write")
            if c.projected:
                assert c.state != task.check[EXPECTED]
            verdict = family.verify_corruption(task, c)
            assert not verdict.passed, f"generic corruption {c.kind} passed: {verdict.reason}"
            assert verdict.reason


def test_some_generic_corruption_duplicates_an_item() -> None:
    found = set()
    for name, level in OUTCOME_CASES:
        family = get_family(name)
        for task in first_tasks(name, level, n=1):
            state, answer = family.run_reference(task)
            if any(c.kind == "duplicated_item"
                   for c in family.generic_corruptions(task, state, answer)):
                found.add(name)
    assert len(found) >= 3, found


@pytest.mark.parametrize(("name", "level"), CASES)
def test_reference_replays_through_environment(name: str, level: int) -> None:
    family = get_family(name)
    for task in first_tasks(name, level, n=2):
        env = Environment(family, task)
        for turn in task.reference:
            for round_ in turn.rounds:
                for call in round_:
                    result = env.call(call.name, json.dumps(call.arguments))
                    assert result.ok, result.text
        assert env.verify(task.reference[-1].answer).passed
        untouched = Environment(family, task)
        assert not untouched.verify("").passed


@pytest.mark.parametrize("name", FAMILIES)
def test_bad_calls_become_error_results(name: str) -> None:
    family = get_family(name)
    task = first_tasks(name, family.levels[0], n=1)[0]
    env = Environment(family, task)
    before = canonical_hash(env.state)
    tool_name = task.tool_names[0]
    for args in ['{"no_such_argument": 1}', "not json", "[1, 2]", '{"a": ']:
        result = env.call(tool_name, args)
        assert not result.ok and result.text.startswith("Error:")
    assert env.call("no_such_tool", "{}").error == "unknown_tool"
    for t in task.tool_names:
        properties = family.tools[t].parameters.get("properties", {})
        if properties:  # a value of the wrong type for every parameter
            result = env.call(t, json.dumps({p: {"x": [1]} for p in properties}))
            assert result.error == "invalid_arguments", result.text
    assert canonical_hash(env.state) == before, "rejected calls must not change the state"


@pytest.mark.parametrize(("name", "level"), CASES)
def test_task_round_trips_through_json(name: str, level: int) -> None:
    for task in first_tasks(name, level, n=2):
        text = json.dumps(task.to_json())
        back = Task.from_json(json.loads(text))
        assert back.to_json_text() == task.to_json_text()
        assert back.reference[-1].answer == task.reference[-1].answer
        copy_state(back.initial_state)


@pytest.mark.parametrize("name", FAMILIES)
def test_harder_escalates(name: str) -> None:
    family = get_family(name)
    for task in first_tasks(name, family.levels[0], n=3):
        current = task
        while current.difficulty < max(family.levels):
            nxt = family.harder(current).task
            if nxt is None:
                break
            assert nxt.difficulty == current.difficulty + 1

            def weight(t: Task) -> tuple[int, int, int]:
                m = t.metadata
                return t.n_reference_calls, m.get("constraints", 0), m.get("distractors", 0)

            assert sum(weight(nxt)) > sum(weight(current)), (weight(current), weight(nxt))
            state, answer = family.run_reference(nxt)
            assert family.verify(nxt, state, answer).passed
            current = nxt


@pytest.mark.parametrize("name", FAMILIES)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=2**63 - 1), pick=st.integers(0, 10))
def test_generation_yields_task_or_counted_discard(name: str, seed: int, pick: int) -> None:
    family = get_family(name)
    level = family.levels[pick % len(family.levels)]
    generated = family.generate(seed, level)
    assert (generated.task is None) != (generated.discard is None)
    if generated.task is not None:
        assert generated.task.difficulty == level and generated.task.seed == seed


def test_generation_is_independent_of_hash_seed() -> None:
    """Set iteration order changes with PYTHONHASHSEED; tasks must not."""
    code = (
        "from synth.env import get_family, family_names\n"
        "import hashlib\n"
        "h = hashlib.sha256()\n"
        "for n in family_names():\n"
        "    f = get_family(n)\n"
        "    for lvl in f.levels:\n"
        "        for s in range(3):\n"
        "            g = f.generate(s, lvl)\n"
        "            h.update((g.task.to_json_text() if g.task else g.discard).encode())\n"
        "print(h.hexdigest())\n"
    )
    digests = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT,
                             capture_output=True, text=True, check=True)
        digests.add(out.stdout.strip())
    assert len(digests) == 1
