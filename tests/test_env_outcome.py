"""The family contract's shared parts: outcome comparison and generic corruptions, the one
self-validation check, options, tool schemas from signatures, money in cents."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import Field

from synth.env import (
    EXPECTED,
    Corruption,
    Draft,
    EnvFamily,
    FamilyOptions,
    Task,
    Toolbox,
    cents_in,
    dollars,
    first_difference,
    money,
    numbers_in,
    tool,
    validation_failure,
)
from synth.env.outcome import changed_field_edits, changed_leaves, outcome_edits, perturb

SCALARS = st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.text(max_size=6)
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=4), inner, max_size=4), max_leaves=20)


# -- first difference -------------------------------------------------------------------------
def test_first_difference_names_the_path() -> None:
    want = {"accounts": {"A20003": {"balance": 1200, "status": "active"}}, "bills": [[1, 2]]}
    got = {"accounts": {"A20003": {"balance": 1100, "status": "active"}}, "bills": [[1, 2]]}
    assert first_difference(want, got) == "accounts.A20003.balance: expected 1200, found 1100"
    assert first_difference(want, {**want, "bills": [[1, 3]]}) == (
        "bills[0][1]: expected 2, found 3")
    assert first_difference(want, {**want, "bills": []}) == (
        "bills: expected 1 item, found 0 items []")
    assert first_difference({"a": None}, {}) == "a: expected null, found nothing"
    assert first_difference({}, {"a": "x"}) == 'a: unexpected "x"'
    assert first_difference(1, "1") == 'outcome: expected 1, found "1"'
    assert first_difference(want, want) is None


@settings(max_examples=300, deadline=None)
@given(JSON, JSON)
def test_first_difference_is_none_exactly_when_equal(a: Any, b: Any) -> None:
    found = first_difference(a, b)
    assert (found is None) == (a == b)
    assert first_difference(a, a) is None
    if found is not None:
        assert ": " in found


# -- generic corruptions ----------------------------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(JSON)
def test_perturb_always_changes(value: Any) -> None:
    assert perturb(value) != value
    assert perturb(value, second=True) != value


@settings(max_examples=300, deadline=None)
@given(JSON, JSON)
def test_generic_edits_are_wrong_deterministic_and_leave_the_input(before: Any,
                                                                    after: Any) -> None:
    snapshot = repr(after)
    edits = outcome_edits(before, after)
    assert repr(after) == snapshot, "edits work on copies"
    assert edits == outcome_edits(before, after)
    assert edits[:2] == changed_field_edits(before, after)
    for kind, value in edits:
        assert value != after, kind
    if any(changed_leaves(before, after)) and isinstance(after, dict | list):
        assert {"wrong_field", "other_field", "dropped_field"} <= {k for k, _ in edits}


def test_duplicated_item_doubles_an_item_the_task_added() -> None:
    before = {"bills": [["A1", "gas", 10]], "n": 1}
    after = {"bills": [["A1", "gas", 10], ["A1", "tv", 20]], "n": 1}
    edits = dict(outcome_edits(before, after))
    assert edits["duplicated_item"]["bills"] == [["A1", "gas", 10], ["A1", "tv", 20],
                                                 ["A1", "tv", 20]]
    assert edits["dropped_field"]["bills"] == [["A1", "gas", 10], ["tv", 20]]


# -- one self-validation check ----------------------------------------------------------------
def _wrong(*kinds: str) -> list[Corruption]:
    return [Corruption(kind, {}, "") for kind in kinds]


def test_validation_failure_reasons_in_order() -> None:
    assert validation_failure(_wrong("a", "b"), lambda: [True, False, False]) == (
        "too_few_corruptions")
    assert validation_failure(_wrong("a", "b", "c"), lambda: [False, False, False, False]) == (
        "reference_fails_verifier")
    assert validation_failure(_wrong("a", "b", "c"), lambda: [True, False, True, True]) == (
        "corruption_passes:b")
    assert validation_failure(_wrong("a", "b", "c"), lambda: [True, False, False, False]) is None
    assert validation_failure(_wrong("a"), lambda: [True, False], minimum=1) is None


def test_validation_failure_stops_judging_at_the_first_failure() -> None:
    judged: list[int] = []

    def verdicts():
        for i, passed in enumerate([True, True, False, False]):
            judged.append(i)
            yield passed

    assert validation_failure(_wrong("a", "b", "c"), verdicts) == "corruption_passes:a"
    assert judged == [0, 1]
    never = validation_failure(_wrong("a"), lambda: pytest.fail("judged too few corruptions"))
    assert never == "too_few_corruptions"


# -- a small outcome-comparing family -----------------------------------------------------------
class CounterOptions(FamilyOptions):
    start: int = Field(0, ge=0)
    target: str = "a"


class CounterFamily(EnvFamily):
    """Add to a counter; the answer states the new value."""

    name = "counters_under_test"
    description = "Counters."
    levels = (1, 2)
    Options = CounterOptions

    @tool("Read a counter.", {"counter": {"type": "string"}})
    def read(self, state: dict, counter: str) -> int:
        return state["counters"][counter]

    @tool("Add to a counter.", {"counter": {"type": "string"}, "amount": {"type": "integer"},
                                "note": {"type": "string"}}, writes=True)
    def add(self, state: dict, counter: str, amount: int, note: str = "") -> int:
        state["counters"][counter] += amount
        state["log"].append([counter, amount])
        return state["counters"][counter]

    def build(self, rng: random.Random, difficulty: int) -> Draft:
        start, target = self.options.start, self.options.target
        state = {"counters": {"a": start, "b": start}, "log": []}
        amounts = [rng.randint(1, 9) for _ in range(difficulty)]

        def solve(box: Toolbox) -> str:
            for amount in amounts:
                value = box("add", counter=target, amount=amount)
            return f"{target} is now {value}"

        return Draft(state, "Count.", [f"Add {amounts} to {target}."], [solve],
                     check={"counter": target})

    def outcome(self, task: Task, state: Any) -> Any:
        return {"counters": state["counters"], "log": state["log"]}

    def answer_problem(self, task: Task, answer: str) -> str | None:
        value = task.check[EXPECTED]["counters"][task.check["counter"]]
        return None if str(value) in answer else f"answer does not state {value}"


def test_outcome_family_stores_judges_and_corrupts() -> None:
    family = CounterFamily({"start": 5})
    task = family.generate(7, 2).task
    assert task is not None and task.check["counter"] == "a"
    expected = task.check[EXPECTED]
    assert expected["counters"]["b"] == 5 and len(expected["log"]) == 2
    state, answer = family.run_reference(task)
    assert family.verify(task, state, answer).passed
    state["counters"]["b"] = 6
    assert family.verify(task, state, answer).reason == "counters.b: expected 5, found 6"
    assert family.verify(task, family.run_reference(task)[0], "done").reason.startswith(
        "answer does not state")
    generic = family.generic_corruptions(task, state, answer)
    assert [c.kind for c in generic] == ["missing_write", "wrong_field", "other_field",
                                         "dropped_field", "duplicated_item"]
    for corruption in generic:
        assert not family.verify_corruption(task, corruption).passed


def test_a_lenient_comparison_is_caught_by_the_generic_corruptions() -> None:
    class Lenient(CounterFamily):
        def outcome_problem(self, task: Task, actual: Any) -> str | None:
            return None if actual["counters"] == task.check[EXPECTED]["counters"] else "off"

    assert Lenient().generate(7, 2).discard == "corruption_passes:other_field"


def test_a_family_without_enough_wrong_outcomes_is_discarded() -> None:
    class ReadOnly(CounterFamily):
        def build(self, rng: random.Random, difficulty: int) -> Draft:
            draft = super().build(rng, difficulty)
            draft.solutions = [lambda box: f"a is {box('read', counter='a')}"]
            return draft

    assert ReadOnly().generate(1, 1).discard == "too_few_corruptions"


def test_options_are_validated_and_name_the_field() -> None:
    assert CounterFamily().options == CounterOptions()
    chosen = CounterOptions(start=3)
    assert CounterFamily(chosen).options is chosen and hash(chosen) == hash(CounterOptions(start=3))
    assert CounterFamily({"target": "b"}).generate(1, 1).task.check["counter"] == "b"
    with pytest.raises(ValueError, match="start"):
        CounterFamily({"start": -1})
    with pytest.raises(ValueError, match="colour"):
        CounterFamily({"colour": "red"})
    class Other(FamilyOptions):
        start: str = "many"

    with pytest.raises(ValueError, match="start"):
        CounterFamily(Other())


# -- tool schemas from signatures -------------------------------------------------------------
def test_required_comes_from_the_signature() -> None:
    family = CounterFamily()
    assert family.tools["add"].parameters["required"] == ["counter", "amount"]
    assert family.tools["read"].parameters["required"] == ["counter"]

    def takes(self: Any, state: Any, a: int, b: int = 0) -> None: ...

    schema = tool("t", {"a": {}, "b": {}}, required=["a", "b"])(takes).__synth_tool__[1]
    assert schema["required"] == ["a", "b"]
    with pytest.raises(ValueError, match=r"\['b'\] have no schema"):
        tool("t", {"a": {}})(lambda self, state, a, b: None)
    with pytest.raises(ValueError, match=r"\['c'\] are not parameters"):
        tool("t", {"a": {}, "c": {}})(lambda self, state, a: None)
    assert tool("t", {"a": {}, "c": {}})(lambda self, state, **kw: None).__synth_tool__[1][
        "required"] == []


# -- money --------------------------------------------------------------------------------------
def test_money_text() -> None:
    assert money(123456) == "$1,234.56" and money(5) == "$0.05" and dollars(123456) == 1234.56
    assert cents_in("paid $1,234.56 and 7 on 2024-05-01") == [123456, 700, 202400, 500, 100]
    assert cents_in("7 on 2024-05-01", skip_dates=True) == [700]
    assert cents_in("moved -$5 and -3.5", signed=True) == [500, -350]
    assert numbers_in("1,234.5 bytes") == [1234.5]


@given(st.integers(0, 10**12))
def test_money_reads_back(cents: int) -> None:
    assert cents_in(f"The total is {money(cents)}.") == [cents]
    assert round(dollars(cents) * 100) == cents
