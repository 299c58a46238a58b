"""Shared data, schemas and helpers of the retail family."""

from __future__ import annotations

from synth.data import load_json

_ID = {"type": "string", "minLength": 1}
_IDS = {"type": "array", "items": _ID, "minItems": 1, "uniqueItems": True}
_REASONS = ["no longer needed", "ordered by mistake"]
_OPEN = ("delivered", "return requested", "exchange requested")
_DATA = load_json("retail.json")
_PEOPLE = load_json("people.json")


def _norm(text: str) -> str:
    return " ".join(text.lower().replace(",", " ").replace(".", " ").split())


def _options_text(options: dict[str, str]) -> str:
    return ", ".join(f"{k} {v}" for k, v in options.items())
