"""Scenario generation, prompts and the reference solution of the calendar scheduling family."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from environments.calendar_scheduling.common import (
    _AFTERNOON,
    _DATA,
    _HOURS,
    _MORNING,
    _NAMES,
    _STEP,
    _hm,
    _minutes,
    _needs,
    _overlap,
    _weekday,
)
from synth.env import Draft, Toolbox


class CalendarSchedulingScenario:
    """Scenario generation, prompts and the reference solution of `CalendarSchedulingFamily`
    (a mixin)."""

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
