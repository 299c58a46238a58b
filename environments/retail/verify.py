"""The outcome and the domain corruptions of the retail family."""

from __future__ import annotations

import random
from typing import Any

from environments.retail.common import _norm
from synth.env import Corruption, Task


class RetailVerifier:
    """The outcome and the domain corruptions of `RetailFamily` (a mixin)."""

    def outcome(self, task: Task, state: Any) -> dict[str, Any]:
        """The parts of the database a task may change, in a path-independent form: every
        order's status, the customer's orders in full (addresses compared loosely), stock,
        gift-card balances and the money moved per (order, payment method)."""
        orders: dict[str, Any] = {oid: {"status": o["status"], "cancel_reason": o["cancel_reason"],
                                        "address": o["address"]}
                                  for oid, o in state["orders"].items()}
        for oid in state["customers"][task.check["customer"]]["orders"]:
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

    def corruptions(self, task: Task, state: Any, answer: str,
                    rng: random.Random) -> list[Corruption]:
        orders = task.check["orders"]

        def swap_items(new: dict) -> None:
            items = new["orders"][orders["return"]]["items"]
            items[0]["status"], items[1]["status"] = items[1]["status"], items[0]["status"]

        def refund_more(new: dict) -> None:
            method = new["orders"][orders["return"]]["payment_method_id"]
            new["transactions"].append({"order_id": orders["return"], "amount": -500,
                                        "payment_method_id": method})

        out = [Corruption.edit("wrong_item", state, answer, swap_items, "orders"),
               Corruption.edit("wrong_amount", state, answer, refund_more, "transactions")]
        if task.difficulty >= 2:
            def other_variant(new: dict) -> None:
                item = new["orders"][orders["exchange"]]["items"][0]
                variants = new["products"][item["product_id"]]["variants"]
                item["exchanged_for"] = next(v for v in variants
                                             if v not in (item["item_id"], item["exchanged_for"]))
            out.append(Corruption.edit("wrong_variant", state, answer, other_variant, "orders"))
        if task.difficulty >= 4:
            initial = task.initial_state["orders"][orders["address"]]["address"]
            out.append(Corruption.edit(
                "address_unchanged", state, answer,
                lambda new: new["orders"][orders["address"]].update(address=dict(initial)),
                "orders"))
        if task.difficulty >= 5:
            out.append(Corruption.edit(
                "cancel_missing", state, answer,
                lambda new: new["orders"][orders["cancel"]].update(status="pending"), "orders"))
        return out
