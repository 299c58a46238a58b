"""Hypothesis strategies shared by the template tests (no tests of its own).

Generated strings avoid the markers that may not occur in reasoning/content (BOS, EOS,
`<think>`, `</think>`, `｜DSML｜`) and DSML look-alikes, but are biased towards their fragments,
quotes, newlines and JSON punctuation so the codec's edges get exercised.
"""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import strategies as st

from synth.template import BOS, DSML, EOS, THINK_CLOSE, THINK_OPEN

FORBIDDEN = (BOS, EOS, THINK_OPEN, THINK_CLOSE, DSML)
LOOKALIKE = re.compile(r"</?\s*[|｜]\s*DSML\s*[|｜]", re.IGNORECASE)
FRAGMENTS = ["<｜", "｜DSM", "DSML", "<think", "</thin", "think>", "<｜end▁of", "function_calls>",
             "\n\n<", "\n", "\n\n", 'string="true">', 'name="', "</", ">\n", "<result>", "{", "}",
             "[", "]", '"', "\\", "é", "▁", "｜", "💡", " ", "\t", "<", ">", "/"]


def is_safe(text: str) -> bool:
    return not any(m in text for m in FORBIDDEN) and not LOOKALIKE.search(text)


def safe_text(min_size: int = 0, max_size: int = 40, exclude: str = "") -> st.SearchStrategy[str]:
    """Text without forbidden markers, built from random characters and tricky fragments."""
    chars = st.characters(blacklist_categories=("Cs",), blacklist_characters=exclude)
    piece = st.one_of(st.text(chars, min_size=1, max_size=6),
                      st.sampled_from([f for f in FRAGMENTS if not set(f) & set(exclude)]))
    return (st.lists(piece, min_size=1 if min_size else 0, max_size=4)
            .map(lambda parts: "".join(parts)[:max_size])
            .filter(lambda s: len(s) >= min_size and is_safe(s)))


names = safe_text(min_size=1, max_size=16, exclude='"')
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | safe_text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(safe_text(max_size=8), inner,
                                                                max_size=3),
    max_leaves=8,
)
arguments = st.dictionaries(safe_text(max_size=12, exclude='"'), json_values, max_size=4)


def call(name: str, args: dict[str, Any]) -> dict[str, Any]:
    return {"type": "function",
            "function": {"name": name, "arguments": json.dumps(args, ensure_ascii=False)}}


tool_calls = st.lists(st.builds(call, names, arguments), max_size=3)


@st.composite
def assistant_messages(draw: Any, thinking: bool = True) -> dict[str, Any]:
    """Any assistant message the model could write (in thinking mode: encodable above the last
    user message, i.e. with reasoning or tool calls)."""
    msg: dict[str, Any] = {"role": "assistant"}
    calls = draw(tool_calls)
    if calls:
        msg["tool_calls"] = calls
    content = draw(st.none() | safe_text())
    if content is not None:
        msg["content"] = content
    reasoning = draw(safe_text(min_size=0 if calls or not thinking else 1))
    if reasoning or draw(st.booleans()):
        msg["reasoning_content"] = reasoning
    return msg


def normalized(msg: dict[str, Any], thinking: bool) -> dict[str, Any]:
    """What parse_completion returns for the completion text of `msg`."""
    out: dict[str, Any] = {"role": "assistant", "content": msg.get("content") or ""}
    if thinking:
        out["reasoning_content"] = msg.get("reasoning_content") or ""
    calls = [{"type": "function", "function": {
        "name": c["function"]["name"],
        "arguments": json.dumps(json.loads(c["function"]["arguments"]), ensure_ascii=False)}}
        for c in msg.get("tool_calls") or ()]
    if calls:
        out["tool_calls"] = calls
    return out


TOOLS = [{"type": "function", "function": {
    "name": "lookup", "description": "Find things.",
    "parameters": {"type": "object", "properties": {"q": {"type": "string"},
                                                    "limit": {"type": "integer"}}}}}]


@st.composite
def conversations(draw: Any, thinking: bool = True) -> list[dict[str, Any]]:
    """Valid multi-turn conversations with tool calls, sometimes developer turns, a system
    message, and tool blocks left unfinished (the reference accepts those)."""
    msgs: list[dict[str, Any]] = []
    if draw(st.booleans()):
        msgs.append({"role": "system", "content": draw(safe_text()),
                     **({"tools": TOOLS} if draw(st.booleans()) else {})})
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.integers(0, 4)) == 0:
            msgs.append({"role": "developer", "content": draw(safe_text(min_size=1)),
                         **({"tools": TOOLS} if draw(st.booleans()) else {})})
        else:
            msgs.append({"role": "user", "content": draw(safe_text())})
        for _ in range(draw(st.integers(0, 3))):
            calls = draw(st.lists(st.builds(call, names, arguments), min_size=1, max_size=3))
            msgs.append({"role": "assistant", "reasoning_content": draw(safe_text()),
                         "content": draw(safe_text(max_size=10)), "tool_calls": calls})
            answered = len(calls) if draw(st.integers(0, 5)) else draw(st.integers(0, len(calls)))
            msgs.extend({"role": "tool", "tool_call_id": f"c{i}", "content": draw(safe_text())}
                        for i in range(answered))
            if answered < len(calls):
                break
        if draw(st.booleans()):
            msgs.append({"role": "assistant", "content": draw(safe_text()),
                         "reasoning_content": draw(safe_text(min_size=1 if thinking else 0))})
    return msgs
