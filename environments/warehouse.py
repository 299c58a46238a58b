"""Warehouse inventory across 2-4 distribution centers: stock values, reorders and transfers.

Verification kind: a computed answer (the value of one category's stock in one warehouse, parsed
from free text with $ and commas to the cent; the SKU reordered, case-insensitive) plus the final
state wherever the task asks for writes (stock levels, purchase orders, adjustments).
Levels add a reorder of the SKU furthest below its reorder point, a conditional supplier rule
(cheapest vs fastest by order cost), a surplus transfer from another warehouse first, and a
damaged-stock write-off that changes the value to report.
"""

from __future__ import annotations

import random
import re
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

_DATA = load_json("warehouse.json")
_CATEGORIES = list(_DATA["categories"])
_REASONS = ["damaged", "cycle_count", "expired", "found", "customer_return"]
_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
_ID = {"type": "string", "minLength": 1}
_QTY = {"type": "integer", "minimum": 1, "maximum": 100000}


def money(cents: int) -> str:
    return f"${cents / 100:,.2f}"


def sku_pattern(sku: str) -> re.Pattern[str]:
    """Matches 'PT-4821', 'pt 4821' or 'PT4821' but not 'PT-48210'."""
    prefix, digits = sku.lower().split("-")
    return re.compile(rf"(?<![a-z0-9]){prefix}[\s\-_]?{digits}(?!\d)")


def _cents_in(answer: str) -> list[int]:
    return [round(float(m.replace(",", "")) * 100) for m in _NUMBER.findall(answer)]


