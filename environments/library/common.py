"""Shared data, schemas and helpers of the library family."""

from __future__ import annotations

import re

from synth.data import load_json

_ID = {"type": "string", "minLength": 1}
_MONEY = re.compile(r"\d[\d,]*(?:\.\d+)?")
_COUNTS = ("loan_limit", "loan_days", "max_renewals")
_SHELF = 16  # catalog records per scenario, before level decoys
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ZERO_WORDS = ("nothing", "zero", "no fines", "don't owe", "do not owe", "owe no")


def money(cents: int) -> str:
    return f"${cents / 100:,.2f}"


def amounts_in(text: str) -> list[int]:
    """Every number in a free-form answer, read as dollars and returned in cents."""
    return [round(float(m.replace(",", "")) * 100) for m in _MONEY.findall(_DATE.sub(" ", text))]


_DATA = load_json("library.json")
_PEOPLE = load_json("people.json")
