"""encode_messages against the official fixtures and hand-written expectations from TEMPLATE.md."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from test_template_strategies import conversations

from synth.template import encode_messages, parse_completion, render_completion, to_json

FIXTURES = Path(__file__).parent / "fixtures" / "dsv32"
BOS, EOS = "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"
U, A = "<｜User｜>", "<｜Assistant｜>"
RF_HEAD = "## Response Format:\n\nYou MUST strictly adhere to the following schema to reply:\n"
CALLS_OPEN, CALLS_CLOSE = "\n\n<｜DSML｜function_calls>\n", "\n</｜DSML｜function_calls>"


def fixture_messages() -> list[dict]:
    data = json.loads((FIXTURES / "test_input.json").read_text(encoding="utf-8"))
    messages = data["messages"]
    messages[0]["tools"] = data["tools"]
    return messages


def fixture_tools_block() -> str:
    """The TOOLS_BLOCK of the fixture's tools, cut verbatim out of test_output.txt."""
    text = (FIXTURES / "test_output.txt").read_text(encoding="utf-8")
    return text[text.index("## Tools"):text.index("</functions>\n") + len("</functions>\n")]


def call(name: str, args: dict) -> dict:
    return {"type": "function", "function": {"name": name, "arguments": json.dumps(args)}}


def without_ids(message: dict) -> dict:
    out = {k: v for k, v in message.items() if k != "tool_call_id"}
    if "tool_calls" in out:
        out["tool_calls"] = [{"type": c["type"], "function": c["function"]}
                             for c in out["tool_calls"]]
    return out


# -- the official fixtures ---------------------------------------------------------------------
def test_official_fixture_renders_byte_identical() -> None:
    expected = (FIXTURES / "test_output.txt").read_text(encoding="utf-8").removesuffix("\n")
    got = encode_messages(fixture_messages(), thinking_mode="thinking", drop_thinking=True,
                          add_default_bos_token=True)
    assert got == expected


@pytest.mark.parametrize("index", [4, -6])
def test_official_fixture_message_round_trips(index: int) -> None:
    messages = fixture_messages()
    position = index % len(messages)
    text = encode_messages([messages[index]], thinking_mode="thinking",
                           context=messages[:position])
    result = parse_completion(text, thinking_mode="thinking")
    assert result.ok and result.eos and result.error is None
    expected = without_ids(messages[index])
    expected.setdefault("content", "")
    assert result.message == expected
    assert render_completion(messages[index]) == text


def test_model_card_example_prompt() -> None:
    seed = json.loads((FIXTURES / "seed_example.json").read_text(encoding="utf-8"))
    assert encode_messages(seed["messages"], **seed["encode_kwargs"]) == seed["expected_prompt"]
    assert seed["expected_prompt"] == (
        f"{BOS}{U}hello{A}</think>Hello! I am DeepSeek.{EOS}{U}1+1=?{A}<think>")


# -- hand-written expectations ------------------------------------------------------------------
TOOL_TURN = [
    {"role": "system", "content": "S"},
    {"role": "user", "content": "hi"},
    {"role": "assistant", "reasoning_content": "r1", "tool_calls": [call("f", {"a": 1})]},
    {"role": "tool", "content": "R"},
    {"role": "assistant", "reasoning_content": "r2", "content": "done"},
]
F_CALL = (CALLS_OPEN + '<｜DSML｜invoke name="f">\n'
          '<｜DSML｜parameter name="a" string="false">1</｜DSML｜parameter>\n'
          "</｜DSML｜invoke>" + CALLS_CLOSE)
RESULTS = "\n\n<function_results>\n<result>R</result>\n</function_results>\n\n"


def test_thinking_mode_keeps_reasoning_after_last_user() -> None:
    assert encode_messages(TOOL_TURN) == (
        f"{BOS}S{U}hi{A}<think>r1</think>{F_CALL}{EOS}{RESULTS}<think>r2</think>done{EOS}")


def test_thinking_mode_drops_reasoning_below_last_user() -> None:
    messages = [*TOOL_TURN, {"role": "user", "content": "more"}]
    assert encode_messages(messages) == (
        f"{BOS}S{U}hi{A}</think>{F_CALL}{EOS}{RESULTS}</think>done{EOS}{U}more{A}<think>")


def test_chat_mode() -> None:
    assert encode_messages(TOOL_TURN, thinking_mode="chat") == (
        f"{BOS}S{U}hi{A}</think>{F_CALL}{EOS}{RESULTS}</think>done{EOS}")
    # chat mode accepts an assistant without reasoning or tool calls after the last user
    assert encode_messages([{"role": "user", "content": "q"},
                            {"role": "assistant", "content": "a"}], "chat") == (
        f"{BOS}{U}q{A}</think>a{EOS}")


