"""Verification and corruptions of the calendar scheduling family."""

from __future__ import annotations

import random
from typing import Any

from environments.calendar_scheduling.common import _hm, _needs, _norm, _overlap
from synth.env import Corruption, Task, Verdict


class CalendarSchedulingVerifier:
    """Verification and corruptions of `CalendarSchedulingFamily` (a mixin)."""

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
            return Corruption.edit(kind, state, answer,
                                   lambda new: new["meetings"][mid].update(change), "meetings")

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
