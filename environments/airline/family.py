"""The airline family: the registered class and its tools."""

from __future__ import annotations

import datetime as dt
import itertools

from environments.airline.common import (
    _BAGS,
    _CABIN,
    _DATA,
    _DAY,
    _ID,
    _PASSENGERS,
    _SEGMENTS,
    minutes,
    net_payments,
)
from environments.airline.scenario import AirlineScenario
from environments.airline.verify import AirlineVerifier
from synth.env import EnvFamily, ToolError, register, tool


@register
class AirlineFamily(AirlineScenario, AirlineVerifier, EnvFamily):
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
