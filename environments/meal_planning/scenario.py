"""Scenario generation, prompts and the reference solution of the meal planning family."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

from environments.meal_planning.common import (
    _ALLERGENS,
    _CATALOG,
    _DATA,
    _DAYS,
    _DIETS,
    _INF,
    _MAIN,
    _MEALS,
    _PEOPLE,
    _RANK,
    _expiring,
    _recipe,
    _totals,
    facts,
    unsafe,
)
from synth.env import Draft, Toolbox, money


class MealPlanningScenario:
    """Scenario generation, prompts and the reference solution of `MealPlanningFamily` (a mixin)."""

    # -- generation ----------------------------------------------------------------------
    def build(self, rng: random.Random, difficulty: int) -> Draft:
        state, rules, planted, spare, safe = self._base(rng)
        lv, days = difficulty, _DAYS[:1 if difficulty == 1 else 2 if difficulty <= 3 else 3]
        active = {"protein_min": 2, "no_repeat": 2, "dessert_cap": 3, "budget": 3,
                  "cuisine_max": 4, "carbs_max": 4, "use_items": 5}
        for key, level in active.items():
            rules[key] = rules[key] if lv >= level else None
        rules["days"], rules["guest"] = days, None
        if rules["budget"]:  # the planted plan's cost over the planned days, plus a margin
            cost = sum(state["recipes"][rid]["cost"] for d in days for rid in planted[d].values())
            rules["budget"] = -(-round(cost * rules["budget"]) // 100) * 100
        for rid in spare[: lv - 1]:  # decoys: safe-looking dishes with a banned topping
            base = state["recipes"][rng.choice(safe)]
            ingredient, label = _DATA["toppings"][rng.choice(rules["banned"])]
            state["recipes"][rid] = {**_recipe(
                f"{base['name']} with {label}", base["meal_type"], base["cuisine"],
                base["prep_minutes"] + 5, [*base["ingredients"], ingredient]),
                "cost": base["cost"] + 60}
        rules["guest"] = self._pick_guest(state, rng, rules) if lv >= 4 else None
        return self._draft(state, rules, lv)

    def _base(self, rng: random.Random) -> tuple[dict, dict, dict, list[str], list[str]]:
        """Recipe book, household (redrawn until enough recipes are safe), a planted valid plan
        over three days, and rule numbers derived from it with margins."""
        book = [r for m, k in zip(_MEALS, (8, 9, 10, 6), strict=True)
                for r in rng.sample([c for c in _CATALOG if c["meal_type"] == m], k)]
        ids = [f"R{i}" for i in rng.sample(range(100, 1000), len(book) + 4)]
        recipes = {i: {**r, "cost": round(r["cost"] * rng.uniform(0.9, 1.1))}
                   for i, r in zip(ids, book, strict=False)}
        surname = rng.choice(_PEOPLE["last_names"])
        profile = [(rid, r["meal_type"], _RANK[facts(r)["diet"]], facts(r)["allergens"])
                   for rid, r in recipes.items()]
        while True:  # one or two allergies in the household, at most one special diet
            who = [{"name": f"{n} {surname}", "age": rng.randint(6, 70), "diet": "omnivore",
                    "allergies": []}
                   for n in rng.sample(_PEOPLE["first_names"], rng.randint(2, 4))]
            for allergen in rng.sample(_ALLERGENS, rng.choice((1, 1, 2))):
                rng.choice(who)["allergies"].append(allergen)
            rng.choice(who)["diet"] = rng.choices(_DIETS, (12, 3, 6, 1))[0]
            banned = sorted(a for m in who for a in m["allergies"])
            diet = max((m["diet"] for m in who), key=_RANK.__getitem__)
            safe: dict[str, list[str]] = {m: [] for m in _MEALS}
            for rid, meal, rank, allergens in profile:
                if rank >= _RANK[diet] and not any(a in banned for a in allergens):
                    safe[meal].append(rid)
            if all(len(safe[m]) >= 4 for m in _MAIN) and len(safe["dessert"]) >= 2:
                break
        picks = {m: rng.sample(safe[m], 3) for m in _MAIN}
        dessert_day = rng.randrange(2)
        planted = {d: {m: picks[m][i] for m in _MAIN} for i, d in enumerate(_DAYS[:3])}
        planted[_DAYS[dessert_day]]["dessert"] = rng.choice(safe["dessert"])
        totals = [_totals(recipes, planted[d]) for d in _DAYS[:3]]
        without = [_totals(recipes, {m: planted[d][m] for m in _MAIN}) for d in _DAYS[:3]]
        cals = [t["calories"] for t in totals + without]
        used = [recipes[rid] for s in planted.values() for rid in s.values()]
        items = sorted({i for r in used for i in r["ingredients"]})
        expiring = rng.sample(items, 2)
        others = rng.sample([i for i in _DATA["ingredients"] if i not in items], 6)
        pantry = [{"item": i, "quantity": f"{rng.randint(1, 4)} portions", "expires_in_days": d}
                  for i, d in zip(expiring + others, [rng.randint(1, 2), rng.randint(1, 2), 3,
                                                      *(rng.randint(4, 21) for _ in range(5))],
                                  strict=True)]  # the 3-day item is a near miss
        rng.shuffle(pantry)
        lo = (min(cals) - rng.randint(50, 250)) // 50 * 50
        hi = -(-(max(cals) + rng.randint(50, 250)) // 50) * 50
        sweet = totals[dessert_day]["calories"] + rng.randint(60, 200)
        rules = {"banned": banned, "diet": diet, "calories": [lo, hi],
                 "protein_min": int(min(t["protein"] for t in without) - rng.randint(0, 15))
                 // 5 * 5, "no_repeat": True,
                 "dessert_cap": min(-(-sweet // 10) * 10, hi - 50),
                 "budget": rng.uniform(1.1, 1.3),
                 "cuisine_max": max(3, *Counter(r["cuisine"] for r in used).values()),
                 "carbs_max": -(-int(max(t["carbs"] for t in totals) + rng.randint(10, 60))
                                // 10) * 10, "use_items": sorted(expiring)}
        state = {"household": f"the {surname} household", "recipes": recipes, "plan": {},
                 "members": {f"M{i + 1}": {**m, "allergies": sorted(m["allergies"])}
                             for i, m in enumerate(who)}, "pantry": pantry}
        return state, rules, planted, ids[len(book):], [r for m in _MEALS for r in safe[m]]

    def _pick_guest(self, state: dict, rng: random.Random, rules: dict) -> dict:
        """A guest allergic to something the reference plan serves that day, whose day can be
        fixed on its own (so the follow-up needs a change, and a small one exists)."""
        found = self.search_recipes(state, diet=rules["diet"], exclude_allergens=rules["banned"])
        expiring = _expiring(state["pantry"]) if rules["use_items"] else []
        plan = _search_plan(found, rules, expiring)

        def clashes(day: str, allergen: str) -> int:
            return sum(unsafe(state["recipes"][rid], [allergen]) for rid in plan[day].values())

        options = [(d, a) for d in rules["days"] for a in _ALLERGENS
                   if a not in rules["banned"] and clashes(d, a)]
        rng.shuffle(options)
        options.sort(key=lambda o: clashes(*o))  # fewest dishes to replace first
        who = {"name": rng.choice(_PEOPLE["first_names"]),
               "relation": rng.choice(_DATA["relations"])}
        for day, allergen in options:
            guest = {"day": day, "allergen": allergen, **who}
            try:  # a tight budget: the solution's search then succeeds the same way, faster
                _search_plan(found, {**rules, "guest": guest}, expiring, plan, limit=1500)
            except RuntimeError:
                continue
            return guest
        raise RuntimeError("no guest allergy leaves a valid plan")

    def _draft(self, state: dict, rules: dict, lv: int) -> Draft:
        days, (lo, hi) = rules["days"], rules["calories"]
        when = days[0] if len(days) == 1 else ", ".join(days[:-1]) + f" and {days[-1]}"
        asks = [f"Please plan breakfast, lunch and dinner for {when}. Every dish must be safe "
                "for everyone's allergies and suit everyone's diet. Keep each day between "
                f"{lo:,} and {hi:,} kcal per person."]
        if rules["protein_min"]:
            asks.append(f"Each day needs at least {rules['protein_min']} g of protein per "
                        "person, and don't use any recipe twice.")
        if rules["dessert_cap"]:
            asks.append("Add a dessert on at least one day, but any day with a dessert must "
                        f"stay at or under {rules['dessert_cap']:,} kcal. The whole plan may "
                        f"cost at most {money(rules['budget'])} per person.")
        if rules["cuisine_max"]:
            asks.append(f"No more than {rules['cuisine_max']} dishes from the same cuisine, and "
                        f"at most {rules['carbs_max']} g of carbs per person on any day.")
        if rules["use_items"]:
            asks.append("Use up everything in the pantry that expires within 2 days: each such "
                        "item must be an ingredient of at least one planned dish.")
        memo: dict[str, Any] = {}  # what the assistant saw in turn 1, for the follow-up
        turns, solutions = [" ".join(asks)], [lambda box: self._solve_plan(box, rules, memo)]
        if rules["guest"]:
            g = rules["guest"]
            turns.append(f"My {g['relation']} {g['name']} is visiting on {g['day']} and eats "
                         f"every meal with us that day; {g['name']} is allergic to "
                         f"{g['allergen']}. Please fix the plan so that day is safe for "
                         f"{g['name']} too, keeping all the other requirements.")
            solutions.append(lambda box: self._solve_guest(box, rules, memo))
        system = (f"You are the meal-planning assistant of {state['household']}. Use the tools "
                  "to read the household profile, the recipe book and the pantry, and to write "
                  "the meal plan. Each planned dish is one serving per person; nutrition and "
                  "cost figures are per serving.")
        return Draft(state=state, system_prompt=system, user_turns=turns, solutions=solutions,
                     check={"rules": rules},
                     metadata={"constraints": [3, 5, 8, 11, 12][lv - 1],
                               "distractors": lv - 1 + (lv >= 5)})

    def _solve_plan(self, box: Toolbox, rules: dict, memo: dict) -> str:
        first = [("list_household", {})] + ([("get_pantry", {})] if rules["use_items"] else [])
        household, *pantry = box.parallel(*first)
        members = household["members"]
        banned = sorted({a for m in members for a in m["allergies"]})
        diet = max((m["diet"] for m in members), key=_RANK.__getitem__)
        found = box("search_recipes", diet=diet, exclude_allergens=banned)
        asked = {**rules, "banned": banned, "diet": diet, "guest": None}
        expiring = _expiring(pantry[0]) if pantry else []
        plan = _search_plan(found, asked, expiring)
        box("add_to_plan", meals={d: dict(slots) for d, slots in plan.items()})
        memo.update(found=found, asked=asked, plan=plan, expiring=expiring)
        names = {r["recipe_id"]: r["name"] for r in found}
        return "Planned: " + "; ".join(f"{d}: " + ", ".join(
            f"{m} {names[rid]}" for m, rid in plan[d].items()) for d in rules["days"]) + "."

    def _solve_guest(self, box: Toolbox, rules: dict, memo: dict) -> str:
        guest, old = rules["guest"], memo["plan"][rules["guest"]["day"]]
        new = _search_plan(memo["found"], {**memo["asked"], "guest": guest}, memo["expiring"],
                           memo["plan"])[guest["day"]]
        changed = [m for m in _MEALS if old.get(m) != new.get(m)]
        if len(changed) > 1:
            box("remove_from_plan", day=guest["day"])
            changed = list(new)
        elif changed and changed[0] in old:
            box("remove_from_plan", day=guest["day"], meal=changed[0])
        adds = {m: new[m] for m in changed if m in new}
        if adds:
            box("add_to_plan", meals={guest["day"]: adds})
        names = {r["recipe_id"]: r["name"] for r in memo["found"]}
        return (f"{guest['day']} is now free of {guest['allergen']}: "
                + "; ".join(f"{m}: {names[rid]}" for m, rid in new.items()) + ".")


def _search_plan(found: list[dict], rules: dict, expiring: list[str],
                 keep: dict | None = None, limit: int = 5000) -> dict:
    """Depth-first search over (day, meal) slots, cheapest dish first, pruned by what the rest
    of the day can still add. With `keep` (an earlier plan), only the guest's day may change,
    and it keeps as many of its dishes as it can."""
    cap, guest, days = rules["dessert_cap"], rules["guest"], rules["days"]
    (lo, hi), pmin, cmax = rules["calories"], rules["protein_min"] or 0, rules["carbs_max"] or _INF
    budget = rules["budget"] / 100 + 1e-9 if rules["budget"] else _INF
    most, no_repeat = rules["cuisine_max"] or _INF, rules["no_repeat"]
    meals, everything = _MEALS if cap else _MAIN, (1 << len(expiring)) - 1
    # a dish: (id, kcal, protein, carbs, cost, cuisine, allergens, expiring items used as bits)
    pool = {m: sorted(((r["recipe_id"], r["calories"], r["protein"], r["carbs"], r["cost"],
                        r["cuisine"], r["allergens"],
                        sum(1 << n for n, x in enumerate(expiring) if x in r["ingredients"]))
                       for r in found if r["meal_type"] == m), key=lambda t: (t[4], t[0]))
            for m in meals}
    columns = {m: list(zip(*pool[m], strict=True)) for m in meals}

    def bound(j: int, pick: Any, field: int) -> float:  # over the day's meals after j
        return sum(0 if m == "dessert" and pick is min else pick(columns[m][field])
                   for m in meals[j + 1:])

    rest = [(bound(j, min, 1), bound(j, max, 1), bound(j, max, 2) + 1e-9, bound(j, min, 3),
             bound(j, min, 4)) for j in range(len(meals))]
    day_cost = bound(-1, min, 4)
    slots = []  # per slot: its options in order before any dessert and after one, and bounds
    for i, day in enumerate(days):
        for j, meal in enumerate(meals):
            options: list[Any] = [t for t in pool[meal] if not (
                guest and day == guest["day"] and guest["allergen"] in t[6])]
            first = options if meal != "dessert" or i == len(days) - 1 else [*options, None]
            after = [None, *options] if meal == "dessert" else options
            if keep:
                want = keep[day].get(meal)
                if day != guest["day"]:
                    first = after = [t for t in options if t[0] == want] or [None]
                first, after = (sorted(o, key=lambda t, w=want: (t and t[0]) != w)
                                for o in (first, after))
            slots.append(((first, after), {}, day, meal, j == len(meals) - 1,
                          (*rest[j][:4], rest[j][4] + (len(days) - i - 1) * day_cost)))
    plan: dict[str, dict] = {d: {} for d in days}
    used: list[str] = []
    cuisines: dict[str, int] = {}
    tried = [0]

    def walk(k: int, spent: float, cal: float, prot: float, carb: float, sweet: bool,
             covered: int) -> bool:
        if k == len(slots):
            return covered == everything and (sweet or not cap)
        orders, ordered, day, meal, last, (low_cal, high_cal, high_prot, low_carb,
                                           low_cost) = slots[k]
        missing = everything & ~covered
        options = ordered.get((sweet, missing))
        if options is None:  # dishes that use a still-unused expiring item go first
            base = orders[sweet]
            options = ordered[sweet, missing] = [t for t in base if t and t[7] & missing] + [
                t for t in base if not (t and t[7] & missing)] if missing else base
        for t in options:
            tried[0] += 1
            if tried[0] > limit:
                raise RuntimeError("plan search exhausted")
            c, p, b, s = cal, prot, carb, spent
            if t is not None:
                if (no_repeat and t[0] in used) or cuisines.get(t[5], 0) >= most:
                    continue
                c, p, b, s = cal + t[1], prot + t[2], carb + t[3], spent + t[4]
                if meal == "dessert" and c > cap:
                    continue
            if (c + low_cal > hi or c + high_cal < lo or p + high_prot < pmin
                    or b + low_carb > cmax + 1e-9 or s + low_cost > budget):
                continue
            if t is not None:
                plan[day][meal] = t[0]
                used.append(t[0])
                cuisines[t[5]] = cuisines.get(t[5], 0) + 1
            now, sweet_now = covered | (t[7] if t else 0), sweet or (meal == "dessert" and t)
            if walk(k + 1, s, *((0, 0, 0) if last else (c, p, b)), bool(sweet_now), now):
                return True
            if t is not None:
                del plan[day][meal]
                used.pop()
                cuisines[t[5]] -= 1
        return False

    if not walk(0, 0.0, 0.0, 0.0, 0.0, False, 0):
        raise RuntimeError("no plan satisfies the rules")
    return plan
