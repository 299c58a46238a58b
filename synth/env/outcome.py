"""Outcomes as JSON values: where two of them differ, and wrong versions of a right one.

A state-checking family projects a final state onto what must be true of it (its outcome).
Verification compares the agent's outcome with the reference's and names the first path where
they differ. The same values give generic wrong outcomes: a value the task changed perturbed,
a field it changed dropped, an item of a list it changed duplicated. Model-written environments
use these edits on their whole database, procedural families on their projection.
"""

from __future__ import annotations

import json
import pickle
from typing import Any

Path = tuple[str | int, ...]
_SHOWN = 120  # characters of a value quoted in a reason


def copy_state(state: Any) -> Any:
    """A deep copy of a JSON-able state. A pickle round trip is ~4x faster than
    copy.deepcopy and ~2x faster than a JSON round trip on plain data."""
    return pickle.loads(pickle.dumps(state, pickle.HIGHEST_PROTOCOL))


def path_text(path: Path) -> str:
    """`accounts.A20003.balance`, `bills[0][2]`; the whole value is `outcome`."""
    text = ""
    for key in path:
        text += f"[{key}]" if isinstance(key, int) else f".{key}" if text else str(key)
    return text or "outcome"


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def _items(n: int) -> str:
    return f"{n} item" if n == 1 else f"{n} items"


def first_difference(expected: Any, actual: Any, path: Path = ()) -> str | None:
    """Where `actual` first departs from `expected` (keys in sorted order, then list lengths,
    then items in order), as a sentence naming the path; None when they are equal."""
    if expected == actual:
        return None
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in sorted({*expected, *actual}, key=str):
            if key not in actual:
                return f"{path_text((*path, key))}: expected {_shown(expected[key])}, found nothing"
            if key not in expected:
                return f"{path_text((*path, key))}: unexpected {_shown(actual[key])}"
            found = first_difference(expected[key], actual[key], (*path, key))
            if found:
                return found
    elif isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return (f"{path_text(path)}: expected {_items(len(expected))}, found "
                    f"{_items(len(actual))} {_shown(actual)}")
        for index, (want, got) in enumerate(zip(expected, actual, strict=True)):
            found = first_difference(want, got, (*path, index))
            if found:
                return found
    return f"{path_text(path)}: expected {_shown(expected)}, found {_shown(actual)}"


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
        if ch.isdigit() and ch.isascii():
            return text[:i] + str((int(ch) + 1) % 10) + text[i + 1:]
        if ch.isalpha() and len(ch.lower()) == 1:
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


def get_path(value: Any, path: Path) -> Any:
    for key in path:
        value = value[key]
    return value


def set_path(value: Any, path: Path, new: Any) -> None:
    get_path(value, path[:-1])[path[-1]] = new


def changed_field_edits(before: Any, after: Any) -> list[tuple[str, Any]]:
    """`after` with the first field that differs from `before` perturbed ("wrong_field"), and
    with the last one perturbed ("other_field", another way when it is the same field)."""
    return _edits(after, [p for p in changed_leaves(before, after) if p], shapes=False)


def outcome_edits(before: Any, after: Any) -> list[tuple[str, Any]]:
    """The field edits above, then `after` without the first field that differs
    ("dropped_field") and with the outermost list item holding a changed field duplicated
    ("duplicated_item")."""
    return _edits(after, [p for p in changed_leaves(before, after) if p], shapes=True)


def _edits(after: Any, leaves: list[Path], shapes: bool) -> list[tuple[str, Any]]:
    if not leaves:
        return []
    first, last = leaves[0], leaves[-1]
    frozen = pickle.dumps(after, pickle.HIGHEST_PROTOCOL)
    wrong, other, dropped = (pickle.loads(frozen) for _ in range(3))
    set_path(wrong, first, perturb(get_path(after, first)))
    set_path(other, last, perturb(get_path(after, last), second=first == last))
    out = [("wrong_field", wrong), ("other_field", other)]
    if not shapes:
        return out
    del get_path(dropped, first[:-1])[first[-1]]
    out.append(("dropped_field", dropped))
    for leaf in leaves:
        cut = next((n for n in range(1, len(leaf) + 1) if isinstance(leaf[n - 1], int)
                    and isinstance(get_path(after, leaf[:n - 1]), list)), None)
        if cut is not None:
            doubled = pickle.loads(frozen)
            items = get_path(doubled, leaf[:cut - 1])
            items.insert(leaf[cut - 1], copy_state(items[leaf[cut - 1]]))
            out.append(("duplicated_item", doubled))
            break
    return out
