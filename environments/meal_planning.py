"""Household meal planning under allergen, diet, nutrition, budget and variety rules.

Verification kind: constraints. The final plan in the state is checked rule by rule (no
allergen of any member, everyone's diet, daily calories in a range, protein floor, no repeats,
a conditional calorie cap on dessert days, budget, cuisine variety, carbs cap, pantry use), so
many plans pass. Rule numbers derive from a planted valid plan, with margins, so one exists.
Levels add rules, decoy recipes (safe dishes with an allergen topping) and, from level 4, a
follow-up turn: a guest with an allergy to something the first plan serves that day.
"""

from __future__ import annotations

import random
from collections import Counter
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

_DATA = load_json("meal_planning.json")
_PEOPLE = load_json("people.json")
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_MAIN = ["breakfast", "lunch", "dinner"]
_MEALS = [*_MAIN, "dessert"]
_ALLERGENS = ["nuts", "gluten", "dairy", "shellfish", "egg", "soy"]
_DIETS = ["omnivore", "pescatarian", "vegetarian", "vegan"]  # each stricter than the last
_RANK = {d: i for i, d in enumerate(_DIETS)}
_INF = float("inf")
_FACTS: dict[str, dict] = {}


def facts(recipe: dict) -> dict:
    """Per-serving nutrition, allergens and diet, derived from the static ingredient table
    (the state keeps only what varies per task). A name fixes the ingredients, so it is the
    cache key: decoys are named after their topping."""
    known = _FACTS.get(recipe["name"])
    if known is None:
        parts = [_DATA["ingredients"][i] for i in recipe["ingredients"]]
        kinds, n = [p["kind"] for p in parts], 2 if recipe["meal_type"] == "dessert" else 1
        diet = ("omnivore" if "meat" in kinds else "pescatarian" if "fish" in kinds
                or "shellfish" in kinds else "vegetarian" if "dairy" in kinds or "egg" in kinds
                else "vegan")
        known = _FACTS[recipe["name"]] = {
            "calories": round(sum(p["kcal"] for p in parts) / n),
            **{k: round(sum(p[k] for p in parts) / n, 1) for k in ("protein", "carbs", "fat")},
            "allergens": sorted({a for p in parts for a in p["allergens"]}), "diet": diet}
    return known


def _recipe(name: str, meal: str, cuisine: str, prep: int, ingredients: list[str]) -> dict:
    cost = sum(_DATA["ingredients"][i]["cost"] for i in ingredients)
    return {"name": name, "meal_type": meal, "cuisine": cuisine, "prep_minutes": prep,
            "cost": round(cost / (2 if meal == "dessert" else 1)), "ingredients": ingredients}


_CATALOG = [_recipe(r["name"], r["meal"], r["cuisine"], r["prep_minutes"], r["ingredients"])
            for r in _DATA["recipes"]]


def unsafe(recipe: dict, allergens: list[str]) -> bool:
    return any(a in allergens for a in facts(recipe)["allergens"])


def money(cents: float) -> str:
    return f"${cents / 100:,.2f}"


