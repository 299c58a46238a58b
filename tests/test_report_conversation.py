"""Message views and token runs: never raise on damaged rows, label every role, and keep
every token exactly once (properties with hypothesis)."""

from __future__ import annotations

import itertools
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from synth.report.conversation import message_views, pretty_json, token_runs, tool_schemas

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8),
                                                                       children, max_size=4),
    max_leaves=20)
ROLES = st.sampled_from(["system", "user", "assistant", "tool", "developer", "x", None, 3])
MESSAGE = st.fixed_dictionaries({"role": ROLES}, optional={
    "content": JSON, "reasoning_content": JSON,
    "tool_calls": st.lists(st.fixed_dictionaries({}, optional={
        "function": st.fixed_dictionaries({}, optional={"name": JSON, "arguments": JSON})})
        | JSON, max_size=3) | JSON})


@settings(max_examples=300, deadline=None)
@given(st.lists(MESSAGE | JSON, max_size=8) | JSON)
def test_message_views_never_raise(messages) -> None:
    views = message_views(messages)
    assert all(v.kind in {"system", "user", "user_simulator", "developer", "assistant",
                          "tool_result", "other", "error"} for v in views)
    tool_schemas(messages)


@given(JSON)
def test_pretty_json_round_trips_what_parses(value) -> None:
    text, valid = pretty_json(json.dumps(value))
    assert valid and json.loads(text) == value
    assert pretty_json("{not json")[0] == "{not json"


def test_roles_are_labelled_and_results_name_their_call() -> None:
    calls = [{"type": "function", "function": {"name": "get_user", "arguments": '{"id": 1}'}},
             {"type": "function", "function": {"name": "transfer", "arguments": '{"amount":'}}]
    views = message_views([
        {"role": "system", "content": "You are the bank."},
        {"role": "developer", "content": "Earlier results were dropped."},
        {"role": "user", "content": "Pay my bill."},
        {"role": "assistant", "content": "", "reasoning_content": "Look up first.",
         "tool_calls": calls},
        {"role": "tool", "content": '{"id": 1}'},
        {"role": "tool", "content": "Error: invalid arguments for transfer"},
        {"role": "assistant", "content": "Done."},
        {"role": "user", "content": "And the other one."},
    ])
    assert [v.kind for v in views] == ["system", "developer", "user", "assistant",
                                       "tool_result", "tool_result", "assistant",
                                       "user_simulator"]
    assert views[3].reasoning == "Look up first."
    assert views[3].calls[0].arguments == '{\n  "id": 1\n}' and views[3].calls[0].valid_json
    assert views[3].calls[1].arguments == '{"amount":' and not views[3].calls[1].valid_json
    assert [views[4].label, views[5].label] == ["result of get_user", "result of transfer"]
    assert views[5].is_error and not views[4].is_error
    assert views[7].label == "user simulator: turn 1"


def _decode(ids: list[int]) -> str:
    return "".join(f"<{i}>" for i in ids)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 999), st.integers(0, 1)), max_size=200),
       st.integers(16, 64))
def test_token_runs_keep_every_token_once(pairs, shown) -> None:
    ids, mask = [i for i, _ in pairs], [m for _, m in pairs]
    runs = token_runs(ids, mask, _decode, context_shown=shown)
    assert sum(r.n_tokens for r in runs) == len(ids)
    assert sum(r.n_tokens for r in runs if r.trained) == sum(mask)
    position = 0
    for run in runs:
        assert run.start == position
        piece = ids[position:position + run.n_tokens]
        assert set(mask[position:position + run.n_tokens]) == {int(run.trained)}
        if run.elided:
            half = shown // 2
            assert not run.trained and run.elided == run.n_tokens - 2 * half
            assert (run.text, run.tail) == (_decode(piece[:half]), _decode(piece[-half:]))
        else:
            assert run.text == _decode(piece) and (run.trained or run.n_tokens <= shown)
        position += run.n_tokens
    for left, right in itertools.pairwise(runs):
        assert left.trained != right.trained
