"""Verification and corruptions of the meal planning family."""

from __future__ import annotations

import random
from typing import Any

from environments.meal_planning.common import _MAIN, _first_problem, unsafe
from synth.env import Corruption, Task, Verdict


class MealPlanningVerifier:
    """Verification and corruptions of `MealPlanningFamily` (a mixin)."""

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
            def change(new: dict) -> None:
                if rid is None:
                    del new["plan"][day][meal]
                else:
                    new["plan"].setdefault(day, {})[meal] = rid
            return Corruption.edit(kind, state, answer, change, "plan")

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
