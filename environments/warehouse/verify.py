"""The outcome, the answer check and the domain corruptions of the warehouse family."""

from __future__ import annotations

import random
from typing import Any

from environments.warehouse.common import sku_pattern
from synth.env import Corruption, Task, cents_in, money


class WarehouseVerifier:
    """The outcome, the answer check and the domain corruptions of `WarehouseFamily`."""

    def outcome(self, task: Task, state: Any) -> dict[str, Any]:
        """Stock on hand per SKU and warehouse, purchase orders and stock adjustments."""
        stock = {f"{sid}@{wh}": row["on_hand"] for sid, rows in state["stock"].items()
                 for wh, row in rows.items()}
        orders = sorted([p["sku"], p["supplier_id"], p["warehouse_id"], p["quantity"]]
                        for p in state["purchase_orders"])
        adjustments = sorted([m["sku"], m["warehouse_id"], m["quantity"], m["note"]]
                             for m in state["movements"] if m["kind"] == "adjustment")
        return {"stock": stock, "orders": orders, "adjustments": adjustments}

    def answer_problem(self, task: Task, answer: str) -> str | None:
        check = task.check
        if not any(abs(c - check["value"]) <= 1 for c in cents_in(answer)):
            return f"answer does not state the stock value {money(check['value'])}"
        if check["sku"] and not sku_pattern(check["sku"]).search(answer.lower()):
            return f"answer does not name the reordered SKU {check['sku']}"
        return None

    def corruptions(self, task: Task, state: Any, answer: str,
                    rng: random.Random) -> list[Corruption]:
        check, wh = task.check, task.check["warehouse_id"]
        value_text = money(check["value"])
        wrong_value = answer.replace(value_text, money(check["value"] + rng.choice([-1, 1]) * 100))

        def stray(new: dict) -> None:
            new["stock"][check["damaged_sku"]][wh]["on_hand"] += 7

        out = [Corruption("wrong_number", state, wrong_value),
               Corruption.edit("stray_write", state, answer, stray, "stock"),
               Corruption("no_value", state, answer.replace(value_text, "unknown"))]
        if not check["sku"]:
            return out
        other = check["damaged_sku"]

        def last_order(change: Any) -> Any:
            return lambda new: change(new["purchase_orders"][-1])

        out.append(Corruption.edit("wrong_sku", state, answer.replace(check["sku"], other),
                                   last_order(lambda po: po.update(sku=other)),
                                   "purchase_orders"))
        if task.difficulty >= 3:
            offers = [o["supplier_id"] for o in state["skus"][check["sku"]]["offers"]]
            out.append(Corruption.edit(
                "wrong_supplier", state, answer, last_order(lambda po: po.update(
                    supplier_id=next(s for s in offers if s != po["supplier_id"]))),
                "purchase_orders"))
        if task.difficulty >= 4:  # ordered everything instead of transferring the surplus
            def no_transfer(new: dict) -> None:
                for m in state["movements"]:
                    if m["kind"] == "transfer_in":
                        new["purchase_orders"][-1]["quantity"] += m["quantity"]
                    if m["kind"] in ("transfer_in", "transfer_out"):
                        new["stock"][m["sku"]][m["warehouse_id"]]["on_hand"] -= m["quantity"]
            out.append(Corruption.edit("missing_transfer", state, answer, no_transfer,
                                       "stock", "purchase_orders"))
        if task.difficulty >= 5:
            def skip_write_off(new: dict) -> None:
                for m in state["movements"]:
                    if m["kind"] == "adjustment":
                        new["stock"][m["sku"]][m["warehouse_id"]]["on_hand"] -= m["quantity"]
                new["movements"] = [m for m in state["movements"] if m["kind"] != "adjustment"]
            out.append(Corruption.edit("missing_write_off", state, answer, skip_write_off,
                                       "stock"))
        return out
