"""The calendar scheduling family: the registered class and its tools."""

from __future__ import annotations

from environments.calendar_scheduling.common import (
    _DATA,
    _DATE,
    _DURATION,
    _EQUIPMENT,
    _ID,
    _IDS,
    _SINGULAR,
    _TIME,
    _hm,
    _minutes,
    _overlap,
)
from environments.calendar_scheduling.scenario import CalendarSchedulingScenario
from environments.calendar_scheduling.verify import CalendarSchedulingVerifier
from synth.env import EnvFamily, ToolError, register, tool


@register
class CalendarSchedulingFamily(CalendarSchedulingScenario, CalendarSchedulingVerifier, EnvFamily):
    name = "calendar_scheduling"
    description = "Team calendar scheduling: free slots, rooms, conditional equipment, changes."
    multi_turn = True
    verification = "state"

    # -- tools ---------------------------------------------------------------------------
    @tool("List the people on the team, optionally one team only, with working hours.",
          {"team": {"type": "string", "enum": _DATA["teams"]}})
    def list_people(self, state: dict, team: str | None = None) -> list[dict]:
        return [self._person_view(pid, p) for pid, p in state["people"].items()
                if team in (None, p["team"])]

    @tool("Get one person's meetings on a date.", {"person_id": _ID, "date": _DATE})
    def get_calendar(self, state: dict, person_id: str, date: str) -> dict:
        person = self._get(state, "people", person_id)
        rows = sorted(((mid, m) for mid, m in state["meetings"].items()
                       if m["date"] == date and person_id in m["attendees"]),
                      key=lambda x: (x[1]["start"], x[0]))
        return {**self._person_view(person_id, person), "date": date,
                "meetings": [self._meeting_view(mid, m) for mid, m in rows]}

    @tool("Find the time windows on a date when all the given people are inside their working "
          "hours and free, at least `duration_minutes` long. `ignore_meeting_id` treats that "
          "meeting as free time (useful when rescheduling it).",
          {"person_ids": {**_IDS, "minItems": 1}, "date": _DATE, "duration_minutes": _DURATION,
           "ignore_meeting_id": _ID})
    def find_free_slots(self, state: dict, person_ids: list[str], date: str,
                        duration_minutes: int, ignore_meeting_id: str = "") -> list[dict]:
        people = [self._get(state, "people", p) for p in person_ids]
        cursor, close, windows = max(p["hours"][0] for p in people), min(
            p["hours"][1] for p in people), []
        busy = sorted((m["start"], m["end"]) for mid, m in state["meetings"].items()
                      if m["date"] == date and mid != ignore_meeting_id
                      and any(p in m["attendees"] for p in person_ids))
        for start, end in [*busy, (close, close)]:
            if min(start, close) - cursor >= duration_minutes:
                windows.append({"start": _hm(cursor), "end": _hm(min(start, close))})
            cursor = max(cursor, end)
        return windows

    @tool("List meeting rooms, smallest first, optionally filtered by capacity and equipment.",
          {"min_capacity": {"type": "integer", "minimum": 1},
           "equipment": {"type": "array", "items": {"type": "string", "enum": _EQUIPMENT}}})
    def list_rooms(self, state: dict, min_capacity: int = 1,
                   equipment: list[str] | None = None) -> list[dict]:
        rows = [{"room_id": rid, **r} for rid, r in state["rooms"].items()
                if r["capacity"] >= min_capacity
                and all(e in r["equipment"] for e in equipment or [])]
        return sorted(rows, key=lambda r: (r["capacity"], r["room_id"]))

    @tool("List room bookings on a date, for one room or for every room.",
          {"date": _DATE, "room_id": _ID})
    def get_room_schedule(self, state: dict, date: str, room_id: str = "") -> list[dict]:
        if room_id:
            self._get(state, "rooms", room_id)
        rows = [{"room_id": m["room_id"], "meeting_id": mid, "title": m["title"],
                 "start": _hm(m["start"]), "end": _hm(m["end"])}
                for mid, m in state["meetings"].items() if m["date"] == date and m["room_id"]
                and room_id in ("", m["room_id"])]
        return sorted(rows, key=lambda r: (r["room_id"], r["start"]))

    @tool("Create a meeting. The user is added automatically as organizer and attendee. The "
          "room, if given, must be free for the whole meeting.",
          {"title": {"type": "string", "minLength": 1}, "date": _DATE, "start": _TIME,
           "duration_minutes": _DURATION, "attendee_ids": _IDS, "room_id": _ID}, writes=True)
    def create_meeting(self, state: dict, title: str, date: str, start: str,
                       duration_minutes: int, attendee_ids: list[str], room_id: str = "") -> dict:
        people = list(dict.fromkeys([state["me"], *attendee_ids]))
        for pid in people:
            self._get(state, "people", pid)
        meeting = {"title": title, "date": date, "start": _minutes(start),
                   "end": _minutes(start) + duration_minutes, "attendees": people,
                   "room_id": room_id or None, "organizer": state["me"]}
        self._check_room(state, meeting, "")
        mid = f"M{state['next_id']}"
        state["next_id"] += 1
        state["meetings"][mid] = meeting
        return self._meeting_view(mid, meeting)

    @tool("Cancel (delete) a meeting the user attends.", {"meeting_id": _ID}, writes=True)
    def cancel_meeting(self, state: dict, meeting_id: str) -> dict:
        if state["me"] not in self._get(state, "meetings", meeting_id)["attendees"]:
            raise ToolError("you can only cancel meetings you attend")
        del state["meetings"][meeting_id]
        return {"meeting_id": meeting_id, "status": "cancelled"}

    @tool("Move a meeting to a new date and start time, keeping its duration; optionally "
          "change its room (the room must be free).",
          {"meeting_id": _ID, "date": _DATE, "start": _TIME, "room_id": _ID}, writes=True)
    def move_meeting(self, state: dict, meeting_id: str, date: str, start: str,
                     room_id: str = "") -> dict:
        old = self._get(state, "meetings", meeting_id)
        moved = {**old, "date": date, "start": _minutes(start),
                 "end": _minutes(start) + old["end"] - old["start"],
                 "room_id": room_id or old["room_id"]}
        self._check_room(state, moved, meeting_id)
        state["meetings"][meeting_id] = moved
        return self._meeting_view(meeting_id, moved)

    @tool("Add and/or remove attendees of a meeting (the organizer cannot be removed).",
          {"meeting_id": _ID, "add": _IDS, "remove": _IDS},
          writes=True)
    def update_attendees(self, state: dict, meeting_id: str, add: list[str] | None = None,
                         remove: list[str] | None = None) -> dict:
        meeting = self._get(state, "meetings", meeting_id)
        for pid in [*(add or []), *(remove or [])]:
            self._get(state, "people", pid)
        if meeting["organizer"] in (remove or []):
            raise ToolError("the organizer cannot be removed")
        kept = [p for p in meeting["attendees"] if p not in (remove or [])]
        meeting["attendees"] = list(dict.fromkeys([*kept, *(add or [])]))
        return self._meeting_view(meeting_id, meeting)

    # -- helpers over the state ----------------------------------------------------------
    @staticmethod
    def _get(state: dict, table: str, key: str) -> dict:
        if key not in state[table]:
            raise ToolError(f"no {_SINGULAR[table]} with id {key!r}")
        return state[table][key]

    def _check_room(self, state: dict, meeting: dict, own_id: str) -> None:
        if meeting["end"] > 24 * 60:
            raise ToolError("the meeting must end by 24:00")
        if meeting["room_id"] is None:
            return
        self._get(state, "rooms", meeting["room_id"])
        for mid, m in state["meetings"].items():
            if (mid != own_id and m["room_id"] == meeting["room_id"]
                    and m["date"] == meeting["date"] and _overlap(m, meeting["start"],
                                                                  meeting["end"])):
                raise ToolError(f"room {meeting['room_id']} is booked {_hm(m['start'])}-"
                                f"{_hm(m['end'])} on {m['date']} ({mid})")

    @staticmethod
    def _person_view(pid: str, p: dict) -> dict:
        return {"person_id": pid, "name": p["name"], "team": p["team"],
                "location": p["location"],
                "working_hours": f"{_hm(p['hours'][0])}-{_hm(p['hours'][1])}"}

    @staticmethod
    def _meeting_view(mid: str, m: dict) -> dict:
        return {"meeting_id": mid, "title": m["title"], "date": m["date"],
                "start": _hm(m["start"]), "end": _hm(m["end"]), "room_id": m["room_id"],
                "attendee_ids": m["attendees"]}
