"""The outcome, its comparison and the domain corruptions of the airline family."""

from __future__ import annotations

import json
import random
from typing import Any

from environments.airline.common import _FALLBACK, net_payments
from synth.env import Corruption, Task, execute_call, first_difference


class AirlineVerifier:
    """The outcome, its comparison and the domain corruptions of `AirlineFamily` (a mixin)."""

    def outcome(self, task: Task, state: Any) -> dict[str, Any]:
        """Reservations (payments netted per method), the user's balances and all seats."""
        reservations = {rid: {**r, "payments": net_payments(r["payments"]), "passengers": [
            " ".join(v.strip().lower() for v in p.values()) for p in r["passengers"]]}
            for rid, r in state["reservations"].items()}
        balances = {k: m["balance"] for k, m in
                    state["users"][task.check["user"]]["payment_methods"].items()
                    if "balance" in m}
        seats = {f"{n} {day}": info["seats"] for n, f in state["flights"].items()
                 for day, info in f["dates"].items()}
        return {"reservations": reservations, "balances": balances, "seats": seats}

    @staticmethod
    def _choice_problem(initial: dict, c: dict, segment: dict) -> str | None:
        """Why the agent's new first flight breaks the user's constraints, if it does."""
        number, flights = segment.get("flight_number"), initial["flights"]
        fits = {n: g["dates"][c["date"]] for n, g in flights.items()
                if (g["origin"], g["destination"]) == (c["origin"], c["destination"])
                and c["date"] in g["dates"] and g["dates"][c["date"]]["status"] == "available"
                and (c["depart_after"] or "") <= g["departure"] < g["arrival"] < c["arrive_before"]}
        if segment.get("date") != c["date"] or number not in fits:
            window = f"landing before {c['arrive_before']}" + (
                f", leaving at or after {c['depart_after']}" if c["depart_after"] else "")
            return (f"the first flight should be an available direct {c['origin']}-"
                    f"{c['destination']} flight on {c['date']} {window}; found {number} on "
                    f"{segment.get('date')}")
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
        return self.outcome(task, state), ""

    def outcome_problem(self, task: Task, actual: Any) -> str | None:
        """Any flight that keeps the user's constraints passes: for another flight than the
        reference's, the expected outcome is the reference's writes replayed with it."""
        c = task.check
        r = actual["reservations"].get(c["reservation"])
        if r is None or r.get("status") != "active" or not r.get("flights"):
            return f"reservation {c['reservation']} is missing or not active"
        problem = self._choice_problem(task.initial_state, c, r["flights"][0])
        if problem:
            return problem
        number = r["flights"][0]["flight_number"]
        cabin, want = self._expected_cabin(task, number), c["expected"]
        if (number, cabin) != (c["ref_flight"], c["ref_cabin"]):
            want, why = self._replayed(task, number, cabin)
            if want is None:
                return why
        return first_difference(want, actual)

    def finalize_check(self, check: dict, state: Any, answer: str) -> dict:
        """The reference's flight and cabin; other valid flights are replayed."""
        r = state["reservations"][check["reservation"]]
        return {**check, "ref_flight": r["flights"][0]["flight_number"], "ref_cabin": r["cabin"]}

    def corruptions(self, task: Task, state: Any, answer: str,
                    rng: random.Random) -> list[Corruption]:
        c, d = task.check, task.difficulty

        def booking(change: Any, rid: str = c["reservation"]) -> Any:
            return lambda new: change(new["reservations"][rid])

        def overpay(r: dict) -> None:
            r["payments"].append({"payment_id": r["payments"][-1]["payment_id"], "amount": 25})

        def flip(r: dict) -> None:
            r["status"] = "active" if r["status"] == "cancelled" else "cancelled"

        late = booking(lambda r: r["flights"][0].update(flight_number=c["late_flight"]))
        cabin = booking(lambda r: r.update(
            cabin="business" if r["cabin"] != "business" else "economy"))
        out = [Corruption.edit("wrong_flight", state, answer, late),
               Corruption.edit("wrong_cabin", state, answer, cabin),
               Corruption.edit("wrong_amount", state, answer, booking(overpay))]
        if d >= 2:
            out.append(Corruption.edit("missing_bags", state, answer, booking(
                lambda r: r.update(total_baggages=r["total_baggages"] - 1))))
        if d >= 4:
            out.append(Corruption.edit("wrong_cancel", state, answer, booking(flip, c["other"])))
        return out