def test_parameter_rendering_string_and_json_values() -> None:
    args = {"s": "x \"y\"\n", "n": 1.5, "b": True, "z": None, "l": [1, "é"], "o": {"k": "v"}}
    text = render_completion({"role": "assistant", "tool_calls": [call("g", args)]})
    params = "\n".join([
        '<｜DSML｜parameter name="s" string="true">x "y"\n</｜DSML｜parameter>',
        '<｜DSML｜parameter name="n" string="false">1.5</｜DSML｜parameter>',
        '<｜DSML｜parameter name="b" string="false">true</｜DSML｜parameter>',
        '<｜DSML｜parameter name="z" string="false">null</｜DSML｜parameter>',
        '<｜DSML｜parameter name="l" string="false">[1, "é"]</｜DSML｜parameter>',
        '<｜DSML｜parameter name="o" string="false">{"k": "v"}</｜DSML｜parameter>'])
    assert text == (f'</think>{CALLS_OPEN}<｜DSML｜invoke name="g">\n{params}\n'
                    f"</｜DSML｜invoke>{CALLS_CLOSE}{EOS}")


def test_empty_arguments_render_a_blank_line() -> None:
    text = render_completion({"role": "assistant", "tool_calls": [call("now", {})]}, "chat")
    assert text == f'{CALLS_OPEN}<｜DSML｜invoke name="now">\n\n</｜DSML｜invoke>{CALLS_CLOSE}{EOS}'


def test_developer_message() -> None:
    rf = {"type": "json_schema", "name": "é"}
    dev = {"role": "developer", "content": "do X", "tools": fixture_messages()[0]["tools"],
           "response_format": rf}
    body = (f"{U}\n\n{fixture_tools_block()}\n\n{RF_HEAD}{json.dumps(rf, ensure_ascii=False)}"
            f"\n\n# The user's message is: do X{A}")
    assert encode_messages([dev]) == f"{BOS}{body}<think>"
    assert encode_messages([dev], thinking_mode="chat") == f"{BOS}{body}</think>"
    plain = {"role": "developer", "content": "hi"}
    assert encode_messages([plain]) == f"{BOS}{U}\n\n# The user's message is: hi{A}<think>"


def test_developer_below_last_user_is_removed_in_thinking_mode() -> None:
    messages = [{"role": "system", "content": "S"}, {"role": "developer", "content": "d1"},
                {"role": "assistant", "reasoning_content": "r", "content": "a1"},
                {"role": "user", "content": "u2"}]
    kept = f"{U}\n\n# The user's message is: d1{A}</think>"
    assert encode_messages(messages) == f"{BOS}Sa1{EOS}{U}u2{A}<think>"
    assert encode_messages(messages, drop_thinking=False) == (
        f"{BOS}S{kept}a1{EOS}{U}u2{A}<think>")
    assert encode_messages(messages, thinking_mode="chat") == (
        f"{BOS}S{kept}a1{EOS}{U}u2{A}</think>")


def test_response_format_and_tools_on_system() -> None:
    tools = fixture_messages()[0]["tools"]
    msg = {"role": "system", "content": "S", "tools": tools, "response_format": {"type": "x"}}
    assert encode_messages([msg]) == (
        f'{BOS}S\n\n{fixture_tools_block()}\n\n{RF_HEAD}{{"type": "x"}}')
    assert encode_messages([{"role": "system", "response_format": {"a": 1}}]) == (
        f'{BOS}\n\n{RF_HEAD}{{"a": 1}}')
    assert encode_messages([{"role": "system", "content": "S", "tools": []}]) == f"{BOS}S"


def test_context_is_taken_into_account_but_not_rendered() -> None:
    two_calls = {"role": "assistant", "reasoning_content": "r",
                 "tool_calls": [call("f", {}), call("g", {})]}
    context = [{"role": "user", "content": "u"}, two_calls, {"role": "tool", "content": "1"}]
    assert encode_messages([{"role": "tool", "content": "2"}], context=context) == (
        "\n<result>2</result>\n</function_results>\n\n<think>")
    assert encode_messages([{"role": "user", "content": "b"}],
                           context=[{"role": "user", "content": "a"}]) == f"{U}b{A}<think>"
    # a later user message in `messages` puts the context's user below last_user
    assert encode_messages([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}],
                           context=[]) == f"{BOS}{U}a{A}</think>{U}b{A}<think>"


def test_bos_rules() -> None:
    user = [{"role": "user", "content": "x"}]
    assert encode_messages(user).startswith(BOS)
    assert encode_messages(user, context=[]).startswith(BOS)
    assert encode_messages(user, add_default_bos_token=False) == f"{U}x{A}<think>"
    assert not encode_messages(user, context=[{"role": "system", "content": "s"}]).startswith(BOS)
    assert encode_messages([]) == BOS


