"""Verification and corruptions of the retail family."""

from __future__ import annotations

import random
from typing import Any

from environments.retail.common import _norm
from synth.env import Corruption, Task, Verdict
from synth.env import copy_state as _copy


class RetailVerifier:
    """Verification and corruptions of `RetailFamily` (a mixin)."""

    # -- verification --------------------------------------------------------------------
    @staticmethod
    def _outcome(state: dict, customer: str) -> dict[str, Any]:
        """The parts of the database a task may change, in a path-independent form: every
        order's status, and the customer's orders in full (addresses compared loosely)."""
        orders: dict[str, Any] = {oid: {"status": o["status"], "cancel_reason": o["cancel_reason"],
                                        "address": o["address"]}
                                  for oid, o in state["orders"].items()}
        for oid in state["customers"][customer]["orders"]:
            o = orders[oid]
            o["address"] = _norm(", ".join(o["address"].values()))
            o["items"] = {i["item_id"]: i["status"] + (f" for {i['exchanged_for']}"
                                                       if "exchanged_for" in i else "")
                          for i in state["orders"][oid]["items"]}
        stock = {iid: v["stock"] for p in state["products"].values()
                 for iid, v in p["variants"].items()}
        gift = {pm: m["balance"] for c in state["customers"].values()
                for pm, m in c["payment_methods"].items() if m["kind"] == "gift_card"}
        money_moved: dict[str, int] = {}
        for t in state["transactions"]:
            key = f"{t['order_id']} {t['payment_method_id']}"
            money_moved[key] = money_moved.get(key, 0) + t["amount"]
        return {"orders": orders, "stock": stock, "gift_cards": gift,
                "payments": {k: v for k, v in money_moved.items() if v}}

    def verify(self, task: Task, state: Any, answer: str) -> Verdict:
        want, got = task.check["expected"], self._outcome(state, task.check["customer"])
        for part, label in (("orders", "order"), ("payments", "net payment (order, method)"),
                            ("stock", "stock of item"), ("gift_cards", "balance of gift card")):
            if got[part] != want[part]:
                key = next(k for k in sorted({*want[part], *got[part]})
                           if want[part].get(k) != got[part].get(k))
                w, g = want[part].get(key), got[part].get(key)
                if isinstance(w, dict) and isinstance(g, dict):  # name the field that differs
                    key, w, g = next((f"{key} {f}", w[f], g.get(f)) for f in w if w[f] != g.get(f))
                return Verdict.fail(f"{label} {key}: expected {w}, found {g}")
        return Verdict.ok()

    def finalize_check(self, check: dict, state: Any, answer: str) -> dict:
        """The expected outcome is the reference's final database, in path-free form."""
        return {**check, "expected": self._outcome(state, check["customer"])}

    def corruptions(self, task: Task, state: Any, answer: str,
                    rng: random.Random) -> list[Corruption]:
        orders = task.check["orders"]
        wrong_item = _copy(state)
        items = wrong_item["orders"][orders["return"]]["items"]
        items[0]["status"], items[1]["status"] = items[1]["status"], items[0]["status"]
        wrong_amount = _copy(state)
        ret = wrong_amount["orders"][orders["return"]]
        wrong_amount["transactions"].append({"order_id": orders["return"], "amount": -500,
                                             "payment_method_id": ret["payment_method_id"]})
        out = [self.missing_write(task, answer), Corruption("wrong_item", wrong_item, answer),
               Corruption("wrong_amount", wrong_amount, answer)]
        if task.difficulty >= 2:
            wrong_variant = _copy(state)
            item = wrong_variant["orders"][orders["exchange"]]["items"][0]
            variants = wrong_variant["products"][item["product_id"]]["variants"]
            item["exchanged_for"] = next(v for v in variants
                                         if v not in (item["item_id"], item["exchanged_for"]))
            out.append(Corruption("wrong_variant", wrong_variant, answer))
        if task.difficulty >= 4:
            kept = _copy(state)
            initial = task.initial_state["orders"][orders["address"]]["address"]
            kept["orders"][orders["address"]]["address"] = dict(initial)
            out.append(Corruption("address_unchanged", kept, answer))
        if task.difficulty >= 5:
            not_cancelled = _copy(state)
            not_cancelled["orders"][orders["cancel"]]["status"] = "pending"
            out.append(Corruption("cancel_missing", not_cancelled, answer))
        return out
