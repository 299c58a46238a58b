"""The retail family: the registered class and its tools."""

from __future__ import annotations

from environments.retail.common import _ID, _IDS, _OPEN, _REASONS, _norm
from environments.retail.scenario import RetailScenario
from environments.retail.verify import RetailVerifier
from synth.env import EnvFamily, ToolError, dollars, lookup, register, tool


@register
class RetailFamily(RetailScenario, RetailVerifier, EnvFamily):
    name = "retail"
    description = "Online store orders: cancellations, returns, exchanges and address changes."
    multi_turn = True
    verification = "state"

    # -- tools ---------------------------------------------------------------------------
    @tool("Find a customer id by email address (case-insensitive).", {"email": _ID})
    def find_customer_by_email(self, state: dict, email: str) -> dict:
        for cid, c in state["customers"].items():
            if c["email"].lower() == email.strip().lower():
                return {"customer_id": cid}
        raise ToolError(f"no customer with email {email}")

    @tool("Find a customer id by first name, last name and zip code.",
          {"first_name": _ID, "last_name": _ID, "zip": _ID})
    def find_customer_by_name_zip(self, state: dict, first_name: str, last_name: str,
                                  zip: str) -> dict:
        for cid, c in state["customers"].items():
            if (_norm(c["first_name"]), _norm(c["last_name"]), c["address"]["zip"]) == (
                    _norm(first_name), _norm(last_name), zip.strip()):
                return {"customer_id": cid}
        raise ToolError("no customer with that name and zip code")

    @tool("Get a customer's profile: name, email, default address, payment methods (gift card "
          "balances in dollars) and order ids.", {"customer_id": _ID})
    def get_customer(self, state: dict, customer_id: str) -> dict:
        c = self._row(state, "customers", customer_id)
        methods = [{"payment_method_id": pm, **{k: dollars(v) if k == "balance" else v
                                                for k, v in m.items()}}
                   for pm, m in c["payment_methods"].items()]
        return {"customer_id": customer_id, "first_name": c["first_name"],
                "last_name": c["last_name"], "email": c["email"], "address": c["address"],
                "payment_methods": methods, "order_ids": list(c["orders"])}

    @tool("List a customer's orders: id, status, date placed and the product names in each.",
          {"customer_id": _ID})
    def list_orders(self, state: dict, customer_id: str) -> list[dict]:
        c = self._row(state, "customers", customer_id)
        return [{"order_id": oid, "status": o["status"], "placed": o["placed"],
                 "products": [state["products"][i["product_id"]]["name"] for i in o["items"]]}
                for oid in c["orders"] for o in [state["orders"][oid]]]

    @tool("Get an order's details: status, items (item id, product id, options, price, item "
          "status), total, payment method and shipping address.", {"order_id": _ID})
    def get_order(self, state: dict, order_id: str) -> dict:
        o = self._row(state, "orders", order_id)
        items = [self._item_view(state, i) for i in o["items"]]
        return {"order_id": order_id, "customer_id": o["customer_id"], "status": o["status"],
                "placed": o["placed"], "items": items,
                "total": dollars(sum(i["price"] for i in o["items"])),
                "payment_method_id": o["payment_method_id"], "shipping_address": o["address"]}

    @tool("Get a product and all its variants: item id, options, price and units in stock.",
          {"product_id": _ID})
    def get_product(self, state: dict, product_id: str) -> dict:
        p = self._row(state, "products", product_id)
        variants = [{"item_id": iid, "options": dict(zip(p["options"], v["options"], strict=True)),
                     "price": dollars(v["price"]),
                     "stock": v["stock"]} for iid, v in p["variants"].items()]
        return {"product_id": product_id, "name": p["name"], "category": p["category"],
                "variants": variants}

    @tool("Search products whose name or category contains the text (case-insensitive).",
          {"query": _ID})
    def search_products(self, state: dict, query: str) -> list[dict]:
        q = query.lower()
        return [{"product_id": pid, "name": p["name"], "category": p["category"]}
                for pid, p in state["products"].items()
                if q in p["name"].lower() or q in p["category"]]

    @tool("Cancel a pending order. The full total is refunded to the order's payment method "
          "and the items go back into stock.",
          {"order_id": _ID, "reason": {"type": "string", "enum": _REASONS}}, writes=True)
    def cancel_order(self, state: dict, order_id: str, reason: str) -> dict:
        o = self._row(state, "orders", order_id)
        if o["status"] != "pending":
            raise ToolError(f"order {order_id} is {o['status']}; only pending orders can be "
                            "cancelled")
        for item in o["items"]:
            self._variant(state, item)["stock"] += 1
        total = sum(i["price"] for i in o["items"])
        self._move(state, order_id, o["payment_method_id"], -total)
        o["status"], o["cancel_reason"] = "cancelled", reason
        return {"order_id": order_id, "status": "cancelled", "refunded": dollars(total)}

    @tool("Return items of a delivered order. The refund goes to the order's original payment "
          "method or to one of the customer's gift cards.",
          {"order_id": _ID, "item_ids": _IDS, "refund_method_id": _ID}, writes=True)
    def return_items(self, state: dict, order_id: str, item_ids: list[str],
                     refund_method_id: str) -> dict:
        o, items = self._open_items(state, order_id, item_ids)
        method = self._method(state, o, refund_method_id)
        if refund_method_id != o["payment_method_id"] and method["kind"] != "gift_card":
            raise ToolError("refunds go to the original payment method or a gift card")
        amount = sum(i["price"] for i in items)
        self._move(state, order_id, refund_method_id, -amount)
        for item in items:
            item["status"] = "returned"
        o["status"] = "return requested"
        return {"order_id": order_id, "status": o["status"], "refunded": dollars(amount)}

    @tool("Exchange items of a delivered order for other variants (other options) of the same "
          "products. The price difference is charged to, or refunded to, the payment method.",
          {"order_id": _ID, "item_ids": _IDS, "new_item_ids": _IDS, "payment_method_id": _ID},
          writes=True)
    def exchange_items(self, state: dict, order_id: str, item_ids: list[str],
                       new_item_ids: list[str], payment_method_id: str) -> dict:
        o, items = self._open_items(state, order_id, item_ids)
        if len(new_item_ids) != len(items):
            raise ToolError("give exactly one new item id per exchanged item")
        self._method(state, o, payment_method_id)
        product_variants = [state["products"][i["product_id"]]["variants"] for i in items]
        for item, new, variants in zip(items, new_item_ids, product_variants, strict=True):
            if new not in variants or new == item["item_id"]:
                raise ToolError(f"{new} is not another variant of {item['item_id']}'s product")
            if variants[new]["stock"] < 1:
                raise ToolError(f"item {new} is out of stock")
        diff = sum(v[n]["price"] for v, n in zip(product_variants, new_item_ids, strict=True))
        diff -= sum(i["price"] for i in items)
        self._move(state, order_id, payment_method_id, diff)
        for item, new, variants in zip(items, new_item_ids, product_variants, strict=True):
            variants[new]["stock"] -= 1
            item["status"], item["exchanged_for"] = "exchanged", new
        o["status"] = "exchange requested"
        return {"order_id": order_id, "status": o["status"], "price_difference": dollars(diff)}

    @tool("Change the shipping address of a pending order.",
          {"order_id": _ID, "address1": _ID, "city": _ID,
           "state_code": {"type": "string", "minLength": 2, "description": "US state, e.g. TX"},
           "zip": _ID}, writes=True)
    def modify_shipping_address(self, state: dict, order_id: str, address1: str, city: str,
                                state_code: str, zip: str) -> dict:
        o = self._row(state, "orders", order_id)
        if o["status"] != "pending":
            raise ToolError(f"order {order_id} is {o['status']}; only pending orders can change")
        o["address"] = {"address1": address1, "city": city, "state": state_code, "zip": zip}
        return {"order_id": order_id, "shipping_address": o["address"]}

    # -- helpers over the state ----------------------------------------------------------
    @staticmethod
    def _row(state: dict, table: str, key: str) -> dict:
        return lookup(state[table], key, table[:-1])

    @staticmethod
    def _variant(state: dict, item: dict) -> dict:
        return state["products"][item["product_id"]]["variants"][item["item_id"]]

    @staticmethod
    def _item_view(state: dict, item: dict) -> dict:
        product = state["products"][item["product_id"]]
        values = product["variants"][item["item_id"]]["options"]
        return {**item, "name": product["name"], "price": dollars(item["price"]),
                "options": dict(zip(product["options"], values, strict=True))}

    def _open_items(self, state: dict, order_id: str, item_ids: list[str]) -> tuple[dict, list]:
        o = self._row(state, "orders", order_id)
        if o["status"] not in _OPEN:
            raise ToolError(f"order {order_id} is {o['status']}; only delivered orders qualify")
        by_id = {i["item_id"]: i for i in o["items"]}
        for iid in item_ids:
            if by_id.get(iid, {}).get("status") != "ordered":
                raise ToolError(f"item {iid} is not an open item of order {order_id}")
        return o, [by_id[i] for i in item_ids]

    @staticmethod
    def _method(state: dict, order: dict, pm: str) -> dict:
        methods = state["customers"][order["customer_id"]]["payment_methods"]
        if pm not in methods:
            raise ToolError(f"payment method {pm} does not belong to this customer")
        return methods[pm]

    @staticmethod
    def _move(state: dict, order_id: str, pm: str, cents: int) -> None:
        """Charge (positive) or refund (negative) a payment method for an order."""
        owner = state["orders"][order_id]["customer_id"]
        method = state["customers"][owner]["payment_methods"][pm]
        if method["kind"] == "gift_card":
            if cents > method["balance"]:
                raise ToolError(f"gift card {pm} balance is too low")
            method["balance"] -= cents
        state["transactions"].append({"order_id": order_id, "payment_method_id": pm,
                                      "amount": cents})
