"""parse_completion: round trips, every malformed shape with its own error kind, never raising."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_template_strategies import FRAGMENTS, assistant_messages, normalized

from synth.template import (
    ERROR_KIND_DOCS,
    ERROR_KINDS,
    ParseResult,
    parse_completion,
    render_completion,
)

EOS = "<｜end▁of▁sentence｜>"
OPEN, CLOSE = "<｜DSML｜function_calls>", "</｜DSML｜function_calls>"
HYPO = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def call(name: str, args: dict) -> dict:
    return {"type": "function",
            "function": {"name": name, "arguments": json.dumps(args, ensure_ascii=False)}}


GOOD_MESSAGE = {"role": "assistant", "reasoning_content": "Let me look.", "content": "",
                "tool_calls": [call("get_weather", {"city": "Paris", "days": 2}),
                               call("get_time", {"tz": "UTC"})]}
GOOD = render_completion(GOOD_MESSAGE)
SECOND_INVOKE = GOOD.index('<｜DSML｜invoke name="get_time">')
PROPERTIES = {"ids": {"type": "array"}, "q": {"type": "string"},
              "n": {"type": ["integer", "null"]}, "any": {"type": ["string", "array"]}}
TOOLS = [{"type": "function", "function": {
    "name": "f", "parameters": {"type": "object", "properties": PROPERTIES}}}]


def one_param(name: str, string: str, value: str) -> str:
    return ('</think>\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke name="f">\n'
            f'<｜DSML｜parameter name="{name}" string="{string}">{value}</｜DSML｜parameter>\n'
            f"</｜DSML｜invoke>\n{CLOSE}{EOS}")


def test_good_completion_parses() -> None:
    result = parse_completion(GOOD)
    assert result == ParseResult(True, {**GOOD_MESSAGE}, None, True)
    assert result.error_kind is None and result.error_offset is None


def test_chat_mode_message_has_no_reasoning_key() -> None:
    result = parse_completion(f"Hello{EOS}", thinking_mode="chat")
    assert result.message == {"role": "assistant", "content": "Hello"}


def test_missing_eos_is_accepted_with_eos_false() -> None:
    for text in (GOOD, f"r</think>Hi{EOS}"):
        stripped = parse_completion(text.removesuffix(EOS))
        assert stripped.ok and not stripped.eos
        assert stripped.message == parse_completion(text).message


def test_string_values_that_look_like_json_stay_strings() -> None:
    result = parse_completion(one_param("q", "true", "[1, 2]"))
    assert json.loads(result.message["tool_calls"][0]["function"]["arguments"]) == {"q": "[1, 2]"}
    assert parse_completion(one_param("q", "true", "[1, 2]"), tools=TOOLS).ok
    assert parse_completion(one_param("any", "true", "[1]"), tools=TOOLS).ok
    assert parse_completion(one_param("unknown", "true", "[1]"), tools=TOOLS).ok


def test_empty_invoke_in_either_spelling() -> None:
    for body in ("\n", "\n\n"):
        text = f'</think>\n\n{OPEN}\n<｜DSML｜invoke name="now">{body}</｜DSML｜invoke>\n{CLOSE}'
        result = parse_completion(text)
        assert result.ok and result.message["tool_calls"][0]["function"]["arguments"] == "{}"


# -- every malformed shape has its own kind ------------------------------------------------------
def cut(text: str, marker: str) -> str:
    return text[:text.index(marker)]


MALFORMED = [
    # (text, kind, offset or None), thinking mode unless noted
    (GOOD.replace(f"\n\n{OPEN}\n", "\n\n").replace(f"\n{CLOSE}", ""),
     "invoke_without_function_calls", len("Let me look.</think>\n\n")),
    (GOOD.replace(CLOSE, ""), "unclosed_function_calls", len(GOOD.replace(CLOSE, "")) - len(EOS)),
    (GOOD.replace(f"\n{CLOSE}{EOS}", ""), "unclosed_function_calls", None),
    (GOOD.replace(f"\n{CLOSE}", "\nThat is all."), "unclosed_function_calls", None),
    (GOOD.replace('invoke name="get_time">', "invoke name=get_time>"), "malformed_invoke",
     SECOND_INVOKE),
    (GOOD.replace('name="tz" string="true"', 'name="tz"'), "malformed_parameter", None),
    (GOOD.replace("UTC</｜DSML｜parameter>", "UTC</｜DSML｜invoke>"), "malformed_parameter", None),
    (GOOD.replace("</｜DSML｜invoke>\n<｜DSML｜invoke", "\n<｜DSML｜invoke"), "malformed_invoke",
     None),
    (GOOD.replace("</think>", ""), "dsml_in_reasoning", GOOD.index(OPEN) - len("</think>")),
    (one_param("ids", "true", "[1, 2]"), "string_typed_non_string", None),
    (one_param("n", "true", "3"), "string_typed_non_string", None),
    (GOOD.replace(OPEN, "<｜DSML｜function_call>"), "corrupted_function_calls_tag",
     GOOD.index(OPEN)),
    (GOOD.replace(OPEN, "<｜DSML｜function_calls_v2>"), "corrupted_function_calls_tag",
     GOOD.index(OPEN)),
    (GOOD.replace(OPEN, "<|DSML|function_calls>"), "corrupted_function_calls_tag",
     GOOD.index(OPEN)),
    (GOOD.replace(CLOSE, "</｜DSML｜function_call>"), "corrupted_function_calls_tag", None),
    (GOOD.replace(f"\n\n{OPEN}", f"\n{OPEN}"), "missing_blank_line_before_function_calls",
     GOOD.index(OPEN) - 1),
    (GOOD.replace(f"\n\n{OPEN}", OPEN), "missing_blank_line_before_function_calls", None),
    (cut(GOOD, '<｜DSML｜parameter name="tz"'), "truncated", None),
    (cut(GOOD, "UTC") + "UT", "truncated", None),
    (cut(GOOD, "</｜DSML｜parameter>") + "</｜DSML｜para", "truncated", None),
    (cut(GOOD, "</think>") + "Let me", "truncated", None),
    (cut(GOOD, OPEN) + "<｜DSML｜func", "truncated", None),
    (cut(GOOD, OPEN) + "<｜DS", "truncated", None),
    ("Let me look.</think>", "truncated", None),
    (GOOD.replace(f"{CLOSE}{EOS}", f"{CLOSE}\nDone.{EOS}"), "trailing_text_after_function_calls",
     len(GOOD) - len(EOS)),
    (GOOD + "more", "trailing_text_after_eos", len(GOOD)),
    (f"r</think>Hi{EOS}\n", "trailing_text_after_eos", None),
    (f"I am thinking but never close{EOS}", "missing_think_close", 29),
    (GOOD.replace('"days" string="false">2', '"city" string="false">2'), "duplicate_parameter",
     None),
    (GOOD.replace('name="get_time"', 'name=""'), "empty_invoke_name", SECOND_INVOKE),
    (one_param("n", "false", "{not json"), "invalid_json_value", None),
    (one_param("n", "false", "NaN"), "invalid_json_value", None),
    (one_param("n", "false", "1e999"), "invalid_json_value", None),
    (f"</think>\n\n{OPEN}\n{CLOSE}{EOS}", "empty_function_calls", None),
    (GOOD.replace("</｜DSML｜invoke>\n<｜DSML｜invoke", "</｜DSML｜invoke>\nand\n<｜DSML｜invoke"),
     "unexpected_text_in_function_calls", None),
    (f"r</think>a</think>b{EOS}", "special_token_in_content", 10),
    (f"r</think>a<think>b{EOS}", "special_token_in_content", None),
    (f"<think>r</think>a{EOS}", "special_token_in_reasoning", 0),
    (f"r</think>a ｜DSML｜ b{EOS}", "dsml_in_content", 11),
    (f"r</think>a <｜DSML｜parameter>{EOS}", "dsml_in_content", None),
]


@pytest.mark.parametrize(("text", "kind", "offset"), MALFORMED)
def test_malformed_shape_has_its_error_kind(text: str, kind: str, offset: int | None) -> None:
    result = parse_completion(text, tools=TOOLS)
    assert not result.ok and result.message is None
    assert result.error_kind == kind, result.error
    if offset is not None:
        assert result.error_offset == offset
    assert result.eos == text.endswith(EOS)


def test_chat_mode_rejections() -> None:
    assert parse_completion(f"r</think>a{EOS}", "chat").error == "special_token_in_content@1"
    assert parse_completion("", "chat").error == "truncated@0"


def test_not_a_string_and_bad_mode() -> None:
    assert parse_completion(None).error == "not_a_string@0"  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        parse_completion("x", thinking_mode="fast")


def test_every_error_kind_is_documented_and_exercised() -> None:
    assert set(ERROR_KIND_DOCS) == ERROR_KINDS
    assert all("@" not in kind for kind in ERROR_KINDS)
    exercised = {kind for _, kind, _ in MALFORMED} | {"not_a_string"}
    assert exercised == ERROR_KINDS - {"internal_error"}


# -- properties ----------------------------------------------------------------------------------
@HYPO
@given(st.data(), st.booleans())
def test_encode_then_parse_round_trips(data: st.DataObject, thinking: bool) -> None:
    mode = "thinking" if thinking else "chat"
    message = data.draw(assistant_messages(thinking))
    text = render_completion(message, mode)
    result = parse_completion(text, mode)
    assert result.ok and result.eos, (result.error, text)
    assert result.message == normalized(message, thinking)
    content = result.message["content"]
    if content or "tool_calls" in result.message:
        stripped = parse_completion(text.removesuffix(EOS), mode)
        partial_tag = any("<｜DSML"[:k] == content[-k:] for k in range(2, 7))
        if not (partial_tag and "tool_calls" not in result.message):
            assert stripped.ok and not stripped.eos and stripped.message == result.message


def check_result(result: ParseResult, text: str, mode: str) -> None:
    assert isinstance(result, ParseResult)
    assert result.ok == (result.error is None) == (result.message is not None)
    assert result.eos == text.endswith(EOS)
    if not result.ok:
        assert result.error_kind in ERROR_KINDS - {"internal_error"}, result.error
        assert 0 <= result.error_offset <= len(text)
    else:  # a parsed message re-renders to canonical text that parses to the same message
        again = parse_completion(render_completion(result.message, mode), mode)
        assert again.ok and again.message == result.message


@HYPO
@given(st.text(), st.sampled_from(["thinking", "chat"]))
def test_never_raises_on_arbitrary_text(text: str, mode: str) -> None:
    check_result(parse_completion(text, mode), text, mode)


@HYPO
@given(st.lists(st.sampled_from([*FRAGMENTS, EOS, "</think>", "<think>", OPEN, CLOSE,
                                 "\n\n<｜DSML｜function_calls", '<｜DSML｜invoke name="f">\n',
                                 "</｜DSML｜invoke>", '<｜DSML｜parameter name="a" string="false">',
                                 "</｜DSML｜parameter>", "1", "x"])).map("".join),
       st.sampled_from(["thinking", "chat"]))
def test_never_raises_on_soups_of_template_pieces(text: str, mode: str) -> None:
    check_result(parse_completion(text, mode), text, mode)


mutations = st.lists(st.tuples(st.sampled_from(["insert", "delete", "replace", "truncate"]),
                               st.floats(0, 1), st.integers(0, 30),
                               st.sampled_from([*FRAGMENTS, EOS, "</think>", OPEN, CLOSE,
                                                "｜DSML｜", "<｜DSML｜invoke", "\n\n", ""])),
                     min_size=1, max_size=4)


@HYPO
@given(st.data(), st.booleans(), mutations)
def test_never_raises_on_mutated_completions(data: st.DataObject, thinking: bool,
                                            edits: list) -> None:
    mode = "thinking" if thinking else "chat"
    text = render_completion(data.draw(assistant_messages(thinking)), mode)
    for op, where, length, chunk in edits:
        i = int(where * len(text))
        if op == "insert":
            text = text[:i] + chunk + text[i:]
        elif op == "delete":
            text = text[:i] + text[i + length:]
        elif op == "replace":
            text = text[:i] + chunk + text[i + length:]
        else:
            text = text[:i]
    check_result(parse_completion(text, mode), text, mode)
