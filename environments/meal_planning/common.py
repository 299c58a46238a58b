"""Shared data, schemas and helpers of the meal planning family."""

from __future__ import annotations

from collections import Counter

from synth.data import load_json
from synth.env import money

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
