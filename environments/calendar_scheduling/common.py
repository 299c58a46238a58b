"""Shared data, schemas and helpers of the calendar scheduling family."""

from __future__ import annotations

import re
from datetime import date

from synth.data import load_json

_DATA = load_json("calendar.json")
_NAMES = load_json("people.json")
_HOURS = [[int(t[:2]) * 60 + int(t[3:]) for t in pair] for pair in _DATA["working_hours"]]
_EQUIPMENT = ["projector", "video", "whiteboard"]
_ID = {"type": "string", "minLength": 1}
_IDS = {"type": "array", "items": _ID}
_DATE = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$", "description": "YYYY-MM-DD"}
_TIME = {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$",
         "description": "Start time, HH:MM (24-hour, office time)"}
_DURATION = {"type": "integer", "minimum": 15, "maximum": 480, "multipleOf": 5}
_STEP = 15  # minutes between candidate start times
_SINGULAR = {"people": "person", "rooms": "room", "meetings": "meeting"}
_MORNING, _AFTERNOON = [0, 12 * 60], [13 * 60, 24 * 60]


def _hm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _minutes(text: str) -> int:
    return int(text[:2]) * 60 + int(text[3:5])


def _overlap(a: dict, start: int, end: int) -> bool:
    return a["start"] < end and start < a["end"]


def _norm(title: str) -> str:
    return re.sub(r"[^a-z0-9]", "", title.lower())


def _weekday(day: str) -> str:
    return date.fromisoformat(day).strftime("%A")


def _needs(ask: dict, attendees: list[dict]) -> list[str]:
    """Equipment the room needs for these attendees (the conditional rules)."""
    need = []
    if ask["projector_over"] is not None and len(attendees) > ask["projector_over"]:
        need.append("projector")
    if ask["video_if_remote"] and any(p["location"] == "remote" for p in attendees):
        need.append("video")
    return need
