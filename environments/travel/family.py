"""The travel family: the registered class and its tools."""

from __future__ import annotations

import math

from environments.travel.common import _COUNTRIES, _DATA, _ID, _PLAN, _SPEED
from environments.travel.scenario import TravelScenario
from environments.travel.verify import TravelVerifier
from synth.env import EnvFamily, ToolError, register, tool


@register
class TravelFamily(TravelScenario, TravelVerifier, EnvFamily):
    name = "travel"
    description = "Travel itineraries under hotel, ticket, transport and conditional budget rules."
    verification = "constraints"

    # -- tools ---------------------------------------------------------------------------
    @tool("List the cities in the catalog, optionally only those of one country.",
          {"country": {"type": "string", "enum": _COUNTRIES}})
    def get_all_cities(self, state: dict, country: str | None = None) -> list[dict]:
        return [{"city_id": cid, "name": c["name"], "country": c["country"]}
                for cid, c in state["cities"].items() if country in (None, c["country"])]

    @tool("Get a city's overview: its country, hotel and attraction counts, attraction "
          "categories and the cities reachable from it by direct transport.", {"city_id": _ID})
    def get_city_info(self, state: dict, city_id: str) -> dict:
        city = self._get(state, "cities", city_id)
        sights = [a for a in state["attractions"].values() if a["city_id"] == city_id]
        reach = sorted({t["to_city_id"] for t in state["transport"].values()
                        if t["from_city_id"] == city_id})
        return {"city_id": city_id, **city, "reachable_city_ids": reach,
                "hotels": sum(h["city_id"] == city_id for h in state["hotels"].values()),
                "attractions": len(sights), "categories": sorted({a["category"] for a in sights})}

    @tool("Search hotels in a city, cheapest first. Prices are per room per night (USD).",
          {"city_id": _ID, "min_stars": {"type": "integer", "minimum": 1, "maximum": 5},
           "min_rating": {"type": "number", "minimum": 0, "maximum": 5},
           "max_price": {"type": "number", "minimum": 0}})
    def search_hotels(self, state: dict, city_id: str, min_stars: int = 1,
                      min_rating: float = 0, max_price: float = math.inf) -> list[dict]:
        self._get(state, "cities", city_id)
        rows = [{"hotel_id": hid, **h} for hid, h in state["hotels"].items()
                if h["city_id"] == city_id and h["stars"] >= min_stars
                and h["rating"] >= min_rating and h["price_per_night"] <= max_price]
        return sorted(rows, key=lambda h: (h["price_per_night"], h["hotel_id"]))

    @tool("Get one hotel's details.", {"hotel_id": _ID})
    def get_hotel(self, state: dict, hotel_id: str) -> dict:
        return {"hotel_id": hotel_id, **self._get(state, "hotels", hotel_id)}

    @tool("Search attractions in a city, cheapest ticket first. Ticket prices are per person.",
          {"city_id": _ID, "category": {"type": "string", "enum": list(_DATA["ticket_ranges"])},
           "max_price": {"type": "number", "minimum": 0},
           "min_rating": {"type": "number", "minimum": 0, "maximum": 5}})
    def search_attractions(self, state: dict, city_id: str, category: str | None = None,
                           max_price: float = math.inf, min_rating: float = 0) -> list[dict]:
        self._get(state, "cities", city_id)
        rows = [{"attraction_id": aid, **a} for aid, a in state["attractions"].items()
                if a["city_id"] == city_id and category in (None, a["category"])
                and a["ticket_price"] <= max_price and a["rating"] >= min_rating]
        return sorted(rows, key=lambda a: (a["ticket_price"], a["attraction_id"]))

    @tool("Get one attraction's details.", {"attraction_id": _ID})
    def get_attraction(self, state: dict, attraction_id: str) -> dict:
        return {"attraction_id": attraction_id, **self._get(state, "attractions", attraction_id)}

    @tool("List direct transport options from one city to another, cheapest first. Prices are "
          "per person; an empty list means there is no direct connection.",
          {"from_city_id": _ID, "to_city_id": _ID, "mode": {"type": "string", "enum": [*_SPEED]}})
    def get_inter_city_transport(self, state: dict, from_city_id: str, to_city_id: str,
                                 mode: str | None = None) -> list[dict]:
        self._get(state, "cities", from_city_id)
        self._get(state, "cities", to_city_id)
        rows = [{"transport_id": tid, **t} for tid, t in state["transport"].items()
                if t["from_city_id"] == from_city_id and t["to_city_id"] == to_city_id
                and mode in (None, t["mode"])]
        return sorted(rows, key=lambda t: (t["price"], t["transport_id"]))

    @tool("Price an itinerary: hotel nights, plus tickets and transport for every traveler.",
          {**_PLAN, "travelers": {"type": "integer", "minimum": 1, "maximum": 10}})
    def estimate_trip_cost(self, state: dict, days: list, transport_ids: list,
                           travelers: int) -> dict:
        hotels = sum(self._get(state, "hotels", d["hotel_id"])["price_per_night"] for d in days)
        tickets = travelers * sum(self._get(state, "attractions", a)["ticket_price"]
                                  for d in days for a in d["attraction_ids"])
        moves = travelers * sum(self._get(state, "transport", t)["price"] for t in transport_ids)
        return {"hotels": hotels, "tickets": tickets, "transport": moves,
                "total": hotels + tickets + moves}

    @tool("Submit the final itinerary: one day per night (city, hotel, attractions visited that "
          "day), the transport legs in travel order and the total cost. Replaces any earlier "
          "submission.", {**_PLAN, "total_cost": {"type": "number", "minimum": 0}}, writes=True)
    def submit_result(self, state: dict, days: list, transport_ids: list,
                      total_cost: float) -> dict:
        for d in days:
            self._get(state, "cities", d["city_id"])
            self._get(state, "hotels", d["hotel_id"])
            for a in d["attraction_ids"]:
                self._get(state, "attractions", a)
        for t in transport_ids:
            self._get(state, "transport", t)
        state["submission"] = {"days": days, "transport_ids": transport_ids,
                               "total_cost": total_cost}
        return {"status": "submitted", "nights": len(days), "legs": len(transport_ids)}

    @staticmethod
    def _get(state: dict, table: str, key: str) -> dict:
        if key not in state[table]:
            raise ToolError(f"no {'city' if table == 'cities' else table[:-1]} with id {key!r}")
        return state[table][key]
