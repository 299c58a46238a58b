"""The warehouse family: the registered class and its tools."""

from __future__ import annotations

from environments.warehouse.common import _CATEGORIES, _ID, _QTY, _REASONS
from environments.warehouse.scenario import WarehouseScenario
from environments.warehouse.verify import WarehouseVerifier
from synth.env import EnvFamily, ToolError, register, tool


@register
class WarehouseFamily(WarehouseScenario, WarehouseVerifier, EnvFamily):
    name = "warehouse"
    description = "Warehouse inventory: stock value, reorder points, supplier choice, transfers."
    verification = "answer"

    # -- tools ---------------------------------------------------------------------------
    @tool("List the company's warehouses with their ids, names and cities.")
    def list_warehouses(self, state: dict) -> list[dict]:
        return [{"warehouse_id": k, **v} for k, v in state["warehouses"].items()]

    @tool("Search SKUs by text in the name or id and/or by category; returns unit costs.",
          {"query": {"type": "string"}, "category": {"type": "string", "enum": _CATEGORIES}})
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
          {"warehouse_id": _ID, "category": {"type": "string", "enum": _CATEGORIES}})
    def list_stock(self, state: dict, warehouse_id: str, category: str | None = None) -> list[dict]:
        wh = self._warehouse(state, warehouse_id)
        return [{"sku": sid, "name": state["skus"][sid]["name"], **rows[wh]}
                for sid, rows in state["stock"].items()
                if wh in rows and category in (None, state["skus"][sid]["category"])]

    @tool("Get a SKU's stock in every warehouse that holds it (or in one warehouse).",
          {"sku": _ID, "warehouse_id": _ID})
    def get_stock(self, state: dict, sku: str, warehouse_id: str | None = None) -> list[dict]:
        sid, _ = self._sku(state, sku)
        only = self._warehouse(state, warehouse_id) if warehouse_id else None
        return [{"warehouse_id": wh, **row} for wh, row in state["stock"].get(sid, {}).items()
                if only in (None, wh)]

    @tool("List stock rows below their reorder point, in one warehouse or everywhere.",
          {"warehouse_id": _ID})
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
                                                       "maximum": 100}})
    def list_movements(self, state: dict, sku: str | None = None,
                       warehouse_id: str | None = None, limit: int = 20) -> list[dict]:
        sid = self._sku(state, sku)[0] if sku else None
        wh = self._warehouse(state, warehouse_id) if warehouse_id else None
        rows = [m for m in state["movements"]
                if sid in (None, m["sku"]) and wh in (None, m["warehouse_id"])]
        return rows[-limit:]

    @tool("List purchase orders, optionally for one SKU.", {"sku": _ID})
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