def test_unfinished_tool_block_then_user_is_rendered_as_the_reference_does() -> None:
    messages = [{"role": "user", "content": "u"},
                {"role": "assistant", "reasoning_content": "r",
                 "tool_calls": [call("f", {}), call("g", {})]},
                {"role": "tool", "content": "1"}, {"role": "user", "content": "v"}]
    assert encode_messages(messages).endswith(
        f"{EOS}\n\n<function_results>\n<result>1</result>{U}v{A}<think>")


def test_to_json_falls_back_to_ascii(monkeypatch: pytest.MonkeyPatch) -> None:
    real = json.dumps

    def picky(value: object, **kwargs: object) -> str:
        if kwargs.get("ensure_ascii") is False:
            raise UnicodeEncodeError("utf-8", "é", 0, 1, "test")
        return real(value, **kwargs)

    monkeypatch.setattr(json, "dumps", picky)
    assert to_json({"k": "é"}) == '{"k": "\\u00e9"}'
    out = encode_messages([{"role": "system", "response_format": {"k": "é"}}])
    assert out.endswith('{"k": "\\u00e9"}')


def test_encode_does_not_mutate_its_input() -> None:
    messages = [{"role": "developer", "content": "d"}, *TOOL_TURN,
                {"role": "user", "content": "again"}]
    context = [{"role": "system", "content": "c"}]
    before = copy.deepcopy((messages, context))
    encode_messages(messages)
    encode_messages(messages[1:], context=context)
    assert (messages, context) == before


# -- rejected inputs -----------------------------------------------------------------------------
USER = {"role": "user", "content": "u"}
ONE_CALL = {"role": "assistant", "reasoning_content": "r", "tool_calls": [call("f", {})]}


def bad_args(arguments: object) -> dict:
    return {"role": "assistant", "reasoning_content": "r",
            "tool_calls": [{"type": "function", "function": {"name": "f",
                                                             "arguments": arguments}}]}


REJECTED = [
    ([USER, {"role": "bot", "content": "x"}], {}, "messages[1]", "unknown role"),
    ([USER, "not a dict"], {}, "messages[1]", "must be a dict"),
    ([{"role": "developer", "content": ""}], {}, "messages[0]", "non-empty"),
    ([USER, {"role": "developer"}], {}, "messages[1]", "non-empty"),
    ([USER, {"role": "assistant", "content": "x"}], {}, "messages[1]", "reasoning_content"),
    ([USER, {"role": "tool", "content": "r"}], {}, "messages[1]", "preceding assistant"),
    ([{"role": "tool", "content": "r"}], {}, "messages[0]", "preceding assistant"),
    ([USER, {"role": "assistant", "reasoning_content": "r"}, {"role": "tool", "content": "x"}],
     {}, "messages[2]", "no tool calls"),
    ([USER, ONE_CALL, {"role": "tool", "content": "1"}, {"role": "tool", "content": "2"}], {},
     "messages[3]", "more tool results"),
    ([USER, bad_args("{bad")], {}, "messages[1]", "not valid JSON"),
    ([USER, bad_args("[1, 2]")], {}, "messages[1]", "JSON object"),
    ([USER, bad_args({"a": 1})], {}, "messages[1]", "JSON object string"),
    ([USER, {"role": "assistant", "reasoning_content": "r", "tool_calls": [{"x": 1}]}], {},
     "messages[1]", "'function'"),
    ([{"role": "user", "content": None}], {}, "messages[0]", "must be a string"),
    ([{"role": "system", "content": "s", "tools": [{"name": "f"}]}], {}, "messages[0]", "tools[0]"),
    ([USER], {"context": [{"role": "bot"}]}, "context[0]", "unknown role"),
    ([{"role": "tool", "content": "x"}], {"context": [USER]}, "messages[0]",
     "preceding assistant"),
    ([USER], {"thinking_mode": "fast"}, "thinking_mode", "invalid"),
    ([], {"thinking_mode": "fast"}, "thinking_mode", "invalid"),
]


@pytest.mark.parametrize(("messages", "kwargs", "where", "reason"), REJECTED)
def test_rejected_inputs_raise_value_error_naming_the_message(
        messages: list, kwargs: dict, where: str, reason: str) -> None:
    with pytest.raises(ValueError) as info:
        encode_messages(messages, **kwargs)
    assert where in str(info.value) and reason in str(info.value)


# -- properties ----------------------------------------------------------------------------------
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conversations())
def test_render_grows_by_appending_inside_one_user_turn(messages: list[dict]) -> None:
    last_user = max(i for i, m in enumerate(messages) if m["role"] in ("user", "developer"))
    previous = encode_messages(messages[:last_user + 1])
    for i in range(last_user + 2, len(messages) + 1):
        current = encode_messages(messages[:i])
        assert current.startswith(previous)
        previous = current
