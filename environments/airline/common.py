"""Shared data, schemas and helpers of the airline family."""

from __future__ import annotations

import datetime as dt
from typing import Any

from synth.data import load_json

_ID = {"type": "string", "minLength": 1}
_DAY = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$", "description": "YYYY-MM-DD"}
_CABIN = {"type": "string", "enum": ["basic_economy", "economy", "business"]}
_BAGS = {"type": "integer", "minimum": 0, "maximum": 20}


def _objects(**properties: Any) -> dict:
    return {"type": "array", "minItems": 1, "maxItems": 5, "items": {
        "type": "object", "properties": properties, "required": list(properties),
        "additionalProperties": False}}


_SEGMENTS = _objects(flight_number=_ID, date=_DAY)
_PASSENGERS = _objects(first_name=_ID, last_name=_ID, dob=_DAY)
_DATA = load_json("airline.json")
_PEOPLE = load_json("people.json")
_CITY = {a["code"]: a["city"] for a in _DATA["airports"]}
_FALLBACK = {"business": "economy", "economy": "basic_economy"}
_DIGITS = "0123456789"


def hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def minutes(text: str) -> int:
    return int(text[:2]) * 60 + int(text[3:5])


def pretty(day: str) -> str:
    d = dt.date.fromisoformat(day)
    return f"{d:%B} {d.day}"


def net_payments(payments: list[dict]) -> dict[str, int]:
    total: dict[str, int] = {}
    for p in payments:
        total[p["payment_id"]] = total.get(p["payment_id"], 0) + p["amount"]
    return {k: v for k, v in total.items() if v}