@register
class WarehouseFamily(EnvFamily):
    name = "warehouse"
    description = "Warehouse inventory: stock value, reorder points, supplier choice, transfers."
    verification = "answer"

    # -- tools ---------------------------------------------------------------------------
    @tool("List the company's warehouses with their ids, names and cities.")
    def list_warehouses(self, state: dict) -> list[dict]:
        return [{"warehouse_id": k, **v} for k, v in state["warehouses"].items()]

    @tool("Search SKUs by text in the name or id and/or by category; returns unit costs.",
          {"query": {"type": "string"}, "category": {"type": "string", "enum": _CATEGORIES}},
          required=[])
    def search_skus(self, state: dict, query: str = "", category: str | None = None) -> list[dict]:
        needle = query.lower()
        return [
            {"sku": sid, "name": s["name"], "category": s["category"],
             "unit_cost": s["unit_cost"] / 100}
            for sid, s in state["skus"].items()
            if (category is None or s["category"] == category)
            and (needle in s["name"].lower() or needle in sid.lower())
        ]

    @tool("Get one SKU: unit cost, preferred supplier and every supplier's unit price for it.",
          {"sku": _ID})
    def get_sku(self, state: dict, sku: str) -> dict:
        sid, s = self._sku(state, sku)
        return {"sku": sid, "name": s["name"], "category": s["category"],
                "unit_cost": s["unit_cost"] / 100, "preferred_supplier_id": s["preferred"],
                "supplier_offers": [{"supplier_id": o["supplier_id"],
                                     "unit_price": o["unit_price"] / 100} for o in s["offers"]]}

    @tool("List the stock rows of a warehouse (optionally one category): bin, units on hand and "
          "reorder point of each SKU stocked there.",
          {"warehouse_id": _ID, "category": {"type": "string", "enum": _CATEGORIES}},
          required=["warehouse_id"])
    def list_stock(self, state: dict, warehouse_id: str, category: str | None = None) -> list[dict]:
        wh = self._warehouse(state, warehouse_id)
        return [{"sku": sid, "name": state["skus"][sid]["name"], **rows[wh]}
                for sid, rows in state["stock"].items()
                if wh in rows and category in (None, state["skus"][sid]["category"])]

    @tool("Get a SKU's stock in every warehouse that holds it (or in one warehouse).",
          {"sku": _ID, "warehouse_id": _ID}, required=["sku"])
    def get_stock(self, state: dict, sku: str, warehouse_id: str | None = None) -> list[dict]:
        sid, _ = self._sku(state, sku)
        only = self._warehouse(state, warehouse_id) if warehouse_id else None
        return [{"warehouse_id": wh, **row} for wh, row in state["stock"].get(sid, {}).items()
                if only in (None, wh)]

    @tool("List stock rows below their reorder point, in one warehouse or everywhere.",
          {"warehouse_id": _ID}, required=[])
    def list_low_stock(self, state: dict, warehouse_id: str | None = None) -> list[dict]:
        only = self._warehouse(state, warehouse_id) if warehouse_id else None
        return [{"sku": sid, "name": state["skus"][sid]["name"],
                 "category": state["skus"][sid]["category"], "warehouse_id": wh, **row,
                 "shortfall": row["reorder_point"] - row["on_hand"]}
                for sid, rows in state["stock"].items() for wh, row in rows.items()
                if only in (None, wh) and row["on_hand"] < row["reorder_point"]]

    @tool("Get a supplier: name and lead time in days (order to delivery).",
          {"supplier_id": _ID})
    def get_supplier(self, state: dict, supplier_id: str) -> dict:
        sup = state["suppliers"].get(supplier_id.upper())
        if sup is None:
            raise ToolError(f"no supplier {supplier_id}")
        return {"supplier_id": supplier_id.upper(), **sup}

    @tool("List recent stock movements (receipts, shipments, transfers, adjustments), newest "
          "last, optionally for one SKU and/or warehouse.",
          {"sku": _ID, "warehouse_id": _ID, "limit": {"type": "integer", "minimum": 1,
                                                       "maximum": 100}}, required=[])
    def list_movements(self, state: dict, sku: str | None = None,
                       warehouse_id: str | None = None, limit: int = 20) -> list[dict]:
        sid = self._sku(state, sku)[0] if sku else None
        wh = self._warehouse(state, warehouse_id) if warehouse_id else None
        rows = [m for m in state["movements"]
                if sid in (None, m["sku"]) and wh in (None, m["warehouse_id"])]
        return rows[-limit:]

    @tool("List purchase orders, optionally for one SKU.", {"sku": _ID}, required=[])
    def list_purchase_orders(self, state: dict, sku: str | None = None) -> list[dict]:
        sid = self._sku(state, sku)[0] if sku else None
        return [{**p, "unit_price": p["unit_price"] / 100} for p in state["purchase_orders"]
                if sid in (None, p["sku"])]

    @tool("Move units of a SKU from one warehouse to another (the source must hold them).",
          {"sku": _ID, "from_warehouse_id": _ID, "to_warehouse_id": _ID, "quantity": _QTY},
          writes=True)
    def transfer_stock(self, state: dict, sku: str, from_warehouse_id: str,
                       to_warehouse_id: str, quantity: int) -> dict:
        sid, _ = self._sku(state, sku)
        src = self._warehouse(state, from_warehouse_id)
        dst = self._warehouse(state, to_warehouse_id)
        rows = state["stock"][sid]
        if src == dst:
            raise ToolError("source and destination warehouses are the same")
        if rows.get(src, {}).get("on_hand", 0) < quantity:
            raise ToolError(f"{src} holds only {rows.get(src, {}).get('on_hand', 0)} of {sid}")
        rows[src]["on_hand"] -= quantity
        rows.setdefault(dst, {"bin": "RECV-01", "on_hand": 0, "reorder_point": 0})
        rows[dst]["on_hand"] += quantity
        self._move(state, sid, src, "transfer_out", -quantity, f"to {dst}")
        self._move(state, sid, dst, "transfer_in", quantity, f"from {src}")
        return {"sku": sid, "from": {"warehouse_id": src, "on_hand": rows[src]["on_hand"]},
                "to": {"warehouse_id": dst, "on_hand": rows[dst]["on_hand"]}}

    @tool("Create a purchase order for a SKU from a supplier that offers it, for delivery to a "
          "warehouse. The supplier's unit price applies.",
          {"sku": _ID, "supplier_id": _ID, "warehouse_id": _ID, "quantity": _QTY}, writes=True)
    def create_purchase_order(self, state: dict, sku: str, supplier_id: str, warehouse_id: str,
                              quantity: int) -> dict:
        sid, s = self._sku(state, sku)
        wh = self._warehouse(state, warehouse_id)
        offer = next((o for o in s["offers"] if o["supplier_id"] == supplier_id.upper()), None)
        if offer is None:
            raise ToolError(f"supplier {supplier_id} does not offer {sid}")
        po = {"po_id": f"PO-{7001 + len(state['purchase_orders'])}", "sku": sid,
              "supplier_id": offer["supplier_id"], "warehouse_id": wh, "quantity": quantity,
              "unit_price": offer["unit_price"], "status": "open"}
        state["purchase_orders"].append(po)
        lead = state["suppliers"][offer["supplier_id"]]["lead_time_days"]
        return {**po, "unit_price": offer["unit_price"] / 100,
                "total": offer["unit_price"] * quantity / 100, "lead_time_days": lead}

    @tool("Correct a stock row by a signed number of units, with a reason (damage, count...).",
          {"sku": _ID, "warehouse_id": _ID,
           "quantity_change": {"type": "integer", "minimum": -100000, "maximum": 100000,
                               "not": {"const": 0}},
           "reason": {"type": "string", "enum": _REASONS}}, writes=True)
    def adjust_stock(self, state: dict, sku: str, warehouse_id: str, quantity_change: int,
                     reason: str) -> dict:
        sid, _ = self._sku(state, sku)
        wh = self._warehouse(state, warehouse_id)
        row = state["stock"][sid].get(wh)
        if row is None:
            raise ToolError(f"{sid} is not stocked at {wh}")
        if row["on_hand"] + quantity_change < 0:
            raise ToolError(f"only {row['on_hand']} units on hand")
        row["on_hand"] += quantity_change
        self._move(state, sid, wh, "adjustment", quantity_change, reason)
        return {"sku": sid, "warehouse_id": wh, "on_hand": row["on_hand"]}

    # -- helpers over the state ----------------------------------------------------------
    @staticmethod
    def _sku(state: dict, sku: str) -> tuple[str, dict]:
        sid = sku.strip().upper()
        if sid not in state["skus"]:
            raise ToolError(f"no SKU {sku}")
        return sid, state["skus"][sid]

    @staticmethod
    def _warehouse(state: dict, warehouse_id: str) -> str:
        wh = warehouse_id.strip().upper()
        if wh not in state["warehouses"]:
            raise ToolError(f"no warehouse {warehouse_id}; use list_warehouses")
        return wh

    @staticmethod
    def _move(state: dict, sku: str, wh: str, kind: str, qty: int, note: str) -> None:
        state["movements"].append({"id": f"MV-{30001 + len(state['movements'])}",
                                   "date": "2024-06-14", "sku": sku, "warehouse_id": wh,
                                   "kind": kind, "quantity": qty, "note": note})

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


def _part_copy(state: dict, *keys: str) -> dict:
    """A new state sharing every part but `keys`, which are deep-copied (cheaper than all)."""
    return {**state, **{k: _copy(state[k]) for k in keys}}
