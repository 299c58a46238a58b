"""Scenario generation, prompts and the reference solution of the travel family."""

from __future__ import annotations

import itertools
import math
import random
from typing import Any

from environments.travel.common import (
    _CITY,
    _COUNTRIES,
    _DATA,
    _DIST,
    _SPEED,
    _SYSTEM,
    _ceil10,
    _floor10,
    _hotel_problem,
    _leg_pairs,
    _leg_problem,
    _resolve,
    _sight_problem,
)
from synth.env import Draft, Toolbox


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


class TravelScenario:
    """Scenario generation, prompts and the reference solution of `TravelFamily` (a mixin)."""

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
