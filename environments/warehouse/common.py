"""Shared data, schemas and helpers of the warehouse family."""

from __future__ import annotations

import re

from synth.data import load_json
from synth.env import copy_state as _copy

_DATA = load_json("warehouse.json")
_CATEGORIES = list(_DATA["categories"])
_REASONS = ["damaged", "cycle_count", "expired", "found", "customer_return"]
_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
_ID = {"type": "string", "minLength": 1}
_QTY = {"type": "integer", "minimum": 1, "maximum": 100000}


def money(cents: int) -> str:
    return f"${cents / 100:,.2f}"


def sku_pattern(sku: str) -> re.Pattern[str]:
    """Matches 'PT-4821', 'pt 4821' or 'PT4821' but not 'PT-48210'."""
    prefix, digits = sku.lower().split("-")
    return re.compile(rf"(?<![a-z0-9]){prefix}[\s\-_]?{digits}(?!\d)")


def _cents_in(answer: str) -> list[int]:
    return [round(float(m.replace(",", "")) * 100) for m in _NUMBER.findall(answer)]


def _part_copy(state: dict, *keys: str) -> dict:
    """A new state sharing every part but `keys`, which are deep-copied (cheaper than all)."""
    return {**state, **{k: _copy(state[k]) for k in keys}}
