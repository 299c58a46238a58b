"""Calendar scheduling for a small team: a meeting inside everyone's working hours, clear of
their other meetings, in a room that fits, under conditional equipment rules; then follow-up
changes (move it, add someone).

Verification kind: final state. Exactly one new meeting must exist and satisfy the request
(title, date, duration, attendees, working hours, no overlap for any attendee or the room,
capacity, conditional equipment, time window); every pre-existing meeting must be untouched
except the one the user asked to cancel. Any valid slot and room passes.
Levels: 1 attendees and a date; 2 a room that fits; 3 a projector rule when more than four
attend and a follow-up turn moving the meeting to the next day; 4 a time window, a namesake
invitee, a decoy room and a follow-up turn adding a person; 5 a cancellation first, a video rule
for remote attendees and a follow-up turn that moves the meeting and adds a person.
"""

from __future__ import annotations

import random
import re
from datetime import date, timedelta
from typing import Any

from synth.data import load_json
from synth.env import (
    Corruption,
    Draft,
    EnvFamily,
    Task,
    Toolbox,
    ToolError,
    Verdict,
    register,
    tool,
)
from synth.env import copy_state as _copy

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


@register
class CalendarSchedulingFamily(EnvFamily):
    name = "calendar_scheduling"
    description = "Team calendar scheduling: free slots, rooms, conditional equipment, changes."
    multi_turn = True
    verification = "state"

    # -- tools ---------------------------------------------------------------------------
    @tool("List the people on the team, optionally one team only, with working hours.",
          {"team": {"type": "string", "enum": _DATA["teams"]}}, required=[])
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
           "ignore_meeting_id": _ID}, required=["person_ids", "date", "duration_minutes"])
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
           "equipment": {"type": "array", "items": {"type": "string", "enum": _EQUIPMENT}}},
          required=[])
    def list_rooms(self, state: dict, min_capacity: int = 1,
                   equipment: list[str] | None = None) -> list[dict]:
        rows = [{"room_id": rid, **r} for rid, r in state["rooms"].items()
                if r["capacity"] >= min_capacity
                and all(e in r["equipment"] for e in equipment or [])]
        return sorted(rows, key=lambda r: (r["capacity"], r["room_id"]))

    @tool("List room bookings on a date, for one room or for every room.",
          {"date": _DATE, "room_id": _ID}, required=["date"])
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
           "duration_minutes": _DURATION, "attendee_ids": _IDS, "room_id": _ID},
          required=["title", "date", "start", "duration_minutes", "attendee_ids"], writes=True)
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
          {"meeting_id": _ID, "date": _DATE, "start": _TIME, "room_id": _ID},
          required=["meeting_id", "date", "start"], writes=True)
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
          {"meeting_id": _ID, "add": _IDS, "remove": _IDS}, required=["meeting_id"],
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

    # -- generation ----------------------------------------------------------------------
    def build(self, rng: random.Random, difficulty: int) -> Draft:
        state = self._team(rng)
        me, *others = list(state["people"])
        day = date.fromisoformat(rng.choice(_DATA["mondays"])) + timedelta(rng.randrange(4))
        days = [day.isoformat(), (day + timedelta(1)).isoformat()]
        duration, title = rng.choice([30, 45, 60]), rng.choice(_DATA["requested_titles"])
        invitees = rng.sample(others, rng.randint(2, 4))
        dana, partner = rng.sample([p for p in others if p not in invitees], 2)
        window = rng.choice([_MORNING, _AFTERNOON])
        group = [me, *invitees, dana]
        big = [rid for rid, r in state["rooms"].items() if r["capacity"] >= len(group)
               and {"projector", "video"} <= set(r["equipment"])]
        golden_room = rng.choice(big)
        hours = [state["people"][p]["hours"] for p in group]
        starts = [s for s in range(max(h[0] for h in hours), min(h[1] for h in hours), 30)
                  if window[0] <= s and s + duration <= min(window[1], *(h[1] for h in hours))]
        reserved = {d: (s, s + duration) for d, s in zip(days, rng.choices(starts, k=2),
                                                           strict=True)}
        one_on_one = self._populate(state, rng, days, reserved, group, golden_room, me, partner)
        # Level additions: a namesake of the first invitee and a room without a projector.
        if difficulty >= 4:
            self._namesake(state, rng, invitees[0])
            state["rooms"]["R90"] = dict(_DATA["decoy_room"])
        if difficulty >= 5:  # the same 1:1 on the next day, which must stay
            twin = {**state["meetings"][one_on_one], "date": days[1], "attendees": [me, partner]}
            lo = max(state["people"][p]["hours"][0] for p in (me, partner))
            hi = min(state["people"][p]["hours"][1] for p in (me, partner))
            for start in rng.sample(range(lo, hi - 30 + 1, 30), (hi - 30 - lo) // 30 + 1):
                twin.update(start=start, end=start + 30)
                if not _overlap(twin, *reserved[days[1]]) and not any(
                        m["date"] == days[1] and _overlap(m, start, start + 30)
                        and set(m["attendees"]) & {me, partner}
                        for m in state["meetings"].values()):
                    state["meetings"][f"M{state['next_id']}"] = twin
                    state["next_id"] += 1
                    break
        people = state["people"]
        ask = {"title": title, "date": days[0], "duration": duration,
               "me": people[me]["name"], "invitees": [self._ref(people, p, difficulty >= 4 and
                                                                 p == invitees[0])
                                                      for p in invitees],
               "room": difficulty >= 2, "projector_over": 4 if difficulty >= 3 else None,
               "video_if_remote": difficulty >= 5, "window": window if difficulty >= 4 else None,
               "cancel": people[partner]["name"] if difficulty >= 5 else None}
        follow = {3: {"date": days[1], "add": None},
                  4: {"date": days[0], "add": self._ref(people, dana, True)},
                  5: {"date": days[1], "add": self._ref(people, dana, True)}}.get(difficulty)
        ctx: dict[str, Any] = {}
        turns = [self._ask(ask)]
        solutions = [lambda box: self._solve_first(box, ask, ctx)]
        if follow:
            turns.append(self._ask_again(follow, days[0]))
            solutions.append(lambda box: self._solve_follow(box, ask, follow, ctx))
        final = [me, *invitees] + ([dana] if follow and follow["add"] else [])
        check = {**{k: ask[k] for k in ("title", "duration", "room", "projector_over",
                                         "video_if_remote", "window")},
                 "date": follow["date"] if follow else days[0], "attendees": sorted(final),
                 "cancelled": [one_on_one] if difficulty >= 5 else [],
                 "moved_from": days[0] if follow and follow["date"] != days[0] else None}
        return Draft(state=state, system_prompt=self._system(state), user_turns=turns,
                     solutions=solutions, check=check,
                     metadata={"constraints": [0, 5, 7, 10, 12, 15][difficulty],
                               "distractors": [0, 0, 0, 0, 2, 3][difficulty]})

    @staticmethod
    def _team(rng: random.Random) -> dict:
        """10-12 people with distinct first names, teams, hours and locations; the rooms."""
        firsts = rng.sample(_NAMES["first_names"], rng.randint(10, 12))
        people = {f"P{i + 1:02d}": {"name": f"{first} {rng.choice(_NAMES['last_names'])}",
                                    "team": rng.choice(_DATA["teams"]),
                                    "hours": list(rng.choice(_HOURS)),
                                    "location": "remote" if rng.random() < 0.25 else "office"}
                  for i, first in enumerate(firsts)}
        rooms = {f"R{i + 1:02d}": dict(r) for i, r in enumerate(_DATA["rooms"])}
        return {"me": "P01", "people": people, "rooms": rooms, "meetings": {}, "next_id": 101}

    @staticmethod
    def _populate(state: dict, rng: random.Random, days: list[str], reserved: dict,
                  group: list[str], golden_room: str, me: str, partner: str) -> str:
        """Existing meetings: a 1:1 of the user, then random ones that keep one slot per day
        free for the whole group and one suitable room (so every level stays solvable)."""
        people, meetings = state["people"], state["meetings"]
        busy: dict[tuple[str, str], list[tuple[int, int]]] = {}  # (day, person or room)

        def fits(day: str, start: int, end: int, who: list[str], room: str | None) -> bool:
            held = start < reserved[day][1] and reserved[day][0] < end
            for key in [*who, room] if room else who:
                if any(s < end and start < e for s, e in busy.get((day, key), ())):
                    return False
            return not ((held and (room == golden_room or any(p in group for p in who)))
                        or any(start < people[p]["hours"][0] or end > people[p]["hours"][1]
                               for p in who))

        def add(title: str, day: str, start: int, end: int, who: list[str],
                room: str | None) -> None:
            meetings[f"M{state['next_id']}"] = {"title": title, "date": day, "start": start,
                                                "end": end, "attendees": who, "room_id": room,
                                                "organizer": who[0]}
            state["next_id"] += 1
            for key in [*who, room] if room else who:
                busy.setdefault((day, key), []).append((start, end))

        for start in rng.sample(range(8 * 60, 17 * 60, 30), 18):
            if fits(days[0], start, start + 30, [me, partner], None):
                add(f"1:1 {people[me]['name'].split()[0]} / {people[partner]['name'].split()[0]}",
                    days[0], start, start + 30, [me, partner], None)
                break
        one_on_one, ids = next(iter(meetings)), list(people)
        roomy = [[r for r, v in state["rooms"].items() if v["capacity"] >= k] for k in range(5)]
        pair = sorted([me, partner])
        for day in days:
            for _ in range(34):
                who = rng.sample(ids, rng.choice([1, 2, 2, 3, 3, 4]))
                start = 8 * 60 + 30 * int(rng.random() * 19)
                end = start + rng.choice([30, 60, 60, 90])
                room = rng.choice(roomy[len(who)]) if len(who) > 1 and rng.random() < 0.8 else None
                if fits(day, start, end, who, room) and sorted(who) != pair:
                    add(rng.choice(_DATA["meeting_titles"]), day, start, end, who, room)
        return one_on_one

    @staticmethod
    def _namesake(state: dict, rng: random.Random, pid: str) -> None:
        person = state["people"][pid]
        first, last = person["name"].split(" ", 1)
        state["people"][f"P{len(state['people']) + 1:02d}"] = {
            "name": f"{first} {rng.choice([n for n in _NAMES['last_names'] if n != last])}",
            "team": rng.choice([t for t in _DATA["teams"] if t != person["team"]]),
            "hours": list(rng.choice(_HOURS)), "location": "office"}

    @staticmethod
    def _ref(people: dict, pid: str, by_team: bool) -> dict:
        """How the user names a person: full name, or first name and team."""
        name = people[pid]["name"]
        return {"first": name.split()[0], "team": people[pid]["team"]} if by_team else {
            "name": name}

    # -- prompts and the reference solution ----------------------------------------------
    @staticmethod
    def _system(state: dict) -> str:
        me = state["people"][state["me"]]
        return (f"You are the scheduling assistant of {me['name']} ({me['team']}) at "
                f"{_DATA['company']}. Use the tools to read calendars and book meetings and rooms. "
                "Dates are YYYY-MM-DD and times are office time, 24-hour. A meeting must lie "
                "within every attendee's working hours and must not overlap any of their other "
                f"meetings. {me['name']} is added automatically to meetings you create.")

    @staticmethod
    def _who(ref: dict) -> str:
        return ref["name"] if "name" in ref else f"{ref['first']} from {ref['team']}"

    def _ask(self, ask: dict) -> str:
        names = [self._who(r) for r in ask["invitees"]]
        text = (f"Please schedule a {ask['duration']}-minute meeting titled \"{ask['title']}\" "
                f"with {', '.join(names[:-1])} and {names[-1]} on {_weekday(ask['date'])} "
                f"{ask['date']}.")
        if ask["cancel"]:
            text = (f"First, cancel my 1:1 with {ask['cancel']} on {ask['date']}. Then: "
                    + text[0].lower() + text[1:])
        if not ask["room"]:
            return text + " It's a video call, so no room is needed."
        text += " Book a meeting room with enough seats for everyone."
        if ask["projector_over"] is not None:
            text += (f" If more than {ask['projector_over']} people attend (me included), the "
                     "room must have a projector.")
        if ask["video_if_remote"]:
            text += " If anyone attending works remotely, the room needs video equipment."
        if ask["window"]:
            text += (" It has to be in the morning (ending by 12:00)." if ask["window"] == _MORNING
                     else " It has to be in the afternoon (starting at 13:00 or later).")
        return text

    def _ask_again(self, follow: dict, first_date: str) -> str:
        when = f"{_weekday(follow['date'])} {follow['date']}"
        if not follow["add"]:
            return (f"Change of plans: please move the meeting to {when}. All the same "
                    "requirements still apply.")
        who = self._who(follow["add"])
        if follow["date"] == first_date:
            return (f"Please also add {who} to the meeting. If the time or room no longer works "
                    "for everyone, move it (same day, same requirements).")
        return f"Change of plans: move the meeting to {when} and add {who}. Same requirements."

    @staticmethod
    def _find(people: list[dict], ref: dict) -> str:
        return next(p["person_id"] for p in people if p["name"] == ref.get("name") or (
            p["name"].split()[0] == ref.get("first") and p["team"] == ref.get("team")))

    def _solve_first(self, box: Toolbox, ask: dict, ctx: dict) -> str:
        people = box("list_people")
        me = self._find(people, {"name": ask["me"]})
        ctx.update(people=people, ids=[me, *(self._find(people, r) for r in ask["invitees"])])
        if ask["cancel"]:
            partner = self._find(people, {"name": ask["cancel"]})
            mine = box("get_calendar", person_id=me, date=ask["date"])["meetings"]
            one = next(m for m in mine if m["title"].startswith("1:1")
                       and sorted(m["attendee_ids"]) == sorted([me, partner]))
            box("cancel_meeting", meeting_id=one["meeting_id"])
        start, room = self._choose(box, ask, ctx, ask["date"], None)
        made = box("create_meeting", title=ask["title"], date=ask["date"], start=_hm(start),
                   duration_minutes=ask["duration"], attendee_ids=ctx["ids"][1:],
                   **({"room_id": room} if room else {}))
        ctx.update(meeting=made["meeting_id"], date=ask["date"], start=start, room=room)
        where = f" in room {room}" if room else ""
        return f"Booked \"{ask['title']}\" on {ask['date']} at {_hm(start)}{where}."

    def _solve_follow(self, box: Toolbox, ask: dict, follow: dict, ctx: dict) -> str:
        added = [self._find(ctx["people"], follow["add"])] if follow["add"] else []
        ctx["ids"] = ctx["ids"] + added
        keep = (ctx["start"], ctx["room"]) if follow["date"] == ctx["date"] else None
        start, room = self._choose(box, ask, ctx, follow["date"], keep)
        if (start, room) != keep:
            box("move_meeting", meeting_id=ctx["meeting"], date=follow["date"],
                start=_hm(start), **({"room_id": room} if room else {}))
        if added:
            box("update_attendees", meeting_id=ctx["meeting"], add=added)
        where = f" in room {room}" if room else ""
        return f"The meeting is now on {follow['date']} at {_hm(start)}{where}."

    def _choose(self, box: Toolbox, ask: dict, ctx: dict, day: str,
                keep: tuple[int, str | None] | None) -> tuple[int, str | None]:
        """The kept slot if it still works, else the earliest start (and smallest fitting,
        free room) that keeps every rule, from free windows and room bookings."""
        ignore = {"ignore_meeting_id": ctx["meeting"]} if "meeting" in ctx else {}
        calls = [("find_free_slots", {"person_ids": ctx["ids"], "date": day,
                                      "duration_minutes": ask["duration"], **ignore})]
        if ask["room"]:
            calls += [("list_rooms", {})] if "rooms" not in ctx else []
            calls.append(("get_room_schedule", {"date": day}))
        found = box.parallel(*calls)
        if ask["room"] and "rooms" not in ctx:
            ctx["rooms"] = found[1]
        booked = found[-1] if ask["room"] else []
        attendees = [p for p in ctx["people"] if p["person_id"] in ctx["ids"]]
        need = _needs(ask, attendees)
        rooms = [r["room_id"] for r in ctx["rooms"] if r["capacity"] >= len(attendees)
                 and all(e in r["equipment"] for e in need)] if ask["room"] else [None]
        lo, hi = ask["window"] or [0, 24 * 60]
        starts = [s for w in found[0] for s in range(_minutes(w["start"]),
                                                     _minutes(w["end"]) - ask["duration"] + 1,
                                                     _STEP)
                  if lo <= s and s + ask["duration"] <= hi]
        for start in ([keep[0]] if keep else []) + starts:
            if start not in starts:
                continue
            for room in ([keep[1]] if keep and start == keep[0] else []) + rooms:
                if room in rooms and not any(
                        b["room_id"] == room and b["meeting_id"] != ctx.get("meeting")
                        and _minutes(b["start"]) < start + ask["duration"]
                        and start < _minutes(b["end"]) for b in booked):
                    return start, room
        raise ValueError("no slot fits")

    # -- verification --------------------------------------------------------------------
    def verify(self, task: Task, state: Any, answer: str) -> Verdict:
        c, before = task.check, task.initial_state["meetings"]
        for mid, m in before.items():
            now = state["meetings"].get(mid)
            if mid in c["cancelled"] and now is not None:
                return Verdict.fail(f"meeting {mid} ({m['title']}) was not cancelled")
            if mid not in c["cancelled"] and now != m:
                return Verdict.fail(f"existing meeting {mid} ({m['title']}) was changed")
        new = [(mid, m) for mid, m in state["meetings"].items() if mid not in before]
        if len(new) != 1:
            return Verdict.fail("no meeting was booked" if not new else
                                f"{len(new)} new meetings exist, expected exactly one")
        problem = self._problem(c, state, *new[0])
        return Verdict.fail(problem) if problem else Verdict.ok()

    @staticmethod
    def _problem(c: dict, state: dict, mid: str, m: dict) -> str | None:
        people = state["people"]
        if _norm(m["title"]) != _norm(c["title"]):
            return f"the meeting is titled {m['title']!r}, not {c['title']!r}"
        if m["date"] != c["date"]:
            return f"the meeting is on {m['date']}, not {c['date']}"
        if m["end"] - m["start"] != c["duration"]:
            return f"the meeting lasts {m['end'] - m['start']} minutes, not {c['duration']}"
        if sorted(m["attendees"]) != c["attendees"]:
            return f"attendees are {sorted(m['attendees'])}, expected {c['attendees']}"
        for pid in m["attendees"]:
            lo, hi = people[pid]["hours"]
            if not (lo <= m["start"] and m["end"] <= hi):
                return f"{people[pid]['name']} works {_hm(lo)}-{_hm(hi)}"
        if c["window"] and not (c["window"][0] <= m["start"] and m["end"] <= c["window"][1]):
            return f"the meeting at {_hm(m['start'])} is outside the requested time window"
        for oid, o in state["meetings"].items():
            if oid == mid or o["date"] != m["date"] or not _overlap(o, m["start"], m["end"]):
                continue
            if set(o["attendees"]) & set(m["attendees"]):
                return f"the meeting overlaps {oid} ({o['title']}) of an attendee"
            if m["room_id"] and o["room_id"] == m["room_id"]:
                return f"room {m['room_id']} is double-booked with {oid}"
        if not c["room"]:
            return None
        room = state["rooms"].get(m["room_id"] or "")
        if room is None:
            return "no meeting room was booked"
        if room["capacity"] < len(m["attendees"]):
            return f"{room['name']} seats {room['capacity']}, {len(m['attendees'])} attend"
        for need in _needs(c, [people[p] for p in m["attendees"]]):
            if need not in room["equipment"]:
                return f"{room['name']} has no {need}, which this meeting requires"
        return None

    def corruptions(self, task: Task, state: Any, answer: str,
                    rng: random.Random) -> list[Corruption]:
        before = task.initial_state["meetings"]
        mid = next(m for m in state["meetings"] if m not in before)
        ours = state["meetings"][mid]

        def variant(kind: str, **change: Any) -> Corruption:
            meetings = {**state["meetings"], mid: {**_copy(ours), **change}}
            return Corruption(kind, {**state, "meetings": meetings}, answer)

        length = ours["end"] - ours["start"]
        out = [self.missing_write(task, answer),
               variant("dropped_attendee", attendees=ours["attendees"][:-1]),
               variant("before_hours", start=7 * 60, end=7 * 60 + length)]
        if task.check["room"]:
            out.append(variant("small_room", room_id="R01"))
        clash = next((o for oid, o in state["meetings"].items() if oid != mid
                      and o["date"] == ours["date"] and set(o["attendees"]) & set(
                          ours["attendees"])), None)
        if clash:
            out.append(variant("overlap", start=clash["start"], end=clash["start"] + length))
        if task.check["moved_from"]:
            out.append(variant("not_moved", date=task.check["moved_from"]))
        for cid in task.check["cancelled"]:
            kept = {**state["meetings"], cid: before[cid]}
            out.append(Corruption("not_cancelled", {**state, "meetings": kept}, answer))
            twin = [t for t, m in kept.items() if t != cid and m["title"] == before[cid]["title"]]
            wrong = {k: m for k, m in kept.items() if k not in twin}
            out.append(Corruption("cancelled_wrong_day", {**state, "meetings": wrong}, answer))
        return out
