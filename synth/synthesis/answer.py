"""Answers as text, and the wrong outcomes a verifier must reject.

A solution returns JSON data; the task's reference answer is its JSON text (what the scripted
model replies with). A model's reply may wrap the JSON in prose or a code fence, so verifiers
receive `decode_answer(reply)`: the JSON value if one can be found, else the text.

Corruptions are derived from the reference outcome alone, so the same ones serve at check time
and in the loaded family: the untouched database, the first and last database fields the
solution wrote (perturbed), a wrong answer, a partial answer and an empty answer. Which apply
depends on what the level verifies ("state", "answer" or both).
"""

from __future__ import annotations

import json
import re
from typing import Any, NamedTuple

from synth.env.family import copy_state

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)
Path = tuple[str | int, ...]


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


class Corruption(NamedTuple):
    """A wrong outcome: (kind, database, answer text)."""

    kind: str
    db: Any
    answer: str


def _leaves(value: Any, path: Path = ()) -> list[Path]:
    if isinstance(value, dict):
        return [p for k in sorted(value) for p in _leaves(value[k], (*path, k))] or [path]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _leaves(v, (*path, i))] or [path]
    return [path]


def changed_leaves(before: Any, after: Any, path: Path = ()) -> list[Path]:
    """Paths of the scalar fields of `after` that are new or differ from `before`."""
    if isinstance(before, dict) and isinstance(after, dict):
        out: list[Path] = []
        for key in sorted(after):
            if key in before:
                out.extend(changed_leaves(before[key], after[key], (*path, key)))
            else:
                out.extend(_leaves(after[key], (*path, key)))
        return out
    if isinstance(before, list) and isinstance(after, list):
        out = []
        for i, item in enumerate(after):
            out.extend(changed_leaves(before[i], item, (*path, i)) if i < len(before)
                       else _leaves(item, (*path, i)))
        return out
    if type(before) is not type(after) or before != after:
        return [path]
    return []


def _bump_text(text: str) -> str:
    for i in range(len(text) - 1, -1, -1):
        ch = text[i]
        if ch.isdigit():
            return text[:i] + str((int(ch) + 1) % 10) + text[i + 1:]
        if ch.isalpha():
            new = "a" if ch.lower() == "z" else chr(ord(ch.lower()) + 1)
            return text[:i] + (new.upper() if ch.isupper() else new) + text[i + 1:]
    return text + "x"


def perturb(value: Any, second: bool = False) -> Any:
    """A definitely different value: numbers +-1, text with a changed character (or cut),
    booleans flipped, containers with one element changed (or one dropped)."""
    if isinstance(value, bool):
        return None if second else not value
    if isinstance(value, int | float):
        return value - 1 if second else value + 1
    if isinstance(value, str):
        if second:
            return value[1:] if value else "x"
        return _bump_text(value)
    if isinstance(value, list):
        if not value:
            return [None]
        return value[:-1] if second else [perturb(value[0]), *value[1:]]
    if isinstance(value, dict):
        if not value:
            return {"": None}
        keys = list(value)
        if second:
            return {k: value[k] for k in keys[:-1]}
        return {**value, keys[0]: perturb(value[keys[0]])}
    return "x"


def _set(db: Any, path: Path, value: Any) -> None:
    node = db
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


def _get(db: Any, path: Path) -> Any:
    for key in path:
        db = db[key]
    return db


def make_corruptions(initial_db: Any, final_db: Any, answer_text: str,
                     verifies: list[str]) -> list[Corruption]:
    """The wrong outcomes the verifier of a level must reject (deterministic)."""
    out: list[Corruption] = []
    if "state" in verifies and final_db != initial_db:
        out.append(Corruption("missing_write", copy_state(initial_db), answer_text))
        leaves = [p for p in changed_leaves(initial_db, final_db) if p]
        if leaves:
            first, last = leaves[0], leaves[-1]
            wrong = copy_state(final_db)
            _set(wrong, first, perturb(_get(final_db, first)))
            out.append(Corruption("wrong_field", wrong, answer_text))
            other = copy_state(final_db)
            _set(other, last, perturb(_get(final_db, last), second=first == last))
            out.append(Corruption("other_field", other, answer_text))
    if "answer" in verifies:
        value = decode_answer(answer_text)
        out.append(Corruption("wrong_answer", copy_state(final_db), encode_answer(perturb(value))))
        partial = encode_answer(perturb(value, second=True))
        if partial != answer_text:
            out.append(Corruption("partial_answer", copy_state(final_db), partial))
        if answer_text.strip():
            out.append(Corruption("empty_answer", copy_state(final_db), ""))
    return out
