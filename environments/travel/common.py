"""Shared data, schemas and helpers of the travel family."""

from __future__ import annotations

import itertools
import math

from synth.data import load_json


def _km(a: dict, b: dict) -> float:
    p1, p2 = math.radians(a["lat"]), math.radians(b["lat"])
    h = (math.sin((p2 - p1) / 2) ** 2
         + math.cos(p1) * math.cos(p2) * math.sin(math.radians(b["lon"] - a["lon"]) / 2) ** 2)
    return 12742 * math.asin(math.sqrt(h))


_DATA = load_json("travel.json")
_CITY = {c["id"]: c for c in _DATA["cities"]}
_DIST = {(a, b): _km(_CITY[a], _CITY[b]) for a in _CITY for b in _CITY if a != b}
_COUNTRIES = list(dict.fromkeys(c["country"] for c in _DATA["cities"]))
_SPEED = {"bus": (65, 5, 0.05, 20), "train": (90, 4, 0.07, 10),  # km/h, $ base, $/km, min extra
          "high-speed train": (210, 8, 0.14, 15), "flight": (700, 55, 0.08, 70)}
_ID = {"type": "string", "minLength": 1}
_DAY = {"type": "object", "additionalProperties": False,
        "required": ["city_id", "hotel_id", "attraction_ids"],
        "properties": {"city_id": _ID, "hotel_id": _ID,
                       "attraction_ids": {"type": "array", "items": _ID}}}
_PLAN = {"days": {"type": "array", "minItems": 1, "items": _DAY,
                  "description": "One entry per night, in trip order"},
         "transport_ids": {"type": "array", "items": _ID,
                           "description": "Transport options taken, in travel order"}}


def _ceil10(x: float) -> int:
    return int(math.ceil(x / 10) * 10)


def _floor10(x: float) -> int:
    return int(math.floor(x / 10) * 10)


# -- rules, shared by the planner (over tool results) and the verifier (over the state) ------
def _hotel_problem(r: dict, h: dict) -> str | None:
    if h["stars"] < r["min_stars"]:
        return f"has {h['stars']} stars, below {r['min_stars']}"
    if h["rating"] < r["min_rating"]:
        return f"is rated {h['rating']}, below {r['min_rating']}"
    if h["price_per_night"] > r["max_nightly"]:
        return f"costs ${h['price_per_night']}/night, above ${r['max_nightly']}"
    return None


def _sight_problem(r: dict, hotel: dict, a: dict) -> str | None:
    if r["ticket_limit"] and a["ticket_price"] > (
            limit := r["ticket_limit"]["5" if hotel["stars"] == 5 else "other"]):
        return f"costs ${a['ticket_price']}, over the ${limit} limit for that hotel tier"
    if r["min_attraction_rating"] and a["rating"] < r["min_attraction_rating"]:
        return f"is rated {a['rating']}, below {r['min_attraction_rating']}"
    return None


def _leg_problem(r: dict, leg: dict) -> str | None:
    if leg["mode"] in r["banned_modes"]:
        return f"is a {leg['mode']}, which is not allowed"
    if r["max_leg_minutes"] and leg["duration_minutes"] > r["max_leg_minutes"]:
        return f"takes {leg['duration_minutes']} minutes, over {r['max_leg_minutes']}"
    return None


def _leg_pairs(r: dict) -> list[tuple[str, str]]:
    stops = [c for c, _ in r["stays"]]
    if r["origin"]:
        stops = [r["origin"], *stops] + ([r["origin"]] if r["return"] else [])
    return list(itertools.pairwise(stops))


def _resolve(rules: dict, ids: dict[str, str]) -> dict:
    """The stated rules (city names) with the city ids the tools and the state use."""
    return dict(rules, stays=[(ids[c], n) for c, n in rules["stays"]],
                origin=ids[rules["origin"]] if rules["origin"] else None,
                category=[ids[rules["category"][0]], rules["category"][1]]
                if rules["category"] else None)


_SYSTEM = ("You are a travel-planning assistant. Use the tools to look up cities, hotels, "
           "attractions and transport, then submit the final itinerary with submit_result. All "
           "prices are in US dollars: hotel prices are per room per night (one room for the whole "
           "party), ticket and transport prices are per person. The total cost is the hotel "
           "nights plus tickets and transport for every traveler.")
