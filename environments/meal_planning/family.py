"""The meal planning family: the registered class and its tools."""

from __future__ import annotations

from environments.meal_planning.common import (
    _ALLERGENS,
    _DAYS,
    _DIETS,
    _INF,
    _MEALS,
    _RANK,
    facts,
    unsafe,
)
from environments.meal_planning.scenario import MealPlanningScenario
from environments.meal_planning.verify import MealPlanningVerifier
from synth.env import EnvFamily, ToolError, register, tool


@register
class MealPlanningFamily(MealPlanningScenario, MealPlanningVerifier, EnvFamily):
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
           "query": {"type": "string", "description": "text in the name or an ingredient"}})
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
          writes=True)
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
