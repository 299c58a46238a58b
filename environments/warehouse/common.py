"""Shared data, schemas and helpers of the warehouse family."""

from __future__ import annotations

import re

from synth.data import load_json

_DATA = load_json("warehouse.json")
_CATEGORIES = list(_DATA["categories"])
_REASONS = ["damaged", "cycle_count", "expired", "found", "customer_return"]
_ID = {"type": "string", "minLength": 1}
_QTY = {"type": "integer", "minimum": 1, "maximum": 100000}


def sku_pattern(sku: str) -> re.Pattern[str]:
    """Matches 'PT-4821', 'pt 4821' or 'PT4821' but not 'PT-48210'."""
    prefix, digits = sku.lower().split("-")
    return re.compile(rf"(?<![a-z0-9]){prefix}[\s\-_]?{digits}(?!\d)")


