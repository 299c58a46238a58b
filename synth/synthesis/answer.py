"""Answers as text, and the wrong outcomes a verifier must reject.

A solution returns JSON data; the task's reference answer is its JSON text (what the scripted
model replies with). A model's reply may wrap the JSON in prose or a code fence, so verifiers
receive `decode_answer(reply)`: the JSON value if one can be found, else the text.

Corruptions are derived from the reference outcome alone, so the same ones serve at check time
and in the loaded family: the untouched database, the first and last database fields the
solution wrote (perturbed, as `synth.env.outcome` does for every outcome), a wrong answer, a
partial answer and an empty answer. Which apply depends on what the level verifies ("state",
"answer" or both). A corruption's `state` is the database.
"""

from __future__ import annotations

import json
import re
from typing import Any

from synth.env import Corruption
from synth.env.outcome import changed_field_edits, copy_state, perturb

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)


def encode_answer(value: Any) -> str:
    """The reply text for an answer value (strings stay as they are)."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def decode_answer(text: str) -> Any:
    """The JSON value in a reply: the whole text, a fenced block, or the last {...}/[...]."""
    stripped = text.strip()
    if not stripped:
        return ""
    for candidate in (stripped, *reversed(_FENCE.findall(stripped))):
        try:
            return json.loads(candidate)
        except ValueError:
            continue
    decoder = json.JSONDecoder()
    best: Any = None
    for start in (i for i, ch in enumerate(stripped) if ch in "{["):
        try:
            value, _ = decoder.raw_decode(stripped, start)
        except ValueError:
            continue
        best = value
        break
    return best if best is not None else stripped


def make_corruptions(initial_db: Any, final_db: Any, answer_text: str,
                     verifies: list[str]) -> list[Corruption]:
    """The wrong outcomes the verifier of a level must reject (deterministic)."""
    out: list[Corruption] = []
    if "state" in verifies and final_db != initial_db:
        out.append(Corruption("missing_write", copy_state(initial_db), answer_text))
        out += [Corruption(kind, db, answer_text)
                for kind, db in changed_field_edits(initial_db, final_db)]
    if "answer" in verifies:
        value = decode_answer(answer_text)
        out.append(Corruption("wrong_answer", copy_state(final_db), encode_answer(perturb(value))))
        partial = encode_answer(perturb(value, second=True))
        if partial != answer_text:
            out.append(Corruption("partial_answer", copy_state(final_db), partial))
        if answer_text.strip():
            out.append(Corruption("empty_answer", copy_state(final_db), ""))
    return out


def verdict_items(answer_text: str, corruptions: list[Corruption]) -> list[dict[str, Any]]:
    """What a sandboxed verifier judges: the replayed reference outcome, then each corruption."""
    items = [{"db": "replayed", "answer": decode_answer(answer_text)}]
    return items + [{"db": c.state, "answer": decode_answer(c.answer)} for c in corruptions]
