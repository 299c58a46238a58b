"""Verification and corruptions of the travel family."""

from __future__ import annotations

import random
from typing import Any

from environments.travel.common import (
    _hotel_problem,
    _leg_pairs,
    _leg_problem,
    _resolve,
    _sight_problem,
)
from synth.env import Corruption, Task, Verdict


class TravelVerifier:
    """Verification and corruptions of `TravelFamily` (a mixin)."""

    # -- verification --------------------------------------------------------------------
    def verify(self, task: Task, state: Any, answer: str) -> Verdict:
        if not state.get("submission"):
            return Verdict.fail("no itinerary was submitted")
        problem = self._violation(task.check["rules"], state, state["submission"])
        return Verdict.fail(problem) if problem else Verdict.ok()

    @staticmethod
    def _violation(rules: dict, state: dict, sub: dict) -> str | None:
        r = _resolve(rules, {c["name"]: cid for cid, c in state["cities"].items()})
        want = [c for c, n in r["stays"] for _ in range(n)]
        got = [d["city_id"] for d in sub["days"]]
        if got != want:
            return f"the nights are in {got}, but the trip asks for {want}"
        t, cost, any5, seen = r["travelers"], 0, False, []
        for i, d in enumerate(sub["days"], 1):
            h = state["hotels"].get(d["hotel_id"])
            if h is None or h["city_id"] != d["city_id"]:
                return f"day {i}: hotel {d['hotel_id']} is not in {d['city_id']}"
            if why := _hotel_problem(r, h):
                return f"day {i}: hotel {h['name']} {why}"
            any5, cost = any5 or h["stars"] == 5, cost + h["price_per_night"]
            if len(d["attraction_ids"]) < r["per_day"]:
                return f"day {i}: no attraction planned"
            for aid in d["attraction_ids"]:
                a = state["attractions"].get(aid)
                if a is None or a["city_id"] != d["city_id"]:
                    return f"day {i}: attraction {aid} is not in {d['city_id']}"
                if aid in seen:
                    return f"day {i}: {a['name']} is visited twice"
                if why := _sight_problem(r, h, a):
                    return f"day {i}: {a['name']} {why}"
                seen.append(aid)
                cost += t * a["ticket_price"]
        if r["category"] and not any(state["attractions"][a]["city_id"] == r["category"][0]
                                     and state["attractions"][a]["category"] == r["category"][1]
                                     for a in seen):
            return f"no {r['category'][1]} attraction in {rules['category'][0]}"
        pairs = _leg_pairs(r)
        if len(sub["transport_ids"]) != len(pairs):
            return f"{len(sub['transport_ids'])} transport legs submitted, {len(pairs)} needed"
        for (a, b), tid in zip(pairs, sub["transport_ids"], strict=True):
            leg = state["transport"].get(tid)
            if leg is None or (leg["from_city_id"], leg["to_city_id"]) != (a, b):
                return f"transport {tid} does not go from {a} to {b}"
            if why := _leg_problem(r, leg):
                return f"transport {tid} {why}"
            cost += t * leg["price"]
        if abs(float(sub["total_cost"]) - cost) > 0.005:
            return f"stated total ${sub['total_cost']}, but the itinerary costs ${cost}"
        if r["budget"] and cost > (cap := r["budget"]["5" if any5 else "other"]):
            return f"the trip costs ${cost}, over the ${cap} budget that applies"
        return None

    def corruptions(self, task: Task, state: Any, answer: str,
                    rng: random.Random) -> list[Corruption]:
        sub, hotels = state["submission"], state["hotels"]
        r = _resolve(task.check["rules"], {c["name"]: cid for cid, c in state["cities"].items()})

        def variant(kind: str, change: Any) -> Corruption:
            return Corruption.edit(kind, state, answer, lambda new: change(new["submission"]),
                                   "submission")

        def swap_hotel(city: str, hid: str) -> Any:
            def change(new: dict) -> None:
                for d in new["days"]:
                    if d["city_id"] == city:
                        new["total_cost"] += (hotels[hid]["price_per_night"]
                                              - hotels[d["hotel_id"]]["price_per_night"])
                        d["hotel_id"] = hid
            return change

        def repeat(new: dict) -> None:
            again = new["days"][0]["attraction_ids"][0]
            new["days"][1]["attraction_ids"].append(again)
            new["total_cost"] += r["travelers"] * state["attractions"][again]["ticket_price"]

        def reroute(new: dict) -> None:
            a, b = _leg_pairs(r)[0]
            wrong = next(tid for tid, t in state["transport"].items()
                         if (t["from_city_id"], t["to_city_id"]) != (a, b))
            new["total_cost"] += r["travelers"] * (state["transport"][wrong]["price"] - state[
                "transport"][new["transport_ids"][0]]["price"])
            new["transport_ids"][0] = wrong

        first = sub["days"][0]["city_id"]
        inn = next(h for h, v in hotels.items() if v["city_id"] == first and v["stars"] == 2)
        out = [self.missing_write(task, answer),
               variant("wrong_total", lambda s: s.update(total_cost=s["total_cost"] + 15)),
               variant("hotel_under_rating", swap_hotel(first, inn))]
        if r["per_day"]:
            out.append(variant("repeated_attraction", repeat))
            any5 = any(hotels[d["hotel_id"]]["stars"] == 5 for d in sub["days"])
            cap = r["budget"]["5" if any5 else "other"]
            for city, nights in r["stays"]:
                now = hotels[next(d["hotel_id"] for d in sub["days"] if d["city_id"] == city)]
                dearer = [hid for hid, h in hotels.items() if h["city_id"] == city
                          and not _hotel_problem(r, h) and (h["stars"] == 5) == (now["stars"] == 5)
                          and sub["total_cost"] + nights * (h["price_per_night"]
                                                            - now["price_per_night"]) > cap]
                if dearer:  # a same-tier hotel that keeps every rule but the budget
                    out.append(variant("over_budget", swap_hotel(city, dearer[0])))
                    break
        if sub["transport_ids"]:
            out.append(variant("nonexistent_leg", reroute))
        return out
