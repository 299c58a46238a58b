"""Household meal planning under allergen, diet, nutrition, budget and variety rules.

Verification kind: constraints. The final plan in the state is checked rule by rule (no
allergen of any member, everyone's diet, daily calories in a range, protein floor, no repeats,
a conditional calorie cap on dessert days, budget, cuisine variety, carbs cap, pantry use), so
many plans pass. Rule numbers derive from a planted valid plan, with margins, so one exists.
Levels add rules, decoy recipes (safe dishes with an allergen topping) and, from level 4, a
follow-up turn: a guest with an allergy to something the first plan serves that day.
"""

from environments.meal_planning.family import MealPlanningFamily

__all__ = ["MealPlanningFamily"]
