"""Scenario generation, prompts and the reference solution of the warehouse family."""

from __future__ import annotations

import random
from typing import Any

from environments.warehouse.common import _CATEGORIES, _DATA
from synth.env import Draft, Toolbox, money


class WarehouseScenario:
    """Scenario generation, prompts and the reference solution of `WarehouseFamily` (a mixin)."""

    # -- generation ----------------------------------------------------------------------
    def build(self, rng: random.Random, difficulty: int) -> Draft:
        state, p = self._base(rng)
        rows = state["stock"]
        focus = [s for s in rows if state["skus"][s]["category"] == p["category"]
                 and s not in (p["sku"], p["damaged_sku"])]
        decoys = rng.sample(focus, 2)
        for sid in decoys[: min(2, difficulty - 1)]:  # lower shortfalls: decoys for "furthest"
            row = rows[sid][p["wh"]]
            row["on_hand"] = max(0, row["reorder_point"] - rng.randint(1, p["shortfall"] - 1))
        order_qty = p["shortfall"] - (p["surplus"] if difficulty >= 4 else 0)
        pref = next(o for o in state["skus"][p["sku"]]["offers"]
                    if o["supplier_id"] == state["skus"][p["sku"]]["preferred"])
        factor = 1 + rng.choice([-1, 1]) * rng.uniform(0.1, 0.4)
        p["threshold"] = round(order_qty * pref["unit_price"] * factor / 100) * 100
        if difficulty < 5:  # the write-off is a level-5 step; below it, nothing changes
            p["damaged"] = 0
        rows_here = {s: r[p["wh"]] for s, r in rows.items() if p["wh"] in r}
        damaged = {p["damaged_sku"]: p["damaged"]}
        p["value"] = sum((r["on_hand"] - damaged.get(s, 0)) * state["skus"][s]["unit_cost"]
                         for s, r in rows_here.items()
                         if state["skus"][s]["category"] == p["category"])
        return self._draft(state, difficulty, p)

    def _base(self, rng: random.Random) -> tuple[dict, dict]:
        """The shared scenario: catalog, stock, suppliers, the SKU to reorder and its surplus."""
        whs = rng.sample(_DATA["warehouses"], rng.randint(2, 4))
        leads = rng.sample(range(2, 31), len(_DATA["suppliers"]))
        state: dict[str, Any] = {
            "warehouses": {w["code"]: {"name": w["name"], "city": w["city"]} for w in whs},
            "suppliers": {s["id"]: {"name": s["name"], "lead_time_days": lead}
                          for s, lead in zip(_DATA["suppliers"], leads, strict=True)},
            "skus": {}, "stock": {}, "purchase_orders": [], "movements": []}
        codes = list(state["warehouses"])
        target = rng.choice(codes)
        cats = rng.sample(_CATEGORIES, 3)
        for cat in cats:
            info = _DATA["categories"][cat]
            count = rng.randint(6, 8) if cat == cats[0] else rng.randint(4, 6)
            for prod in rng.sample(info["products"], count):
                self._add_sku(state, rng, cat, info["prefix"], prod, target if cat == cats[0]
                              else None)
        focus = [s for s, v in state["skus"].items() if v["category"] == cats[0]]
        sku, damaged_sku = rng.sample(focus, 2)
        shortfall = rng.randint(20, 120)
        rows = state["stock"][sku]
        for wh in codes:  # the reorder SKU is stocked everywhere; elsewhere with a surplus
            rows.setdefault(wh, {"bin": self._bin(rng), "on_hand": 0, "reorder_point": 0})
        rows[target]["reorder_point"] = rp = shortfall + rng.randint(0, 40)
        rows[target]["on_hand"] = rp - shortfall
        others = [wh for wh in codes if wh != target]
        for wh, extra in zip(others, rng.sample(range(1, shortfall), len(others)), strict=True):
            rows[wh]["on_hand"] = rows[wh]["reorder_point"] + extra
        surplus = max(rows[wh]["on_hand"] - rows[wh]["reorder_point"] for wh in others)
        dmg_row = state["stock"][damaged_sku][target]
        n_damaged = rng.randint(2, 12)
        dmg_row["on_hand"] = max(dmg_row["on_hand"], dmg_row["reorder_point"] + n_damaged)
        self._history(state, rng, sku)
        return state, {"wh": target, "category": cats[0], "sku": sku, "shortfall": shortfall,
                       "surplus": surplus, "damaged_sku": damaged_sku, "damaged": n_damaged,
                       "damaged_name": state["skus"][damaged_sku]["name"]}

    def _add_sku(self, state: dict, rng: random.Random, cat: str, prefix: str, prod: dict,
                 healthy_at: str | None) -> None:
        sid = f"{prefix}-{rng.randint(1000, 9999)}"
        while sid in state["skus"]:
            sid = f"{prefix}-{rng.randint(1000, 9999)}"
        cost = round(prod["cost"] * 100 * rng.uniform(0.92, 1.08))
        servers = [s["id"] for s in _DATA["suppliers"] if cat in s["categories"]]
        offers: list[dict] = []
        for sup in rng.sample(servers, rng.randint(2, 3)):
            price = round(cost * rng.uniform(0.85, 1.3))
            while any(o["unit_price"] == price for o in offers):  # no ties for "cheapest"
                price += 1
            offers.append({"supplier_id": sup, "unit_price": price})
        state["skus"][sid] = {"name": prod["name"], "category": cat, "unit_cost": cost,
                              "preferred": rng.choice(offers)["supplier_id"], "offers": offers}
        rows: dict[str, dict] = {}
        for wh in state["warehouses"]:
            if wh == healthy_at or rng.random() < 0.7:
                rp = rng.randint(4, 30) * 5
                low = wh != healthy_at and rng.random() < 0.2
                on_hand = rng.randint(0, rp - 1) if low else rng.randint(rp, rp + 300)
                rows[wh] = {"bin": self._bin(rng), "on_hand": on_hand, "reorder_point": rp}
        state["stock"][sid] = rows

    @staticmethod
    def _bin(rng: random.Random) -> str:
        return f"{rng.choice('ABCDEFGH')}-{rng.randint(1, 24):02d}-{rng.randint(1, 5)}"

    def _history(self, state: dict, rng: random.Random, reorder_sku: str) -> None:
        """Past receipts and shipments, and open purchase orders for other SKUs."""
        pairs = [(s, wh) for s, rows in state["stock"].items() for wh in rows]
        for sid, wh in rng.sample(pairs, min(8, len(pairs))):
            kind = rng.choice(["receipt", "shipment"])
            qty = rng.randint(5, 80) * (1 if kind == "receipt" else -1)
            note = rng.choice(_DATA["customers"]) if kind == "shipment" else "supplier delivery"
            self._move(state, sid, wh, kind, qty, note)
        others = [s for s in state["skus"] if s != reorder_sku]
        for sid in rng.sample(others, 3):
            offer = rng.choice(state["skus"][sid]["offers"])
            state["purchase_orders"].append({
                "po_id": f"PO-{7001 + len(state['purchase_orders'])}", "sku": sid,
                "supplier_id": offer["supplier_id"],
                "warehouse_id": rng.choice(list(state["warehouses"])),
                "quantity": rng.randint(2, 20) * 10, "unit_price": offer["unit_price"],
                "status": "open"})

    def _draft(self, state: dict, lv: int, p: dict) -> Draft:
        wh_name = state["warehouses"][p["wh"]]["name"]
        asks, constraints = [], 1
        if lv >= 5:
            asks.append(f"A cycle count at the {wh_name} this morning found {p['damaged']} "
                        f"units of \"{p['damaged_name']}\" damaged: first write them off "
                        "(reason: damaged).")
            constraints += 1
        when = (" after that write-off" if lv >= 5 else "") + (
            ", before any transfer or order" if lv >= 4 else "")
        asks.append(f"What is the total value (units on hand x unit cost) of our {p['category']} "
                    f"stock at the {wh_name}{when}?")
        if lv >= 2:
            asks.append(f"Then find the {p['category']} SKU there that is furthest below its "
                        "reorder point and reorder its shortfall (reorder point minus units on "
                        f"hand) for delivery to the {wh_name}.")
            constraints += 2
        if lv >= 4:
            asks.append("Before ordering, cover as much of the shortfall as possible with one "
                        "transfer from the other warehouse holding the largest surplus of that "
                        "SKU (units above that warehouse's own reorder point), then order only "
                        "what is still missing.")
            constraints += 2
        if lv >= 3:
            asks.append(f"If the quantity you order would cost more than {money(p['threshold'])} "
                        "at the preferred supplier's price, buy from the supplier offering the "
                        "lowest unit price; otherwise buy from the supplier with the shortest "
                        "lead time.")
            constraints += 1
        elif lv == 2:
            asks.append("Order it from the SKU's preferred supplier.")
        if lv >= 2:
            asks.append("Tell me the value and which SKU you reordered.")
        distractors = min(2, lv - 1) + (len(state["warehouses"]) - 2 if lv >= 4 else 0)
        system = ("You are the inventory assistant of Ridgeline Supply Co., a distributor of "
                  "building and hardware supplies. Use the tools to read and update the "
                  "inventory system. Amounts are in US dollars.")
        return Draft(state=state, system_prompt=system, user_turns=[" ".join(asks)],
                     solutions=[lambda box: self._solve(box, lv, p, wh_name)],
                     check={"value": p["value"], "sku": p["sku"] if lv >= 2 else None,
                            "warehouse_id": p["wh"], "damaged_sku": p["damaged_sku"]},
                     metadata={"constraints": constraints, "distractors": distractors})

    def _solve(self, box: Toolbox, lv: int, p: dict, wh_name: str) -> str:
        whs, skus = box.parallel(("list_warehouses", {}),
                                 ("search_skus", {"category": p["category"]}))
        wh = next(w["warehouse_id"] for w in whs if w["name"] == wh_name)
        cost = {s["sku"]: round(s["unit_cost"] * 100) for s in skus}
        if lv >= 5:
            damaged = next(s["sku"] for s in skus if s["name"] == p["damaged_name"])
            box("adjust_stock", sku=damaged, warehouse_id=wh, quantity_change=-p["damaged"],
                reason="damaged")
        rows = box("list_stock", warehouse_id=wh, category=p["category"])
        value = sum(r["on_hand"] * cost[r["sku"]] for r in rows)
        answer = f"The {p['category']} stock at the {wh_name} is worth {money(value)}."
        if lv == 1:
            return answer
        low = max(rows, key=lambda r: r["reorder_point"] - r["on_hand"])
        sku, qty = low["sku"], low["reorder_point"] - low["on_hand"]
        info = box("get_sku", sku=sku)
        answer += f" {sku} ({info['name']}) was {qty} units below its reorder point;"
        if lv >= 4:
            donors = [(r["on_hand"] - r["reorder_point"], r["warehouse_id"])
                      for r in box("get_stock", sku=sku) if r["warehouse_id"] != wh]
            surplus, donor = max(donors)
            if surplus > 0:
                moved = min(surplus, qty)
                box("transfer_stock", sku=sku, from_warehouse_id=donor, to_warehouse_id=wh,
                    quantity=moved)
                qty -= moved
                answer += f" I transferred {moved} units from {donor};"
        offers = {o["supplier_id"]: round(o["unit_price"] * 100) for o in info["supplier_offers"]}
        supplier = info["preferred_supplier_id"]
        if lv >= 3:
            if qty * offers[supplier] > p["threshold"]:
                supplier = min(offers, key=offers.__getitem__)
            else:
                found = box.parallel(*[("get_supplier", {"supplier_id": s}) for s in offers])
                supplier = min(found, key=lambda s: s["lead_time_days"])["supplier_id"]
        if qty > 0:
            po = box("create_purchase_order", sku=sku, supplier_id=supplier, warehouse_id=wh,
                     quantity=qty)
            answer += f" I ordered {qty} units from {supplier} ({po['po_id']})."
        return answer