@register
class MealPlanningFamily(EnvFamily):
    name = "meal_planning"
    description = "Meal planning for a household under allergen, diet, nutrition and budget rules."
    multi_turn = True
    verification = "constraints"

    # -- tools ---------------------------------------------------------------------------
    @tool("List the household members with their diets and food allergies.")
    def list_household(self, state: dict) -> dict:
        return {"household": state["household"],
                "members": [{"member_id": k, **v} for k, v in state["members"].items()]}

    @tool("Search the recipe book. Every filter is optional; results show per-serving calories, "
          "protein, carbs, cost, allergens, diet and ingredients.",
          {"meal_type": {"type": "string", "enum": _MEALS}, "cuisine": {"type": "string"},
           "diet": {"type": "string", "enum": _DIETS,
                    "description": "only recipes suitable for this diet"},
           "exclude_allergens": {"type": "array", "uniqueItems": True,
                                 "items": {"type": "string", "enum": _ALLERGENS}},
           "max_prep_minutes": {"type": "integer", "minimum": 1},
           "query": {"type": "string", "description": "text in the name or an ingredient"}},
          required=[])
    def search_recipes(self, state: dict, meal_type: str | None = None,
                       cuisine: str | None = None, diet: str | None = None,
                       exclude_allergens: list[str] | None = None,
                       max_prep_minutes: int | None = None, query: str = "") -> list[dict]:
        q, out = query.lower(), []
        for rid, r in state["recipes"].items():
            f = facts(r)
            if (meal_type in (None, r["meal_type"]) and cuisine in (None, r["cuisine"])
                    and (diet is None or _RANK[f["diet"]] >= _RANK[diet])
                    and not unsafe(r, exclude_allergens or [])
                    and r["prep_minutes"] <= (max_prep_minutes or _INF)
                    and (q in r["name"].lower() or any(q in i for i in r["ingredients"]))):
                out.append({"recipe_id": rid, **{k: r[k] for k in (
                    "name", "meal_type", "cuisine", "prep_minutes")}, "calories": f["calories"],
                    "protein": f["protein"], "carbs": f["carbs"], "cost": r["cost"] / 100,
                    "allergens": f["allergens"], "diet": f["diet"],
                    "ingredients": r["ingredients"]})
        return out

    @tool("Get one recipe with its ingredients, full nutrition per serving and cost.",
          {"recipe_id": {"type": "string"}})
    def get_recipe(self, state: dict, recipe_id: str) -> dict:
        r = self._recipe_of(state, recipe_id)
        return {"recipe_id": recipe_id.upper(), **r, **facts(r), "cost": r["cost"] / 100}

    @tool("List what is in the pantry and in how many days each item expires.")
    def get_pantry(self, state: dict) -> list[dict]:
        return state["pantry"]

    @tool("Show the current meal plan with each day's calories, protein, carbs and cost per "
          "person.")
    def get_plan(self, state: dict) -> dict:
        days = {}
        for day, slots in state["plan"].items():
            rs = [(state["recipes"][rid], facts(state["recipes"][rid])) for rid in slots.values()]
            days[day] = {"meals": {m: f"{rid} {r['name']}" for (m, rid), (r, _) in
                                   zip(slots.items(), rs, strict=True)},
                         **{k: round(sum(f[k] for _, f in rs), 1)
                            for k in ("calories", "protein", "carbs")},
                         "cost": sum(r["cost"] for r, _ in rs) / 100}
        return {"days": days, "total_cost": round(sum(d["cost"] for d in days.values()), 2)}

    @tool("Add recipes to the meal plan, e.g. {\"meals\": {\"Monday\": {\"breakfast\": "
          "\"R123\", \"dinner\": \"R456\"}}}. Each slot must be empty and get a recipe of that "
          "meal type; everything is checked before anything is written.",
          {"meals": {"type": "object", "minProperties": 1, "additionalProperties": False,
                     "properties": {d: {"type": "object", "minProperties": 1,
                                        "additionalProperties": False,
                                        "properties": {m: {"type": "string"} for m in _MEALS}}
                                    for d in _DAYS}}}, writes=True)
    def add_to_plan(self, state: dict, meals: dict[str, dict[str, str]]) -> dict:
        for day, slots in meals.items():
            for meal, rid in slots.items():
                if self._recipe_of(state, rid)["meal_type"] != meal:
                    raise ToolError(f"{rid} is not a {meal} recipe")
                if meal in state["plan"].get(day, {}):
                    raise ToolError(f"{day} {meal} is already planned; remove it first")
        for day, slots in meals.items():
            state["plan"].setdefault(day, {}).update({m: r.upper() for m, r in slots.items()})
        return {"added": sum(len(v) for v in meals.values()), "plan": state["plan"]}

    @tool("Remove one meal from the plan, or the whole day when no meal is given.",
          {"day": {"type": "string", "enum": _DAYS}, "meal": {"type": "string", "enum": _MEALS}},
          required=["day"], writes=True)
    def remove_from_plan(self, state: dict, day: str, meal: str | None = None) -> dict:
        slots = state["plan"].get(day, {})
        if not slots or (meal is not None and meal not in slots):
            raise ToolError(f"nothing planned for {day} {meal or ''}".strip())
        removed = list(slots) if meal is None else [meal]
        for m in removed:
            del slots[m]
        if not slots:
            del state["plan"][day]
        return {"removed": [f"{day} {m}" for m in removed]}

    @staticmethod
    def _recipe_of(state: dict, recipe_id: str) -> dict:
        r = state["recipes"].get(recipe_id.upper())
        if r is None:
            raise ToolError(f"no recipe {recipe_id}")
        return r

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

    # -- verification --------------------------------------------------------------------
    def verify(self, task: Task, state: Any, answer: str) -> Verdict:
        problem = _first_problem(task.check["rules"], task.initial_state["recipes"],
                                 state["plan"])
        return Verdict.fail(problem) if problem else Verdict.ok()

    def corruptions(self, task: Task, state: Any, answer: str,
                    rng: random.Random) -> list[Corruption]:
        rules, book, plan = task.check["rules"], state["recipes"], state["plan"]
        days, day, meal = rules["days"], rules["days"][-1], rng.choice(_MAIN)

        def edit(kind: str, day: str, meal: str, rid: str | None) -> Corruption:
            out = {**state, "plan": _copy(plan)}
            if rid is None:
                del out["plan"][day][meal]
            else:
                out["plan"].setdefault(day, {})[meal] = rid
            return Corruption(kind, out, answer)

        def offending(allergens: list[str]) -> str | None:
            return next((rid for rid, r in book.items() if r["meal_type"] in _MAIN
                         and unsafe(r, allergens)), None)

        out = [self.missing_write(task, answer), edit("missing_meal", day, meal, None),
               edit("unrequested_day", "Sunday", meal, plan[day][meal]),
               edit("wrong_meal_type", day, "breakfast", plan[day]["dinner"])]
        bad = offending(rules["banned"])
        if bad:
            out.append(edit("allergen", day, book[bad]["meal_type"], bad))
        if rules["no_repeat"]:
            out.append(edit("repeat", days[1], "lunch", plan[days[0]]["lunch"]))
        bad = offending([rules["guest"]["allergen"]]) if rules["guest"] else None
        if bad:
            out.append(edit("guest_allergen", rules["guest"]["day"], book[bad]["meal_type"], bad))
        return out


