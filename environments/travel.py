"""Travel itineraries: trips through a country's cities under hotel, ticket, transport and
conditional budget rules, submitted as JSON with `submit_result`.

Verification kind: constraints. The verifier checks the submitted itinerary against the stated
rules (cities and nights in order, hotel stars/rating/price, attractions per day and no repeats,
tier-dependent ticket limits, legs that exist between consecutive cities, the budget that
depends on the hotel tier, the stated total equal to the real sum), never against the reference
itinerary: every itinerary that keeps the rules passes.
Levels: 1 a hotel in one city; 2 daily attractions, a ticket limit and a budget; 3 a trip from
a home city through two cities with a budget conditional on 5-star hotels and a near-miss
hotel; 4 a third city, tier-dependent ticket limits, an attraction rating floor and more decoys;
5 a return leg, a required attraction category and transport rules.
"""

from __future__ import annotations

import itertools
import math
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
    register,
    tool,
)
from synth.env import copy_state as _copy


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


def _plan(r: dict, hotels: dict, sights: dict, legs: dict, five: bool | None = None) -> dict | None:
    """The cheapest itinerary keeping the rules, from looked-up options (None if none fits).
    `five` forces no 5-star hotel (False) or at least one (True); None applies the budget."""
    t, per_day, by_city = r["travelers"], r["per_day"], []
    for city, nights in r["stays"]:
        best: dict[bool, tuple[int, dict, list]] = {}
        for five_star in (False, True):
            tier = {"stars": 5 if five_star else 4}
            ok = sorted((a for a in sights.get(city, []) if not _sight_problem(r, tier, a)),
                        key=lambda a: (a["ticket_price"], a["attraction_id"]))
            if r["category"] and r["category"][0] == city and per_day:
                ok = [a for a in ok if a["category"] == r["category"][1]][:1] + ok
                ok = list({a["attraction_id"]: a for a in ok}.values())
            picks = ok[: nights * per_day]
            tickets = t * sum(a["ticket_price"] for a in picks)
            for h in hotels[city]:
                cost = h["price_per_night"] * nights + tickets
                if ((h["stars"] == 5) == five_star and not _hotel_problem(r, h)
                        and len(picks) == nights * per_day
                        and (five_star not in best or cost < best[five_star][0])):
                    best[five_star] = (cost, h, picks)
        by_city.append(sorted(best.items()))
    chosen = []
    for a, b in _leg_pairs(r):
        ok = [o for o in legs[f"{a}>{b}"] if not _leg_problem(r, o)]
        if not ok:
            return None
        chosen.append(min(ok, key=lambda o: (o["price"], o["transport_id"])))
    fits = []
    for combo in itertools.product(*by_city):
        any5 = any(k for k, _ in combo)
        cost = t * sum(o["price"] for o in chosen) + sum(v[0] for _, v in combo)
        cap = r["budget"]["5" if any5 else "other"] if r["budget"] and five is None else cost
        if cost <= cap and five in (None, any5):
            fits.append((cost, combo))
    if not fits:
        return None
    cost, combo = min(fits, key=lambda f: f[0])
    days = [{"city_id": city, "hotel_id": h["hotel_id"],
             "attraction_ids": [a["attraction_id"] for a in picks[i * per_day:(i + 1) * per_day]]}
            for (city, nights), (_, (_, h, picks)) in zip(r["stays"], combo, strict=True)
            for i in range(nights)]
    return {"days": days, "transport_ids": [o["transport_id"] for o in chosen], "total_cost": cost}


