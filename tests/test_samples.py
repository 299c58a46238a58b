"""Token-level samples: exact re-encoding, masks on exactly the model's tokens, token-in/out."""

from __future__ import annotations

import json
from dataclasses import dataclass

from conftest import FIXTURES
from hypothesis import given, settings
from hypothesis import strategies as st

from synth.samples import build_samples
from synth.template import encode_messages, render_completion

SAFE = st.text(alphabet=st.characters(blacklist_categories=("Cs",),
                                      blacklist_characters="<>｜"), max_size=30)
TOOLS = [{"type": "function", "function": {
    "name": "lookup", "description": "Look something up.",
    "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}}]


@dataclass
class Made:
    text: str
    token_ids: list[int] | None


@st.composite
def trajectories(draw) -> list[dict]:
    """System, then 1-3 user turns, each with 0-3 tool rounds and a final answer."""
    messages: list[dict] = [{"role": "system", "content": draw(SAFE), "tools": TOOLS}]
    for _ in range(draw(st.integers(1, 3))):
        messages.append({"role": "user", "content": draw(SAFE)})
        for _ in range(draw(st.integers(0, 3))):
            n = draw(st.integers(1, 2))
            calls = [{"type": "function", "function": {
                "name": "lookup", "arguments": json.dumps({"q": draw(SAFE)},
                                                          ensure_ascii=False)}}
                     for _ in range(n)]
            messages.append({"role": "assistant", "reasoning_content": draw(SAFE),
                             "content": draw(SAFE), "tool_calls": calls})
            messages.extend({"role": "tool", "content": draw(SAFE)} for _ in range(n))
        # thinking mode: a final answer always carries reasoning (the template requires it)
        messages.append({"role": "assistant", "reasoning_content": draw(SAFE) + ".",
                         "content": draw(SAFE)})
    return messages


def turn_completions(messages: list[dict]) -> str:
    users = [i for i, m in enumerate(messages) if m["role"] == "user"]
    return "".join(render_completion(m) for m in messages[users[-1] + 1:]
                   if m["role"] == "assistant")


@settings(max_examples=60, deadline=None)
@given(trajectories())
def test_samples_reencode_and_mask_exactly_the_completions(tokenizer, messages) -> None:
    samples = build_samples(messages, tokenizer)
    assert len(samples) == sum(m["role"] == "user" for m in messages)
    for turn, sample in enumerate(samples):
        assert sample.turn == turn
        text = encode_messages(sample.messages, thinking_mode="thinking", drop_thinking=True)
        assert sample.input_ids == tokenizer.encode(text)
        assert len(sample.assistant_masks) == len(sample.input_ids)
        trained = [i for i, m in zip(sample.input_ids, sample.assistant_masks, strict=True) if m]
        assert tokenizer.decode(trained) == turn_completions(sample.messages)
        # the opener and the tool results are never trained on
        opener = tokenizer.encode("<｜Assistant｜><think>")
        for position in range(len(sample.input_ids) - 1):
            if sample.input_ids[position:position + 2] == opener:
                assert sample.assistant_masks[position:position + 2] == [0, 0]


def test_official_fixture_samples(tokenizer) -> None:
    data = json.loads((FIXTURES / "dsv32" / "test_input.json").read_text())
    messages = data["messages"]
    messages[0]["tools"] = data["tools"]
    samples = build_samples(messages, tokenizer)
    assert len(samples) == 2
    full = encode_messages(messages, thinking_mode="thinking", drop_thinking=True)
    assert tokenizer.decode(samples[-1].input_ids) == full
    first = samples[0]
    assert first.messages == messages[:len(first.messages)]
    assert first.messages[-1]["role"] == "assistant" and "content" in first.messages[-1]


def test_model_token_ids_are_kept_when_they_match(tokenizer) -> None:
    """Token-in/token-out: a non-canonical but equivalent tokenization survives."""
    messages = [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "reasoning_content": "think about it", "content": "Hello there"},
    ]
    text = render_completion(messages[2])
    canonical = tokenizer.encode(text)
    hello = tokenizer.encode("Hello")
    spelled = [t for ch in "Hello" for t in tokenizer.encode(ch)]
    assert hello != spelled
    start = next(i for i in range(len(canonical)) if canonical[i:i + len(hello)] == hello)
    model_ids = canonical[:start] + spelled + canonical[start + len(hello):]
    assert tokenizer.decode(model_ids) == text
    sample = build_samples(messages, tokenizer, [Made(text, model_ids)])[0]
    trained = [i for i, m in zip(sample.input_ids, sample.assistant_masks, strict=True) if m]
    assert trained == model_ids
    stripped = build_samples(messages, tokenizer, [Made(text[:-len("<｜end▁of▁sentence｜>")],
                                                         model_ids[:-1])])[0]
    assert stripped.input_ids == sample.input_ids, "a stripped EOS is put back"
    other = build_samples(messages, tokenizer, [Made("something else", [5, 6, 7])])[0]
    assert other.input_ids == tokenizer.encode(encode_messages(messages))
