"""Shared data, schemas and helpers of the library family."""

from __future__ import annotations

from synth.data import load_json

_ID = {"type": "string", "minLength": 1}
_COUNTS = ("loan_limit", "loan_days", "max_renewals")
_SHELF = 16  # catalog records per scenario, before level decoys
_ZERO_WORDS = ("nothing", "zero", "no fines", "don't owe", "do not owe", "owe no")
_DATA = load_json("library.json")
_PEOPLE = load_json("people.json")