@register
class TravelFamily(EnvFamily):
    name = "travel"
    description = "Travel itineraries under hotel, ticket, transport and conditional budget rules."
    verification = "constraints"

    # -- tools ---------------------------------------------------------------------------
    @tool("List the cities in the catalog, optionally only those of one country.",
          {"country": {"type": "string", "enum": _COUNTRIES}}, required=[])
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
           "max_price": {"type": "number", "minimum": 0}}, required=["city_id"])
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
           "min_rating": {"type": "number", "minimum": 0, "maximum": 5}}, required=["city_id"])
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
          {"from_city_id": _ID, "to_city_id": _ID, "mode": {"type": "string", "enum": [*_SPEED]}},
          required=["from_city_id", "to_city_id"])
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

    # -- generation ----------------------------------------------------------------------
    def build(self, rng: random.Random, difficulty: int) -> Draft:
        state, country = self._world(rng)
        origin, *stays = rng.sample(list(state["cities"]), 4)
        nights = [rng.choice([2, 3]), rng.choice([1, 2]), rng.choice([1, 2])]
        base = {"travelers": rng.choice([1, 2]), "min_stars": rng.choice([3, 4]),
                "min_rating": rng.choice([4.0, 4.1, 4.2, 4.3, 4.4])}
        ticket = rng.choice([25, 30, 35, 40])
        ticket5, min_sight = ticket - rng.choice([10, 15]), rng.choice([4.0, 4.2, 4.3, 4.5])
        category = rng.choice(sorted({a["category"] for a in state["attractions"].values()
                                      if a["city_id"] == stays[2]}))
        luxury, slack = rng.choice(["both", "no_luxury", "luxury_only"]), rng.uniform(0.03, 0.1)
        for city, n in zip(stays, nights, strict=True):
            self._ensure_options(state, rng, city, n, base, ticket5, min_sight,
                                 category if city == stays[2] else None)
        fastest = []
        for a, b in itertools.pairwise([origin, *stays, origin]):
            if not any(t["mode"] != "bus" for t in self._legs(state, a, b)):
                self._add_leg(state, rng, a, b, "flight")
            fastest.append(min(t["duration_minutes"] for t in self._legs(state, a, b)
                               if t["mode"] != "bus"))
        max_minutes = 60 * (math.ceil(max(fastest) / 60) + rng.choice([0, 1]))
        base["max_nightly"] = _ceil10(max(min(
            h["price_per_night"] for h in state["hotels"].values()
            if h["city_id"] == c and h["stars"] == 5 and h["rating"] >= base["min_rating"])
            for c in stays)) + rng.choice([0, 10, 20, 30])
        self._decoys(state, rng, difficulty, stays, base, ticket, max_minutes)
        names = {cid: c["name"] for cid, c in state["cities"].items()}
        level = difficulty
        rules = {**base, "origin": names[origin] if level >= 3 else None, "return": level >= 5,
                 "stays": [[names[c], n] for c, n in zip(stays, nights, strict=True)]
                 [: max(1, level - 1)],
                 "per_day": int(level >= 2), "budget": None,
                 "ticket_limit": {"5": ticket5 if level >= 4 else ticket, "other": ticket}
                 if level >= 2 else None,
                 "min_attraction_rating": min_sight if level >= 4 else None,
                 "category": [names[stays[2]], category] if level >= 5 else None,
                 "banned_modes": ["bus"] if level >= 5 else [],
                 "max_leg_minutes": max_minutes if level >= 5 else None}
        if level >= 2:
            rules["budget"] = self._budgets(state, rules, luxury, slack, level)
        return Draft(
            state=state, system_prompt=_SYSTEM, user_turns=[self._ask(rules, country)],
            solutions=[lambda box: self._solve(box, rules, country)], check={"rules": rules},
            metadata={"constraints": [0, 4, 8, 10, 13, 17][level],
                      "distractors": [0, 0, 0, 1, 3, 5][level]})

    def _world(self, rng: random.Random) -> tuple[dict, str]:
        """A country's cities with hotels, attractions and direct transport between them."""
        country = rng.choice(_COUNTRIES)
        cities = [c for c in _DATA["cities"] if c["country"] == country]
        chosen = rng.sample(cities, 6)  # the agency's catalog for this country
        cities = [c for c in cities if c in chosen]
        state: dict[str, Any] = {"cities": {}, "hotels": {}, "attractions": {}, "transport": {},
                                 "submission": None}
        for c in cities:
            state["cities"][c["id"]] = {"name": c["name"], "country": country}
            offset = rng.randrange(6)  # rotates the name pools, so hotel names vary by task
            tiers = [2, 3, 3, 4, 4, 5, 5, rng.choice([3, 4, 5])]
            for n, stars in enumerate(tiers, 1):
                names = _DATA["hotel_tiers"][str(stars)]["names"]
                self._add_hotel(state, rng, f"H{c['id']}{n:02d}", c["id"], stars,
                                names[(offset + tiers[:n].count(stars)) % len(names)])
            for i, a in enumerate(c["attractions"], 1):
                low, high = _DATA["ticket_ranges"][a["category"]]
                state["attractions"][f"A{c['id']}{i:02d}"] = {
                    "name": a["name"], "city_id": c["id"], "category": a["category"],
                    "rating": round(rng.uniform(3.8, 4.9), 1),
                    "ticket_price": round(rng.uniform(low, high) * c["cost_index"])}
        for a, b in itertools.permutations(list(state["cities"]), 2):
            d, u = _DIST[a, b], rng.random()
            for mode, ok, p in (("bus", d < 650, 0.2), ("train", d < 900, 0.5),
                                ("high-speed train", d < 1400, 0.7), ("flight", d > 350, 0.6)):
                if ok and u < p:  # correlated, so that some pairs have no direct connection
                    self._add_leg(state, rng, a, b, mode)
        return state, country

    @staticmethod
    def _add_hotel(state: dict, rng: random.Random, hid: str, city: str, stars: int,
                   name: str, **fixed: Any) -> None:
        tier = _DATA["hotel_tiers"][str(stars)]
        state["hotels"][hid] = {
            "name": name.format(city=_CITY[city]["name"]), "city_id": city, "stars": stars,
            "rating": round(rng.uniform(*tier["rating"]), 1),
            "price_per_night": round(rng.uniform(*tier["price"]) * _CITY[city]["cost_index"]),
            **fixed}

    @staticmethod
    def _add_leg(state: dict, rng: random.Random, a: str, b: str, mode: str,
                 **fixed: Any) -> None:
        speed, base, per_km, extra = _SPEED[mode]
        d = _DIST[a, b]
        n, codes = len(state["transport"]) + 1, _DATA["transport_codes"][mode]
        state["transport"][f"T{n:04d}"] = {
            "from_city_id": a, "to_city_id": b, "mode": mode,
            "code": f"{codes[n % len(codes)]}{100 + 37 * n % 900}",
            "depart": f"{6 + n * 7 % 15:02d}:{n * 15 % 60:02d}",
            "duration_minutes": 5 * round((d / speed * 60 + extra) * rng.uniform(0.95, 1.1) / 5),
            "price": round((base + per_km * d) * rng.uniform(0.85, 1.2)), **fixed}

    @staticmethod
    def _legs(state: dict, a: str, b: str) -> list[dict]:
        return [t for t in state["transport"].values()
                if t["from_city_id"] == a and t["to_city_id"] == b]

    @staticmethod
    def _ensure_options(state: dict, rng: random.Random, city: str, nights: int, base: dict,
                        ticket5: int, min_sight: float, category: str | None) -> None:
        """Make every level's rules satisfiable in a stay city: qualifying hotels with and
        without 5 stars, and enough cheap, well-rated attractions (of the category too)."""
        for five in (False, True):
            group = [h for h in state["hotels"].values() if h["city_id"] == city
                     and h["stars"] >= base["min_stars"] and (h["stars"] == 5) == five]
            if not any(h["rating"] >= base["min_rating"] for h in group):
                group[0]["rating"] = round(base["min_rating"] + rng.choice([0.1, 0.2, 0.3]), 1)
        sights = sorted((a for a in state["attractions"].values() if a["city_id"] == city),
                        key=lambda a: a["ticket_price"])
        for a in [a for a in sights if a["category"] == category][:1] + sights[:nights]:
            a["ticket_price"] = min(a["ticket_price"], rng.randint(0, ticket5))
            a["rating"] = max(a["rating"], round(min_sight + rng.choice([0, 0.1, 0.2, 0.3]), 1))

    def _decoys(self, state: dict, rng: random.Random, level: int, stays: list[str],
                base: dict, ticket: int, max_minutes: int) -> None:
        """Near-miss options, each breaking exactly one rule active at that level."""

        def hotel(city: str, stars: int, **fixed: Any) -> None:
            used = [h["name"] for h in state["hotels"].values() if h["city_id"] == city]
            name = next(n for n in _DATA["hotel_tiers"][str(stars)]["names"]
                        if n.format(city=_CITY[city]["name"]) not in used)
            self._add_hotel(state, rng, f"H{city}9{stars}", city, stars, name, **fixed)

        def sight(aid: str, city: str, name: str, category: str, rating: float,
                  price: int) -> None:
            state["attractions"][aid] = {"name": f"{_CITY[city]['name']} {name}",
                                         "city_id": city, "category": category,
                                         "rating": rating, "ticket_price": price}

        if level >= 3:  # a cheap hotel rated just under the floor
            hotel(stays[0], 4, price_per_night=rng.randint(60, 100),
                  rating=round(base["min_rating"] - 0.1, 1))
        if level >= 4:  # a top attraction just over the ticket limit; a 5-star over the cap
            sight(f"A{stays[1]}90", stays[1], "Panorama Deck", "landmark", 4.9,
                  ticket + rng.randint(2, 8))
            hotel(stays[2], 5, rating=4.9, price_per_night=base["max_nightly"] + rng.randint(5, 25))
        if level >= 5:  # a bargain bus; a free attraction rated just under the floor
            self._add_leg(state, rng, stays[0], stays[1], "bus", price=rng.randint(3, 9),
                          duration_minutes=max_minutes - 30)
            sight(f"A{stays[2]}91", stays[2], "Riverside Walk", "park", 3.9, 0)

    def _budgets(self, state: dict, rules: dict, luxury: str, slack: float,
                 level: int) -> dict:
        """Budgets a few percent above the cheapest plans with and without a 5-star hotel;
        from level 3 one tier class may be priced out (the conditional then decides)."""
        r = _resolve(rules, {c["name"]: cid for cid, c in state["cities"].items()})
        hotels = {c: self.search_hotels(state, c) for c, _ in r["stays"]}
        sights = {c: self.search_attractions(state, c) for c, _ in r["stays"]}
        legs = {f"{a}>{b}": self.get_inter_city_transport(state, a, b) for a, b in _leg_pairs(r)}
        c0, c5 = (_plan(r, hotels, sights, legs, five=f)["total_cost"] for f in (False, True))
        up0, up5 = _ceil10(c0 * (1 + slack)), _ceil10(c5 * (1 + slack))
        if level == 2:
            return {"5": min(up0, up5), "other": min(up0, up5)}
        if luxury == "no_luxury":
            return {"5": _floor10(c5 * (1 - slack)), "other": up0}
        return {"5": up5, "other": _floor10(c0 * (1 - slack)) if luxury == "luxury_only" else up0}

    # -- prompt and the reference solution -----------------------------------------------
    @staticmethod
    def _ask(r: dict, country: str) -> str:
        stays = ", then ".join(f"{c} ({n} night{'s' * (n > 1)})" for c, n in r["stays"])
        back = f", then back to {r['origin']}" if r["return"] else ""
        route = f"from {r['origin']} to {stays}{back}" if r["origin"] else f"to {stays}"
        party = "me" if r["travelers"] == 1 else "the two of us"
        lines = [f"Plan a trip in {country} for {party}: {route}.",
                 f"- Hotels: at least {r['min_stars']} stars, rated {r['min_rating']} or higher, "
                 f"at most ${r['max_nightly']} per night."]
        if r["per_day"]:
            lines.append("- Visit at least one attraction every day, never the same one twice.")
        if r["ticket_limit"]:
            t5, t = r["ticket_limit"]["5"], r["ticket_limit"]["other"]
            lines.append(f"- Tickets: at most ${t} per person." if t5 == t else
                         f"- Tickets: in a city where the hotel is 5-star, at most ${t5} per "
                         f"person; elsewhere at most ${t}.")
        if r["min_attraction_rating"]:
            lines.append(f"- Attractions must be rated at least {r['min_attraction_rating']}.")
        if r["category"]:
            lines.append(f"- In {r['category'][0]}, include at least one attraction of "
                         f"category {r['category'][1]}.")
        if r["banned_modes"]:
            lines.append(f"- Transport: no buses, and no leg longer than "
                         f"{r['max_leg_minutes'] // 60} hours.")
        if r["budget"]:
            b5, b = r["budget"]["5"], r["budget"]["other"]
            lines.append(f"- Budget: at most ${b:,} in total." if b5 == b else
                         f"- Budget: if any hotel is 5-star, the total must be at most ${b5:,}; "
                         f"otherwise at most ${b:,}.")
        sights = "that day's attractions" if r["per_day"] else "no attractions needed"
        legs = "the transport legs in travel order" if r["origin"] else "no transport"
        lines.append(f"Submit one day per night (city, hotel, {sights}), {legs} and the total "
                     "cost.")
        return "\n".join(lines)

    def _solve(self, box: Toolbox, rules: dict, country: str) -> str:
        ids = {c["name"]: c["city_id"] for c in box("get_all_cities", country=country)}
        r = _resolve(rules, ids)
        cities, pairs = [c for c, _ in r["stays"]], _leg_pairs(r)
        calls = [("search_hotels", {"city_id": c, "min_stars": r["min_stars"],
                                    "min_rating": r["min_rating"], "max_price": r["max_nightly"]})
                 for c in cities]
        calls += [("search_attractions", {"city_id": c}) for c in cities if r["per_day"]]
        found = box.parallel(*calls)
        options = box.parallel(*[("get_inter_city_transport", {"from_city_id": a, "to_city_id": b})
                                 for a, b in pairs]) if pairs else []
        plan = _plan(r, dict(zip(cities, found, strict=False)),
                     dict(zip(cities, found[len(cities):], strict=False)),
                     {f"{a}>{b}": o for (a, b), o in zip(pairs, options, strict=True)})
        if plan is None:
            raise ValueError("no itinerary fits the rules")
        box("submit_result", **plan)
        return f"Submitted a {len(plan['days'])}-night itinerary costing ${plan['total_cost']:,}."

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
            new = _copy(sub)
            change(new)
            return Corruption(kind, {**state, "submission": new}, answer)

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


_SYSTEM = ("You are a travel-planning assistant. Use the tools to look up cities, hotels, "
           "attractions and transport, then submit the final itinerary with submit_result. All "
           "prices are in US dollars: hotel prices are per room per night (one room for the whole "
           "party), ticket and transport prices are per person. The total cost is the hotel "
           "nights plus tickets and transport for every traveler.")
