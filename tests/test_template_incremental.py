"""PromptRenderer equals encode_messages at every step; render_completion; segment contract."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_template_strategies import conversations

from synth.template import (
    SEGMENT_KINDS,
    PromptRenderer,
    Segment,
    encode_messages,
    render_completion,
)

FIXTURES = Path(__file__).parent / "fixtures" / "dsv32"
BOS, EOS = "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"
U, A = "<｜User｜>", "<｜Assistant｜>"
SPECIAL = (BOS, EOS, U, A, "<think>", "</think>")
CONV = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def fixture_messages() -> list[dict]:
    data = json.loads((FIXTURES / "test_input.json").read_text(encoding="utf-8"))
    data["messages"][0]["tools"] = data["tools"]
    return data["messages"]


def call(name: str, args: dict) -> dict:
    return {"type": "function", "function": {"name": name, "arguments": json.dumps(args)}}


def append(renderer: PromptRenderer, message: dict, raw: bool = True) -> None:
    """Append as a rollout would: assistant messages as the raw completion text."""
    if message["role"] == "assistant" and raw:
        renderer.add_completion(render_completion(message, renderer.thinking_mode))
    else:
        renderer.add_message(message)


def check_segments(renderer: PromptRenderer) -> None:
    segments = renderer.segments
    assert "".join(s.text for s in segments) == renderer.prompt_text
    for before, after in itertools.pairwise(segments):
        assert before.kind in SEGMENT_KINDS
        unfinished = before.kind == "tool_results" and not before.text.endswith("\n\n")
        if before.kind != "system" and not unfinished:  # the two documented exceptions
            assert before.text.endswith(SPECIAL) or after.text.startswith(SPECIAL), (before, after)
    for s in segments:
        assert s.model_written == (s.kind in ("reasoning", "assistant"))


def test_official_fixture_step_by_step() -> None:
    messages = fixture_messages()
    renderer = PromptRenderer()
    for i, message in enumerate(messages):
        append(renderer, message)
        assert renderer.prompt_text == encode_messages(messages[:i + 1], "thinking")
        check_segments(renderer)
    expected = (FIXTURES / "test_output.txt").read_text(encoding="utf-8").removesuffix("\n")
    assert renderer.prompt_text == expected
    assert len(renderer) == len(messages)


def test_generation_prompts() -> None:
    renderer = PromptRenderer()
    renderer.add_system("S", tools=fixture_messages()[0]["tools"])
    renderer.add_user("hi")
    assert renderer.prompt_text.endswith(f"{U}hi{A}<think>")
    message = renderer.add_completion(
        render_completion({"role": "assistant", "reasoning_content": "r",
                           "tool_calls": [call("f", {"a": 1})]}))
    assert message["reasoning_content"] == "r" and message["tool_calls"]
    renderer.add_tool_result("ok")
    assert renderer.prompt_text.endswith("\n<result>ok</result>\n</function_results>\n\n<think>")


def test_new_user_message_drops_reasoning_of_the_previous_turn() -> None:
    renderer = PromptRenderer()
    renderer.add_user("q1")
    renderer.add_completion(f"thinking hard</think>\n\n<｜DSML｜function_calls>\n"
                            f'<｜DSML｜invoke name="f">\n\n</｜DSML｜invoke>\n'
                            f"</｜DSML｜function_calls>{EOS}")
    renderer.add_tool_result({"role": "tool", "tool_call_id": "x", "content": "42"})
    renderer.add_completion(f"got it</think>The answer is 42.{EOS}")
    kinds = [s.kind for s in renderer.segments]
    assert kinds == ["bos", "user", "marker", "reasoning", "assistant", "tool_results", "marker",
                     "reasoning", "assistant"]
    stable = renderer.segments[:renderer.stable_segments]
    renderer.add_user("q2")
    assert renderer.segments[:len(stable)] == stable
    assert [s.kind for s in renderer.segments] == [
        "bos", "user", "marker", "assistant", "tool_results", "marker", "assistant", "user",
        "marker"]
    assert "thinking hard" not in renderer.prompt_text and "got it" not in renderer.prompt_text
    assert renderer.prompt_text == encode_messages(renderer.messages)
    assert renderer.messages[1]["reasoning_content"] == "thinking hard"  # kept in the record
    assert renderer.segments[2] == Segment("</think>", "marker", False, 0)


def test_completion_without_eos_gets_it_back() -> None:
    renderer = PromptRenderer()
    renderer.add_user("q")
    renderer.add_completion("r</think>hello")
    assert renderer.prompt_text.endswith(f"<think>r</think>hello{EOS}")
    assert renderer.prompt_text == encode_messages(renderer.messages)


def test_completion_is_kept_byte_for_byte() -> None:
    renderer = PromptRenderer()
    renderer.add_user("q")
    raw = ('r</think>\n\n<｜DSML｜function_calls>\n<｜DSML｜invoke name="f">\n'
           '<｜DSML｜parameter name="n" string="false">1e3</｜DSML｜parameter>\n'
           f"</｜DSML｜invoke>\n</｜DSML｜function_calls>{EOS}")
    message = renderer.add_completion(raw)
    assert message["tool_calls"][0]["function"]["arguments"] == '{"n": 1000.0}'
    assert renderer.prompt_text.endswith("<think>" + raw)


def test_developer_turn_is_removed_when_the_next_user_arrives() -> None:
    renderer = PromptRenderer()
    renderer.add_system("S")
    renderer.add_developer("do it", tools=fixture_messages()[0]["tools"])
    renderer.add_completion(f"r</think>done{EOS}")
    assert "# The user's message is: do it" in renderer.prompt_text
    renderer.add_user("next")
    assert renderer.prompt_text == f"{BOS}Sdone{EOS}{U}next{A}<think>"
    assert renderer.prompt_text == encode_messages(renderer.messages)
    keep = PromptRenderer(drop_thinking=False)
    for message in renderer.messages:
        keep.add_message(message)
    assert keep.prompt_text == encode_messages(renderer.messages, drop_thinking=False)
    assert "# The user's message is: do it" in keep.prompt_text


def test_chat_mode_renderer() -> None:
    renderer = PromptRenderer(thinking_mode="chat")
    renderer.add_user("q")
    assert renderer.prompt_text.endswith(f"{A}</think>")
    renderer.add_completion(f"hello{EOS}")
    assert [s.kind for s in renderer.segments] == ["bos", "user", "marker", "assistant"]
    assert renderer.stable_segments == 4


def test_rejected_appends_raise_and_leave_the_state_unchanged() -> None:
    renderer = PromptRenderer()
    renderer.add_user("q")
    before = (renderer.prompt_text, renderer.segments, renderer.messages)
    with pytest.raises(ValueError, match=r"messages\[1\].*preceding assistant"):
        renderer.add_tool_result("orphan")
    with pytest.raises(ValueError, match="does not parse: missing_think_close@"):
        renderer.add_completion(f"no close{EOS}")
    with pytest.raises(ValueError, match=r"messages\[1\].*non-empty"):
        renderer.add_developer("")
    with pytest.raises(ValueError, match="unknown role"):
        renderer.add_message({"role": "bot", "content": "x"})
    assert (renderer.prompt_text, renderer.segments, renderer.messages) == before
    renderer.add_completion(render_completion({"role": "assistant", "reasoning_content": "r",
                                               "tool_calls": [call("f", {})]}))
    renderer.add_tool_result("1")
    with pytest.raises(ValueError, match=r"messages\[3\].*more tool results \(2\)"):
        renderer.add_tool_result("2")
    renderer.add_completion(f"r</think>fine{EOS}")
    with pytest.raises(ValueError, match="made no tool calls"):
        renderer.add_tool_result("3")
    with pytest.raises(ValueError, match="thinking_mode"):
        PromptRenderer(thinking_mode="fast")


def test_empty_reasoning_answer_is_accepted_until_the_next_user() -> None:
    """encode_messages rejects this intermediate state (no reasoning, no tool calls after the
    last user); the renderer accepts it since a model can write it, and the next user message
    makes the conversation encodable again."""
    renderer = PromptRenderer()
    renderer.add_user("q")
    renderer.add_completion(f"</think>answer{EOS}")
    with pytest.raises(ValueError):
        encode_messages(renderer.messages)
    renderer.add_user("q2")
    assert renderer.prompt_text == encode_messages(renderer.messages)


def test_render_completion_equals_encoding_after_context() -> None:
    messages = fixture_messages()
    for i, message in enumerate(messages):
        if message["role"] == "assistant":
            later_user = any(m["role"] == "user" for m in messages[i:])
            if not later_user:
                assert render_completion(message) == encode_messages([message],
                                                                     context=messages[:i])
    with pytest.raises(ValueError, match="role must be 'assistant'"):
        render_completion({"role": "user", "content": "x"})


@CONV
@given(st.data(), st.sampled_from(["thinking", "chat"]), st.booleans())
def test_renderer_equals_encode_messages_at_every_step(data: st.DataObject, mode: str,
                                                       drop_thinking: bool) -> None:
    messages = data.draw(conversations(thinking=mode == "thinking"))
    raw = data.draw(st.lists(st.booleans(), min_size=len(messages), max_size=len(messages)))
    renderer = PromptRenderer(thinking_mode=mode, drop_thinking=drop_thinking)
    stable: tuple[Segment, ...] = renderer.segments
    for i, message in enumerate(messages):
        append(renderer, message, raw[i])
        assert renderer.prompt_text == encode_messages(messages[:i + 1], mode,
                                                       drop_thinking=drop_thinking)
        assert renderer.segments[:len(stable)] == stable
        stable = renderer.segments[:renderer.stable_segments]
        check_segments(renderer)