def _totals(recipes: dict, slots: dict) -> dict:
    fs = [(recipes[rid], facts(recipes[rid])) for rid in slots.values()]
    return {"cost": sum(r["cost"] for r, _ in fs),
            **{k: sum(f[k] for _, f in fs) for k in ("calories", "protein", "carbs")}}


def _expiring(pantry: list[dict]) -> list[str]:
    return sorted(p["item"] for p in pantry if p["expires_in_days"] <= 2)


def _first_problem(rules: dict, book: dict, plan: dict) -> str | None:
    """The first rule the plan breaks, in words; None when every rule holds."""
    days, guest, (lo, hi) = rules["days"], rules["guest"], rules["calories"]
    extra = [d for d in plan if d not in days and plan[d]]
    if extra:
        return f"meals planned on unrequested day(s) {extra}"
    used: list[str] = []
    for day in days:
        slots = plan.get(day, {})
        missing = [m for m in _MAIN if m not in slots]
        if missing:
            return f"{day} has no {missing[0]}"
        if any(rid not in book for rid in slots.values()):
            return f"{day} uses an unknown recipe"
        for meal, rid in slots.items():
            r, f = book[rid], facts(book[rid])
            if r["meal_type"] != meal:
                return f"{day}: {r['name']} is a {r['meal_type']} recipe, planned as {meal}"
            bad = [a for a in f["allergens"] if a in rules["banned"]]
            if bad:
                return f"{day}: {r['name']} contains {bad[0]}, an allergen in the household"
            if _RANK[f["diet"]] < _RANK[rules["diet"]]:
                return f"{day}: {r['name']} is not {rules['diet']}"
            if guest and day == guest["day"] and guest["allergen"] in f["allergens"]:
                return f"{day}: {r['name']} contains {guest['allergen']} (the guest's allergy)"
        t = _totals(book, slots)
        if not lo <= t["calories"] <= hi:
            return f"{day} has {t['calories']} kcal, outside {lo}-{hi}"
        if rules["protein_min"] and t["protein"] < rules["protein_min"] - 1e-9:
            return f"{day} has under {rules['protein_min']} g protein"
        if rules["carbs_max"] and t["carbs"] > rules["carbs_max"] + 1e-9:
            return f"{day} has over {rules['carbs_max']} g carbs"
        if rules["dessert_cap"] and "dessert" in slots and t["calories"] > rules["dessert_cap"]:
            return f"{day} has a dessert and {t['calories']} kcal, over {rules['dessert_cap']}"
        used += slots.values()
    if rules["no_repeat"] and len(set(used)) != len(used):
        return "a recipe is used more than once"
    if rules["dessert_cap"] and not any("dessert" in plan[d] for d in days):
        return "no day has a dessert"
    if rules["budget"] and sum(book[r]["cost"] for r in used) > rules["budget"]:
        return f"the plan costs more than {money(rules['budget'])} per person"
    cuisine, n = Counter(book[r]["cuisine"] for r in used).most_common(1)[0]
    if rules["cuisine_max"] and n > rules["cuisine_max"]:
        return f"{n} dishes are {cuisine}, more than {rules['cuisine_max']}"
    have = {i for r in used for i in book[r]["ingredients"]}
    unused = [i for i in rules["use_items"] or [] if i not in have]
    return f"expiring pantry item {unused[0]} is not used" if unused else None


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
