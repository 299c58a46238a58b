"""Airline reservations: flight changes with fare differences, bags, refund-rule cancellations.

Verification kind: final database state, checked against the user's constraints where they
allow several flights ("any direct flight on the 14th landing before 18:00"): the new flight
must satisfy them, then the expected database is rebuilt by replaying the reference's writes
with the agent's flight (and the cabin the user's rule gives for it) and compared.
Levels add a reservation named by route and date (a decoy booking) with extra bags, a departure
window with a cancelled decoy flight and a conditional downgrade, a cheapest-fare rule with a
follow-up refund-only cancellation (multi-turn), and a colleague's booking on the new flight.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import random
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
    execute_call,
    register,
    tool,
)
from synth.env import copy_state as _copy

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


def first_difference(want: Any, got: Any, path: str = "") -> str | None:
    """Where two JSON values first differ, as a sentence a person can read."""
    if want == got:
        return None
    if isinstance(want, dict) and isinstance(got, dict):
        for key in sorted({*want, *got}):
            found = first_difference(want.get(key), got.get(key), f"{path} {key}")
            if found:
                return found
        return None
    return f"{path.strip()}: expected {want}, found {got}"


@register
class AirlineFamily(EnvFamily):
    name = "airline"
    description = "Airline reservations: flight changes, fare differences, bags, cancellations."
    multi_turn = True
    verification = "state"

    # -- tools ---------------------------------------------------------------------------
    @tool("Get a user's profile: name, membership level (silver and gold get free checked "
          "bags), payment methods (gift card and certificate balances) and reservation ids.",
          {"user_id": _ID})
    def get_user(self, state: dict, user_id: str) -> dict:
        u = self._row(state, "users", user_id)
        methods = [{"payment_id": k, **m} for k, m in u["payment_methods"].items()]
        return {"user_id": user_id, "name": u["name"], "membership": u["membership"],
                "payment_methods": methods, "reservations": list(u["reservations"])}

    @tool("Get a reservation: route, trip type, cabin, flights with the fare paid per passenger, "
          "passengers, payments, checked bags, insurance, booking time and status.",
          {"reservation_id": _ID})
    def get_reservation(self, state: dict, reservation_id: str) -> dict:
        return {"reservation_id": reservation_id,
                **self._row(state, "reservations", reservation_id)}

    @tool("List the airports the airline serves, with their cities.")
    def list_airports(self, state: dict) -> list[dict]:
        return [{"code": a["code"], "city": a["city"]} for a in _DATA["airports"]]

    @tool("Search direct flights between two airports (IATA codes) on a date: local departure "
          "and arrival times, status, seats left and price per passenger in each cabin.",
          {"origin": _ID, "destination": _ID, "date": _DAY})
    def search_direct_flights(self, state: dict, origin: str, destination: str,
                              date: str) -> list[dict]:
        return [self._view(n, f, date) for n, f in state["flights"].items()
                if (f["origin"], f["destination"]) == (origin, destination) and date in f["dates"]]

    @tool("Search one-stop itineraries: two flights on the same date with at least 60 minutes "
          "to connect.", {"origin": _ID, "destination": _ID, "date": _DAY})
    def search_onestop_flights(self, state: dict, origin: str, destination: str,
                               date: str) -> list[list[dict]]:
        legs = [(n, f) for n, f in state["flights"].items() if date in f["dates"]]
        return [[self._view(n, f, date), self._view(m, g, date)]
                for n, f in legs if f["origin"] == origin and f["destination"] != destination
                for m, g in legs if (g["origin"], g["destination"]) == (f["destination"],
                                                                      destination)
                and minutes(g["departure"]) >= minutes(f["arrival"]) + 60]

    @tool("Get a flight's status on a date: available, delayed or cancelled.",
          {"flight_number": _ID, "date": _DAY})
    def get_flight_status(self, state: dict, flight_number: str, date: str) -> dict:
        return {"flight_number": flight_number, "date": date,
                "status": self._day(state, flight_number, date)["status"]}

    @tool("Change a reservation's flights and/or cabin (one cabin for all flights). Give the "
          "full new list of flights in travel order, unchanged ones included. Route and "
          "passengers stay the same; flights kept in the same cabin keep their fare, the others "
          "are priced now. The fare difference for all passengers is charged to (or refunded "
          "to) the payment method.",
          {"reservation_id": _ID, "cabin": _CABIN, "flights": _SEGMENTS, "payment_id": _ID},
          writes=True)
    def update_reservation_flights(self, state: dict, reservation_id: str, cabin: str,
                                   flights: list[dict], payment_id: str) -> dict:
        r = self._active(state, reservation_id)
        if r["cabin"] == "basic_economy":
            raise ToolError("basic economy reservations cannot be changed")
        pax = len(r["passengers"])
        kept = ({(s["flight_number"], s["date"]): s["price"] for s in r["flights"]}
                if cabin == r["cabin"] else {})
        segments = self._segments(state, r, flights, cabin, pax, kept)
        diff = (sum(s["price"] for s in segments) - sum(s["price"] for s in r["flights"])) * pax
        self._charge(state, r, payment_id, diff)
        self._seats(state, r["flights"], r["cabin"], pax)
        self._seats(state, segments, cabin, -pax)
        r["flights"], r["cabin"] = segments, cabin
        return {"reservation_id": reservation_id, "cabin": cabin, "flights": segments,
                "fare_difference": diff}

    @tool("Set the number of checked bags of a reservation (bags can only be added). Extra "
          "bags beyond the free allowance cost $50 each, charged to the payment method.",
          {"reservation_id": _ID, "total_baggages": _BAGS, "payment_id": _ID}, writes=True)
    def update_baggages(self, state: dict, reservation_id: str, total_baggages: int,
                        payment_id: str) -> dict:
        r = self._active(state, reservation_id)
        if total_baggages < r["total_baggages"]:
            raise ToolError("checked bags can only be added")
        nonfree = self._nonfree(state, r["user_id"], total_baggages, len(r["passengers"]))
        fee = _DATA["bag_fee"] * max(0, nonfree - r["nonfree_baggages"])
        self._charge(state, r, payment_id, fee)
        r["total_baggages"], r["nonfree_baggages"] = total_baggages, nonfree
        return {"reservation_id": reservation_id, "total_baggages": total_baggages,
                "charged": fee}

    @tool("Cancel a reservation. It is refunded in full to its original payment methods only "
          "when the cancellation policy allows it; otherwise the fare is forfeited.",
          {"reservation_id": _ID}, writes=True)
    def cancel_reservation(self, state: dict, reservation_id: str) -> dict:
        r = self._active(state, reservation_id)
        age = dt.datetime.fromisoformat(state["now"]) - dt.datetime.fromisoformat(r["created_at"])
        refundable = (age < dt.timedelta(hours=24) or r["insurance"] or r["cabin"] == "business"
                      or any(self._day(state, s["flight_number"], s["date"])["status"]
                             == "cancelled" for s in r["flights"]))
        refund = net_payments(r["payments"]) if refundable else {}
        for payment_id, amount in refund.items():
            self._charge(state, r, payment_id, -amount)
        self._seats(state, r["flights"], r["cabin"], len(r["passengers"]))
        r["status"] = "cancelled"
        return {"reservation_id": reservation_id, "status": "cancelled",
                "refunded": sum(refund.values())}

    @tool("Book a new reservation for a user. Charges fares for all passengers, $30 per "
          "passenger for travel insurance and $50 per bag beyond the free allowance.",
          {"user_id": _ID, "origin": _ID, "destination": _ID,
           "flight_type": {"type": "string", "enum": ["one_way", "round_trip"]},
           "cabin": _CABIN, "flights": _SEGMENTS, "passengers": _PASSENGERS, "payment_id": _ID,
           "total_baggages": _BAGS, "insurance": {"type": "boolean"}}, writes=True)
    def book_reservation(self, state: dict, user_id: str, origin: str, destination: str,
                         flight_type: str, cabin: str, flights: list[dict],
                         passengers: list[dict], payment_id: str, total_baggages: int,
                         insurance: bool) -> dict:
        pax = len(passengers)
        r = {"user_id": user_id, "origin": origin, "destination": destination,
             "flight_type": flight_type, "cabin": cabin, "flights": [],
             "passengers": passengers, "payments": [], "created_at": state["now"],
             "total_baggages": total_baggages, "insurance": insurance, "status": "active",
             "nonfree_baggages": self._nonfree(state, user_id, total_baggages, pax)}
        r["flights"] = self._segments(state, r, flights, cabin, pax, {})
        fares = sum(s["price"] for s in r["flights"]) + _DATA["insurance_fee"] * insurance
        self._charge(state, r, payment_id, fares * pax + _DATA["bag_fee"] * r["nonfree_baggages"])
        self._seats(state, r["flights"], cabin, -pax)
        rid = f"N{len(state['reservations']) + 1:05d}"
        state["reservations"][rid] = r
        state["users"][user_id]["reservations"].append(rid)
        return {"reservation_id": rid, "charged": sum(p["amount"] for p in r["payments"])}

    # -- helpers over the state ----------------------------------------------------------
    @staticmethod
    def _row(state: dict, table: str, key: str) -> dict:
        if key not in state[table]:
            raise ToolError(f"no {table[:-1]} {key}")
        return state[table][key]

    def _active(self, state: dict, reservation_id: str) -> dict:
        r = self._row(state, "reservations", reservation_id)
        if r["status"] != "active":
            raise ToolError(f"reservation {reservation_id} is {r['status']}")
        return r

    @staticmethod
    def _day(state: dict, flight_number: str, day: str) -> dict:
        flight = state["flights"].get(flight_number, {})
        if day not in flight.get("dates", {}):
            raise ToolError(f"flight {flight_number} does not operate on {day}")
        return flight["dates"][day]

    @staticmethod
    def _view(number: str, f: dict, day: str) -> dict:
        info = f["dates"][day]
        return {"flight_number": number, "origin": f["origin"], "destination": f["destination"],
                "departure": f["departure"], "arrival": f["arrival"], "status": info["status"],
                "seats": info["seats"], "prices": info["prices"]}

    def _segments(self, state: dict, r: dict, flights: list[dict], cabin: str, pax: int,
                  kept: dict) -> list[dict]:
        """Price and check the requested flights: bookable, connected, on the trip's route."""
        out = []
        for s in flights:
            day = self._day(state, s["flight_number"], s["date"])
            f = state["flights"][s["flight_number"]]
            price = kept.get((s["flight_number"], s["date"]))
            if price is None and day["status"] != "available":
                raise ToolError(f"flight {s['flight_number']} on {s['date']} is {day['status']}")
            if price is None and day["seats"][cabin] < pax:
                raise ToolError(f"flight {s['flight_number']} has too few {cabin} seats left")
            out.append({"flight_number": s["flight_number"], "date": s["date"],
                        "origin": f["origin"], "destination": f["destination"],
                        "price": day["prices"][cabin] if price is None else price})
        stops = [out[0]["origin"]] + [s["destination"] for s in out]
        end = r["origin"] if r["flight_type"] == "round_trip" else r["destination"]
        if (any(a["destination"] != b["origin"] for a, b in itertools.pairwise(out))
                or (stops[0], stops[-1]) != (r["origin"], end) or r["destination"] not in stops):
            raise ToolError(f"the flights must go from {r['origin']} to {r['destination']}"
                            + (" and back" if r["flight_type"] == "round_trip" else ""))
        return out

    @staticmethod
    def _nonfree(state: dict, user_id: str, bags: int, pax: int) -> int:
        if user_id not in state["users"]:
            raise ToolError(f"no user {user_id}")
        return max(0, bags - _DATA["free_bags"][state["users"][user_id]["membership"]] * pax)

    @staticmethod
    def _charge(state: dict, r: dict, payment_id: str, amount: int) -> None:
        """Charge (positive) or refund (negative) one of the reservation owner's methods."""
        method = state["users"][r["user_id"]]["payment_methods"].get(payment_id)
        if method is None:
            raise ToolError(f"payment method {payment_id} is not in the user's profile")
        if "balance" in method:
            if amount > method["balance"]:
                raise ToolError(f"{payment_id} balance is too low")
            method["balance"] -= amount
        if amount:
            r["payments"].append({"payment_id": payment_id, "amount": amount})

    @staticmethod
    def _seats(state: dict, segments: list[dict], cabin: str, delta: int) -> None:
        for s in segments:
            state["flights"][s["flight_number"]]["dates"][s["date"]]["seats"][cabin] += delta

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

    # -- verification --------------------------------------------------------------------
    @staticmethod
    def _outcome(state: dict, user: str) -> dict[str, Any]:
        """Reservations (payments netted per method), the user's balances and all seats."""
        reservations = {rid: {**r, "payments": net_payments(r["payments"]), "passengers": [
            " ".join(v.strip().lower() for v in p.values()) for p in r["passengers"]]}
            for rid, r in state["reservations"].items()}
        balances = {k: m["balance"] for k, m in state["users"][user]["payment_methods"].items()
                    if "balance" in m}
        seats = {f"{n} {day}": info["seats"] for n, f in state["flights"].items()
                 for day, info in f["dates"].items()}
        return {"reservations": reservations, "balances": balances, "seats": seats}

    @staticmethod
    def _choice_problem(initial: dict, c: dict, segment: dict) -> str | None:
        """Why the agent's new first flight breaks the user's constraints, if it does."""
        number, flights = segment["flight_number"], initial["flights"]
        fits = {n: g["dates"][c["date"]] for n, g in flights.items()
                if (g["origin"], g["destination"]) == (c["origin"], c["destination"])
                and c["date"] in g["dates"] and g["dates"][c["date"]]["status"] == "available"
                and (c["depart_after"] or "") <= g["departure"] < g["arrival"] < c["arrive_before"]}
        if segment["date"] != c["date"] or number not in fits:
            window = f"landing before {c['arrive_before']}" + (
                f", leaving at or after {c['depart_after']}" if c["depart_after"] else "")
            return (f"the first flight should be an available direct {c['origin']}-"
                    f"{c['destination']} flight on {c['date']} {window}; found {number} on "
                    f"{segment['date']}")
        fares = {n: info["prices"][c["cabin"]] for n, info in fits.items()}
        if c["cheapest"] and fares[number] > min(fares.values()):
            return f"flight {number} is not the cheapest fitting flight in {c['cabin']}"
        return None

    def _expected_cabin(self, task: Task, number: str) -> str:
        c, r = task.check, task.initial_state["reservations"][task.check["reservation"]]
        fare = task.initial_state["flights"][number]["dates"][c["date"]]["prices"][c["cabin"]]
        extra = (fare - r["flights"][0]["price"]) * len(r["passengers"])
        downgrade = c["max_extra"] is not None and extra > c["max_extra"]
        return _FALLBACK[c["cabin"]] if downgrade else c["cabin"]

    def _replayed(self, task: Task, number: str, cabin: str) -> tuple[dict | None, str]:
        """The reference's writes replayed with the agent's flight and cabin."""
        c, state = task.check, self.new_state(task)
        for call in (call for t in task.reference for r in t.rounds for call in r):
            if not self.tools[call.name].writes:
                continue
            args = json.loads(json.dumps(call.arguments))
            for s in args.get("flights", []):
                if s == {"flight_number": c["ref_flight"], "date": c["date"]}:
                    s["flight_number"] = number
            if call.name == "update_reservation_flights":
                args["cabin"] = cabin
            result = execute_call(self.tools, state, call.name, args)
            if not result.ok:
                return None, f"with flight {number} in {cabin}, {call.name}: {result.text}"
        return self._outcome(state, c["user"]), ""

    def verify(self, task: Task, state: Any, answer: str) -> Verdict:
        c = task.check
        r = state["reservations"].get(c["reservation"])
        if r is None or r["status"] != "active" or not r["flights"]:
            return Verdict.fail(f"reservation {c['reservation']} is missing or not active")
        problem = self._choice_problem(task.initial_state, c, r["flights"][0])
        if problem:
            return Verdict.fail(problem)
        number = r["flights"][0]["flight_number"]
        cabin, want = self._expected_cabin(task, number), c["expected"]
        if (number, cabin) != (c["ref_flight"], c["ref_cabin"]):
            want, why = self._replayed(task, number, cabin)
            if want is None:
                return Verdict.fail(why)
        difference = first_difference(want, self._outcome(state, c["user"]))
        return Verdict.fail(difference) if difference else Verdict.ok()

    def finalize_check(self, check: dict, state: Any, answer: str) -> dict:
        """The reference's flight, cabin and outcome; other valid flights are replayed."""
        r = state["reservations"][check["reservation"]]
        return {**check, "ref_flight": r["flights"][0]["flight_number"], "ref_cabin": r["cabin"],
                "expected": self._outcome(state, check["user"])}

    def corruptions(self, task: Task, state: Any, answer: str,
                    rng: random.Random) -> list[Corruption]:
        c, d = task.check, task.difficulty
        kinds = ["wrong_flight", "wrong_cabin", "wrong_amount", "missing_bags", "wrong_cancel"]
        kinds = kinds[:3] + kinds[3:4] * (d >= 2) + kinds[4:] * (d >= 4)
        out = [Corruption(k, _copy(state), answer) for k in kinds]
        mine = {k: s["reservations"][c["reservation"]] for k, s, _ in out}
        mine["wrong_flight"]["flights"][0]["flight_number"] = c["late_flight"]
        cabin = mine["wrong_cabin"]["cabin"]
        mine["wrong_cabin"]["cabin"] = "business" if cabin != "business" else "economy"
        payments = mine["wrong_amount"]["payments"]
        payments.append({"payment_id": payments[-1]["payment_id"], "amount": 25})
        for k, s, _ in out[3:]:
            if k == "missing_bags":
                s["reservations"][c["reservation"]]["total_baggages"] -= 1
            else:
                other = s["reservations"][c["other"]]
                other["status"] = "active" if other["status"] == "cancelled" else "cancelled"
        return [self.missing_write(task, answer), *out]
