"""Verification and corruptions of the warehouse family."""

from __future__ import annotations

import random
from typing import Any

from environments.warehouse.common import _cents_in, _part_copy, money, sku_pattern
from synth.env import Corruption, Task, Verdict


class WarehouseVerifier:
    """Verification and corruptions of `WarehouseFamily` (a mixin)."""

    # -- verification --------------------------------------------------------------------
    def verify(self, task: Task, state: Any, answer: str) -> Verdict:
        check, expected = task.check, task.check["expected"]
        stock = self._stock_map(state)
        if stock != expected["stock"]:
            diff = sorted(k for k in set(stock) | set(expected["stock"])
                          if stock.get(k) != expected["stock"].get(k))
            k = diff[0]
            return Verdict.fail(f"stock of {k} is {stock.get(k)}, expected "
                                f"{expected['stock'].get(k)}")
        orders = self._orders(state)
        if orders != expected["orders"]:
            return Verdict.fail(f"purchase orders {orders} differ from {expected['orders']}")
        adjustments = self._adjustments(state)
        if adjustments != expected["adjustments"]:
            return Verdict.fail(f"stock adjustments {adjustments} differ from "
                                f"{expected['adjustments']}")
        if not any(abs(c - check["value"]) <= 1 for c in _cents_in(answer)):
            return Verdict.fail(f"answer does not state the stock value {money(check['value'])}")
        if check["sku"] and not sku_pattern(check["sku"]).search(answer.lower()):
            return Verdict.fail(f"answer does not name the reordered SKU {check['sku']}")
        return Verdict.ok()

    def finalize_check(self, check: dict, state: Any, answer: str) -> dict:
        """The expected outcome is the reference's: stock, purchase orders and adjustments."""
        return {**check, "expected": {"stock": self._stock_map(state),
                                      "orders": self._orders(state),
                                      "adjustments": self._adjustments(state)}}

    @staticmethod
    def _stock_map(state: dict) -> dict[str, int]:
        return {f"{sid}@{wh}": row["on_hand"] for sid, rows in state["stock"].items()
                for wh, row in rows.items()}

    @staticmethod
    def _orders(state: dict) -> list[list]:
        return sorted([p["sku"], p["supplier_id"], p["warehouse_id"], p["quantity"]]
                      for p in state["purchase_orders"])

    @staticmethod
    def _adjustments(state: dict) -> list[list]:
        return sorted([m["sku"], m["warehouse_id"], m["quantity"], m["note"]]
                      for m in state["movements"] if m["kind"] == "adjustment")

    def corruptions(self, task: Task, state: Any, answer: str,
                    rng: random.Random) -> list[Corruption]:
        check, wh = task.check, task.check["warehouse_id"]
        value_text = money(check["value"])
        wrong_value = answer.replace(value_text, money(check["value"] + rng.choice([-1, 1]) * 100))
        stray = _part_copy(state, "stock")
        stray["stock"][check["damaged_sku"]][wh]["on_hand"] += 7
        out = [Corruption("wrong_number", state, wrong_value),
               Corruption("stray_write", stray, answer),
               Corruption("no_value", state, answer.replace(value_text, "unknown"))]
        if not check["sku"]:
            return out
        other = check["damaged_sku"]
        wrong_sku = _part_copy(state, "purchase_orders")
        wrong_qty = _part_copy(state, "purchase_orders")
        wrong_sku["purchase_orders"][-1]["sku"] = other
        wrong_qty["purchase_orders"][-1]["quantity"] += 1
        out += [self.missing_write(task, answer),
                Corruption("wrong_quantity", wrong_qty, answer),
                Corruption("wrong_sku", wrong_sku, answer.replace(check["sku"], other))]
        if task.difficulty >= 3:
            wrong_sup = _part_copy(state, "purchase_orders")
            po = wrong_sup["purchase_orders"][-1]
            offers = [o["supplier_id"] for o in state["skus"][check["sku"]]["offers"]]
            po["supplier_id"] = next(s for s in offers if s != po["supplier_id"])
            out.append(Corruption("wrong_supplier", wrong_sup, answer))
        if task.difficulty >= 4:  # ordered everything instead of transferring the surplus
            no_transfer = _part_copy(state, "stock", "purchase_orders")
            for m in state["movements"]:
                if m["kind"] == "transfer_in":
                    no_transfer["purchase_orders"][-1]["quantity"] += m["quantity"]
                if m["kind"] in ("transfer_in", "transfer_out"):
                    no_transfer["stock"][m["sku"]][m["warehouse_id"]]["on_hand"] -= m["quantity"]
            out.append(Corruption("missing_transfer", no_transfer, answer))
        if task.difficulty >= 5:
            skipped = _part_copy(state, "stock")
            for m in state["movements"]:
                if m["kind"] == "adjustment":
                    skipped["stock"][m["sku"]][m["warehouse_id"]]["on_hand"] -= m["quantity"]
            skipped["movements"] = [m for m in state["movements"] if m["kind"] != "adjustment"]
            out.append(Corruption("missing_write_off", skipped, answer))
        return out
