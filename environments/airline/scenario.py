"""Scenario generation, prompts and the reference solution of the airline family."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from environments.airline.common import (
    _CITY,
    _DATA,
    _DIGITS,
    _FALLBACK,
    _PEOPLE,
    hhmm,
    minutes,
    pretty,
)
from synth.env import Draft, Toolbox


class AirlineScenario:
    """Scenario generation, prompts and the reference solution of `AirlineFamily` (a mixin)."""

    # -- generation ----------------------------------------------------------------------
    def build(self, rng: random.Random, difficulty: int) -> Draft:
        today = dt.date(2025, rng.randint(3, 10), rng.randint(1, 15))
        now = f"{today.isoformat()}T{rng.randint(7, 18):02d}:{rng.choice([0, 15, 30, 45]):02d}"
        state: dict[str, Any] = {"now": now, "flights": {}, "users": {}, "reservations": {}}
        origin, dest, hub = (a["code"] for a in rng.sample(_DATA["airports"], 3))
        offset = rng.randint(5, 12)
        old_day, new_day, other_day, back_day = (
            (today + dt.timedelta(days=offset + n)).isoformat()
            for n in (0, rng.choice([-3, -2, -1, 1, 2, 3]), rng.randint(4, 8), rng.randint(4, 6)))
        taken: dict[str, bool] = {}
        main = self._add_route(state, rng, origin, dest, 5, [old_day, new_day, other_day], taken)
        back = self._add_route(state, rng, dest, origin, 3, [back_day], taken)
        for a, b in ((origin, hub), (hub, dest)):
            self._add_route(state, rng, a, b, 2, [new_day], taken)
        for _ in range(rng.randint(2, 4)):  # other travellers on the same flights
            uid = self._add_user(state, rng, taken)
            self._add_reservation(state, rng, uid, [(rng.choice(main), old_day)], taken)
        me = self._add_user(state, rng, taken)
        card, gift = list(state["users"][me]["payment_methods"])[:2]
        legs = [(rng.choice(main), old_day)]
        legs += [(rng.choice(back), back_day)] if rng.random() < 0.4 else []
        rid = self._add_reservation(state, rng, me, legs, taken, card,
                                    cabin=rng.choice(["economy", "business"]))
        # A second booking on the same route, refundable about half of the time.
        why = rng.choice(["recent", "insurance", "business", "cancelled"])
        why = why if rng.random() < 0.5 else "none"
        flight = rng.choice(main)
        other = self._add_reservation(
            state, rng, me, [(flight, other_day)], taken, rng.choice([card, gift]),
            cabin="business" if why == "business" else "economy", insurance=why == "insurance",
            hours_ago=rng.randint(1, 20) if why == "recent" else rng.randint(3, 40) * 24)
        if why == "cancelled":
            state["flights"][flight]["dates"][other_day]["status"] = "cancelled"
        rng.shuffle(state["users"][me]["reservations"])
        cut = rng.choice([3, 4])  # the new flight must land before a time that rules some out
        r, method = state["reservations"][rid], state["users"][me]["payment_methods"][card]
        p: dict[str, Any] = {
            "user": me, "now": now, "reservation": rid, "other": other, "origin": origin,
            "destination": dest, "old_day": old_day, "date": new_day, "other_day": other_day,
            "cabin": r["cabin"], "round_trip": len(legs) > 1, "card": method,
            "arrive_before": hhmm(minutes(state["flights"][main[cut - 1]]["arrival"]) // 30 * 30
                                  + 30), "late_flight": main[cut], "depart_after": None,
            "max_extra": None, "cheapest": difficulty >= 4, "bags": 0, "colleague": None}
        # Level additions come after the base scenario, so higher levels extend it.
        if difficulty >= 2:
            p["bags"] = rng.randint(1, 2)
        if difficulty >= 3:  # a departure window, a cancelled decoy and a downgrade rule
            p["depart_after"] = hhmm(minutes(state["flights"][main[1]]["departure"]) // 30 * 30)
            decoy = rng.choice(main[1:cut])
            state["flights"][decoy]["dates"][new_day]["status"] = "cancelled"
            fare = min(state["flights"][n]["dates"][new_day]["prices"][r["cabin"]]
                       for n in main[1:cut] if n != decoy)
            extra = (fare - r["flights"][0]["price"]) * len(r["passengers"])
            p["max_extra"] = extra + rng.choice([-1, 1]) * rng.randint(2, 12) * 10
            if p["max_extra"] <= 0:
                p["max_extra"] = rng.randint(2, 12) * 10
        if difficulty >= 5:
            p["colleague"] = {"first_name": rng.choice(_PEOPLE["first_names"]),
                              "last_name": rng.choice(_PEOPLE["last_names"]),
                              "dob": f"{rng.randint(1960, 2001)}-0{rng.randint(1, 9)}-1"
                                     f"{rng.randint(0, 9)}"}
        return self._draft(state, difficulty, p)

    @staticmethod
    def _new_id(rng: random.Random, taken: dict, prefix: str, alphabet: str, n: int) -> str:
        while True:
            key = prefix + "".join(rng.choice(alphabet) for _ in range(n))
            if key not in taken:
                taken[key] = True
                return key

    def _add_route(self, state: dict, rng: random.Random, a: str, b: str, n: int,
                   days: list[str], taken: dict) -> list[str]:
        """n flights a->b, departures at least 40 minutes apart, sorted by departure."""
        duration, base = rng.randrange(70, 330, 5), rng.randint(110, 360)
        starts = sorted(rng.sample(range((1419 - duration) // 30 - 10 - n), n))
        numbers = [self._new_id(rng, taken, _DATA["flight_prefix"], _DIGITS, 3) for _ in starts]
        for i, (start, number) in enumerate(zip(starts, numbers, strict=True)):
            departure = (12 + start + i) * 30 + rng.randrange(0, 25, 5)
            dates = {}
            for day in days:
                economy = round(base * rng.uniform(0.75, 1.45))
                dates[day] = {"status": "available", "seats": {
                    "basic_economy": rng.randint(3, 9), "economy": rng.randint(5, 20),
                    "business": rng.randint(3, 8)}, "prices": {
                    "basic_economy": round(economy * 0.7), "economy": economy,
                    "business": round(economy * rng.uniform(2.3, 3.3))}}
            state["flights"][number] = {"origin": a, "destination": b, "dates": dates,
                                        "departure": hhmm(departure),
                                        "arrival": hhmm(departure + duration)}
        return numbers

    def _add_user(self, state: dict, rng: random.Random, taken: dict) -> str:
        used, name = [u["name"] for u in state["users"].values()], ""
        while not name or name in used:
            name = f"{rng.choice(_PEOPLE['first_names'])} {rng.choice(_PEOPLE['last_names'])}"
        methods = {
            self._new_id(rng, taken, "credit_card_", _DIGITS, 7): {
                "kind": "credit_card", "brand": rng.choice(_DATA["card_brands"]),
                "last4": self._new_id(rng, {}, "", _DIGITS, 4)},
            self._new_id(rng, taken, "gift_card_", _DIGITS, 7): {
                "kind": "gift_card", "balance": rng.randint(900, 1600)}}
        if rng.random() < 0.3:
            methods[self._new_id(rng, taken, "certificate_", _DIGITS, 7)] = {
                "kind": "certificate", "balance": rng.randrange(100, 500, 50)}
        uid = self._new_id(rng, taken, name.lower().replace(" ", "_") + "_", _DIGITS, 4)
        state["users"][uid] = {"name": name, "membership": rng.choice(list(_DATA["free_bags"])),
                               "payment_methods": methods, "reservations": []}
        return uid

    def _add_reservation(self, state: dict, rng: random.Random, uid: str,
                         legs: list[tuple[str, str]], taken: dict, payment_id: str = "",
                         cabin: str = "economy", insurance: bool | None = None,
                         hours_ago: int = 0) -> str:
        user = state["users"][uid]
        last = user["name"].split(" ")[1]
        names = [user["name"].split(" ")[0]]
        names += [rng.choice(_PEOPLE["first_names"]) for _ in range(rng.randint(0, 2))]
        passengers = [{"first_name": first, "last_name": last, "dob": f"{rng.randint(1955, 2012)}"
                       f"-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"} for first in names]
        segments = [{"flight_number": n, "date": day, "origin": state["flights"][n]["origin"],
                     "destination": state["flights"][n]["destination"],  # booked early: cheaper
                     "price": round(state["flights"][n]["dates"][day]["prices"][cabin]
                                    * rng.uniform(0.5, 0.95))} for n, day in legs]
        insurance = rng.random() < 0.3 if insurance is None else insurance
        pax, bags = len(passengers), rng.randint(0, 2)
        total = (sum(s["price"] for s in segments) + _DATA["insurance_fee"] * insurance) * pax
        ago = dt.timedelta(hours=hours_ago or rng.randint(3, 60) * 24, minutes=rng.randint(0, 59))
        rid = self._new_id(rng, taken, "", "ABCDEFGHJKLMNPQRSTUVWXYZ", 6)
        state["reservations"][rid] = {
            "user_id": uid, "origin": segments[0]["origin"], "cabin": cabin,
            "destination": segments[0]["destination"], "flights": segments,
            "flight_type": "round_trip" if len(segments) > 1 else "one_way",
            "passengers": passengers, "insurance": insurance, "status": "active",
            "payments": [{"payment_id": payment_id or next(iter(user["payment_methods"])),
                          "amount": total}], "total_baggages": bags,
            "created_at": (dt.datetime.fromisoformat(state["now"]) - ago).isoformat(
                timespec="minutes"), "nonfree_baggages": self._nonfree(state, uid, bags, pax)}
        user["reservations"].append(rid)
        return rid

    def _draft(self, state: dict, difficulty: int, p: dict) -> Draft:
        route = f"from {_CITY[p['origin']]} to {_CITY[p['destination']]}"
        trip = f"{route} on {pretty(p['old_day'])}"
        trip = f"my trip {trip}" if difficulty >= 2 else f"reservation {p['reservation']} ({trip})"
        asks = [f"Hi, my user id is {p['user']}. Please move {trip} to {pretty(p['date'])}, on "
                f"a direct flight that lands before {p['arrive_before']}."
                + (" Keep my return flight as it is." if p["round_trip"] else ""),
                f"Keep the {p['cabin']} cabin and settle any fare difference on my "
                f"{p['card']['brand']} card ending in {p['card']['last4']}."]
        if difficulty >= 2:
            asks.append(f"Also add {p['bags']} checked bag{'s' * (p['bags'] > 1)} to that "
                        "reservation, paid with the same card.")
        if difficulty >= 3:
            asks.append(f"The new flight should leave no earlier than {p['depart_after']}. If "
                        f"staying in {p['cabin']} would cost more than ${p['max_extra']} extra "
                        f"in total, switch the reservation to {_FALLBACK[p['cabin']]} instead.")
        if difficulty >= 4:
            asks.append(f"Of the flights that fit, take the one with the cheapest {p['cabin']} "
                        "fare.")
        ctx: dict[str, Any] = {}
        turns, solutions = [" ".join(asks)], [lambda box: self._solve_change(box, p, ctx)]
        if difficulty >= 4:
            ask = (f"One more thing: please cancel my other booking {route} on "
                   f"{pretty(p['other_day'])}, but only if I get a full refund; otherwise leave "
                   "it.")
            if p["colleague"]:
                c = p["colleague"]
                ask += (f" And book my colleague {c['first_name']} {c['last_name']} (born "
                        f"{c['dob']}) on the same new flight: one way, economy, with travel "
                        "insurance, no checked bags, paid with my gift card.")
            turns.append(ask)
            solutions.append(lambda box: self._solve_follow_up(box, p, ctx))
        constraints = (2, 4, 6, 8, 9)[difficulty - 1]
        system = _DATA["policy"].format(now=p["now"])
        return Draft(state=state, system_prompt=system, user_turns=turns, solutions=solutions,
                     check=p, metadata={"constraints": constraints,
                                        "distractors": min(difficulty - 1, 2)})

    def _solve_change(self, box: Toolbox, p: dict, ctx: dict) -> str:
        user = box("get_user", user_id=p["user"])
        card = next(m["payment_id"] for m in user["payment_methods"]
                    if m.get("last4") == p["card"]["last4"])
        ctx["gift"] = next(m["payment_id"] for m in user["payment_methods"]
                           if m["kind"] == "gift_card")
        if p["bags"]:  # the trip is named by route and date: look through the bookings
            ctx["reservations"] = box.parallel(*[("get_reservation", {"reservation_id": r})
                                                 for r in user["reservations"]])
            res = next(v for v in ctx["reservations"] if v["status"] == "active"
                       and v["origin"] == p["origin"] and v["flights"][0]["date"] == p["old_day"])
        else:
            res = box("get_reservation", reservation_id=p["reservation"])
        flights = box("search_direct_flights", origin=res["origin"],
                      destination=res["destination"], date=p["date"])
        cabin, pax = res["cabin"], len(res["passengers"])
        fits = [f for f in flights if f["status"] == "available" and f["seats"][cabin] >= pax
                and (p["depart_after"] or "") <= f["departure"] < f["arrival"] < p["arrive_before"]]
        best = min(fits, key=lambda f: (f["prices"][cabin], f["flight_number"]))
        if p["max_extra"] is not None:
            extra = (best["prices"][cabin] - res["flights"][0]["price"]) * pax
            cabin = _FALLBACK[cabin] if extra > p["max_extra"] else cabin
        ctx["new_flight"] = best["flight_number"]
        segments = [{"flight_number": s["flight_number"], "date": s["date"]}
                    for s in [{**best, "date": p["date"]}, *res["flights"][1:]]]
        diff = box("update_reservation_flights", reservation_id=res["reservation_id"],
                   cabin=cabin, flights=segments, payment_id=card)["fare_difference"]
        answer = (f"Reservation {res['reservation_id']} is now on flight {best['flight_number']} "
                  f"in {cabin}; " + (f"${diff} charged." if diff >= 0 else f"${-diff} refunded."))
        if p["bags"]:
            box("update_baggages", reservation_id=res["reservation_id"],
                total_baggages=res["total_baggages"] + p["bags"], payment_id=card)
            answer += f" Added {p['bags']} checked bag(s)."
        return answer

    def _solve_follow_up(self, box: Toolbox, p: dict, ctx: dict) -> str:
        other = next(v for v in ctx["reservations"] if v["status"] == "active"
                     and v["origin"] == p["origin"] and v["flights"][0]["date"] == p["other_day"])
        age = dt.datetime.fromisoformat(p["now"]) - dt.datetime.fromisoformat(other["created_at"])
        refundable = (age < dt.timedelta(hours=24) or other["insurance"]
                      or other["cabin"] == "business")
        if not refundable:
            statuses = box.parallel(*[("get_flight_status", {
                "flight_number": s["flight_number"], "date": s["date"]}) for s in other["flights"]])
            refundable = any(s["status"] == "cancelled" for s in statuses)
        if refundable:
            box("cancel_reservation", reservation_id=other["reservation_id"])
        answer = f"Reservation {other['reservation_id']} " + (
            "is cancelled with a full refund." if refundable
            else "would not be refunded, so I left it as it is.")
        if p["colleague"]:
            booked = box("book_reservation", user_id=p["user"], origin=p["origin"],
                         destination=p["destination"], flight_type="one_way", cabin="economy",
                         flights=[{"flight_number": ctx["new_flight"], "date": p["date"]}],
                         passengers=[p["colleague"]], payment_id=ctx["gift"], total_baggages=0,
                         insurance=True)
            answer += f" Your colleague is booked: reservation {booked['reservation_id']}."
        return answer
