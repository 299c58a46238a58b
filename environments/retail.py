"""Online store: cancellations, returns, exchanges and address changes on a customer's orders.

Verification kind: final database state. The expected outcome (every order's status, items,
address and cancel reason, money moved per order and payment method, stock, gift-card
balances) is taken from the reference in `finalize_check`; any call sequence reaching it passes.
Levels add an exchange with a price difference, a name+zip login with a namesake and a
conditional refund destination, an out-of-stock fallback with a follow-up turn (address
change), and a second follow-up request (cancel the other pending order).
"""

from __future__ import annotations

import itertools
import random
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

_ID = {"type": "string", "minLength": 1}
_IDS = {"type": "array", "items": _ID, "minItems": 1, "uniqueItems": True}
_REASONS = ["no longer needed", "ordered by mistake"]
_OPEN = ("delivered", "return requested", "exchange requested")
_DATA = load_json("retail.json")
_PEOPLE = load_json("people.json")


def dollars(cents: int) -> float:
    return round(cents / 100, 2)


def money(cents: int) -> str:
    return f"${cents / 100:,.2f}"


def _norm(text: str) -> str:
    return " ".join(text.lower().replace(",", " ").replace(".", " ").split())


def _options_text(options: dict[str, str]) -> str:
    return ", ".join(f"{k} {v}" for k, v in options.items())


@register
class RetailFamily(EnvFamily):
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
        if key not in state[table]:
            raise ToolError(f"no {table[:-1]} {key}")
        return state[table][key]

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

    # -- generation ----------------------------------------------------------------------
    def build(self, rng: random.Random, difficulty: int) -> Draft:
        state: dict[str, Any] = {"customers": {}, "products": {}, "orders": {},
                                 "transactions": []}
        taken: dict[str, bool] = {}
        for spec in rng.sample(_DATA["products"], 8):
            self._add_product(state, rng, spec, taken)
        products = list(state["products"])
        for _ in range(rng.randint(2, 4)):  # other customers and their orders
            cid = self._add_customer(state, rng, taken)
            for _ in range(rng.randint(1, 2)):
                status = rng.choice(["pending", "shipped", "delivered", "delivered", "cancelled"])
                self._add_order(state, rng, cid, status, rng.sample(products, rng.randint(1, 3)),
                                taken)
        me = self._add_customer(state, rng, taken, gift_card=True)
        cust = state["customers"][me]
        ex_pid = rng.choice([p for p in products if self._wide_dim(state["products"][p])])
        mine = rng.sample([p for p in products if p != ex_pid], 6)
        card = next(pm for pm, m in cust["payment_methods"].items() if m["kind"] != "gift_card")
        orders = {"return": self._add_order(state, rng, me, "delivered", mine[0:2], taken, card),
                  "exchange": self._add_order(state, rng, me, "delivered", [ex_pid, mine[2]],
                                              taken, card),
                  "address": self._add_order(state, rng, me, "pending", [mine[3]], taken),
                  "cancel": self._add_order(state, rng, me, "pending", mine[4:6], taken)}
        returned, exchanged, moved = (self._item_view(state, state["orders"][orders[k]]["items"][0])
                                      for k in ("return", "exchange", "address"))
        product = state["products"][ex_pid]
        dim = self._wide_dim(product)
        first_choice, fallback = rng.sample([v for v in product["options"][dim]
                                             if v != exchanged["options"][dim]], 2)
        for value in (first_choice, fallback):
            self._find_variant(product, exchanged["options"], dim, value)["stock"] = rng.randint(
                1, 9)
        street, (city, st, zip_) = rng.choice(_DATA["streets"]), rng.choice(_DATA["cities"])
        p: dict[str, Any] = {
            "customer": me, "first": cust["first_name"], "last": cust["last_name"],
            "email": cust["email"], "zip": cust["address"]["zip"], "orders": orders,
            "return_name": returned["name"], "return_options": returned["options"],
            "exchange_name": exchanged["name"], "dim": dim, "first_choice": first_choice,
            "fallback": fallback, "address_product": moved["name"], "threshold": None,
            "new_address": {"address1": f"{rng.randint(10, 9899)} {street}", "city": city,
                            "state": st, "zip": zip_}}
        # Level additions come after the base scenario, so higher levels extend it.
        if difficulty >= 2:  # a shipped order holding the same product: it cannot be exchanged
            orders["decoy"] = self._add_order(state, rng, me, "shipped", [ex_pid, mine[5]], taken)
        if difficulty >= 3:  # a namesake in another zip code, and a refund threshold
            twin = self._add_customer(state, rng, taken, name=(p["first"], p["last"]),
                                      avoid_zip=p["zip"])
            self._add_order(state, rng, twin, "delivered", [mine[0]], taken)
            delta = rng.choice([-1, 1]) * rng.randint(3, 40) * 100
            p["threshold"] = max(100, (round(returned["price"] * 100) + delta) // 100 * 100)
        if difficulty >= 4 and rng.random() < 0.5:  # the first choice sold out: use the fallback
            self._find_variant(product, exchanged["options"], dim, first_choice)["stock"] = 0
        return self._draft(state, difficulty, p)

    @staticmethod
    def _wide_dim(product: dict) -> str:
        """The first option with three values (an exchange needs two other values)."""
        return next((d for d, values in product["options"].items() if len(values) >= 3), "")

    @staticmethod
    def _find_variant(product: dict, options: dict, dim: str, value: str) -> dict:
        want = [value if d == dim else options[d] for d in product["options"]]
        return next(v for v in product["variants"].values() if v["options"] == want)

    @staticmethod
    def _new_id(rng: random.Random, taken: dict, prefix: str, digits: int) -> str:
        while True:
            key = f"{prefix}{rng.randrange(10 ** (digits - 1), 10 ** digits)}"
            if key not in taken:
                taken[key] = True
                return key

    def _add_product(self, state: dict, rng: random.Random, spec: dict, taken: dict) -> None:
        """A product carrying up to three values of each option, every combination in stock."""
        options = {}
        for dim, values in spec["options"].items():
            keep = rng.sample(values, min(3, len(values)))
            options[dim] = [v for v in values if v in keep]
        variants = {self._new_id(rng, taken, "", 10): {
            "options": list(values), "stock": rng.choice([0, *range(1, 15)]),
            "price": round((spec["price"] + sum(spec["adjust"].get(v, 0) for v in values)) * 100)}
            for values in itertools.product(*options.values())}
        state["products"][self._new_id(rng, taken, "", 9)] = {
            "name": spec["name"], "category": spec["category"], "options": options,
            "variants": variants}

    def _add_customer(self, state: dict, rng: random.Random, taken: dict,
                      gift_card: bool = False, name: tuple[str, str] | None = None,
                      avoid_zip: str = "") -> str:
        used = [(c["first_name"], c["last_name"]) for c in state["customers"].values()]
        first, last = name or ("", "")
        while not first or (not name and (first, last) in used):
            first, last = rng.choice(_PEOPLE["first_names"]), rng.choice(_PEOPLE["last_names"])
        street = rng.choice(_DATA["streets"])
        city, st, zip_ = rng.choice([c for c in _DATA["cities"] if c[2] != avoid_zip])
        methods: dict[str, dict] = {self._new_id(rng, taken, "credit_card_", 7): {
            "kind": "credit_card", "brand": rng.choice(_DATA["card_brands"]),
            "last4": f"{rng.randint(0, 9999):04d}"}}
        if rng.random() < 0.4:
            methods[self._new_id(rng, taken, "paypal_", 7)] = {"kind": "paypal"}
        if gift_card or rng.random() < 0.5:
            methods[self._new_id(rng, taken, "gift_card_", 7)] = {
                "kind": "gift_card", "balance": rng.randint(20, 300) * 100}
        cid = self._new_id(rng, taken, f"{first.lower()}_{last.lower()}_", 4)
        state["customers"][cid] = {
            "first_name": first, "last_name": last, "payment_methods": methods, "orders": [],
            "email": f"{first.lower()}.{last.lower()}{rng.randint(1, 99)}@"
                     + rng.choice(_DATA["email_domains"]),
            "address": {"address1": f"{rng.randint(10, 9899)} {street}", "city": city,
                        "state": st, "zip": zip_}}
        return cid

    def _add_order(self, state: dict, rng: random.Random, cid: str, status: str,
                   product_ids: list[str], taken: dict, pm: str | None = None) -> str:
        items = []
        for pid in product_ids:
            iid, v = rng.choice(list(state["products"][pid]["variants"].items()))
            items.append({"item_id": iid, "product_id": pid, "price": v["price"],
                          "status": "ordered"})
        customer = state["customers"][cid]
        oid = self._new_id(rng, taken, "#W", 7)
        state["orders"][oid] = {
            "customer_id": cid, "status": status, "placed": f"2025-05-{rng.randint(1, 28):02d}",
            "payment_method_id": pm or rng.choice(list(customer["payment_methods"])),
            "items": items,
            "address": dict(customer["address"]), "cancel_reason": None}
        customer["orders"].append(oid)
        return oid

    def _draft(self, state: dict, difficulty: int, p: dict) -> Draft:
        who = (f"I'm {p['first']} {p['last']}, zip code {p['zip']}." if difficulty >= 3
               else f"My email is {p['email']}.")
        asks = [f"Hi! {who} I'd like to return the {p['return_name']} "
                f"({_options_text(p['return_options'])}) from my delivered order; please refund "
                "it to the original payment method."]
        if difficulty >= 3:
            asks.append(f"Actually, if that refund comes to more than {money(p['threshold'])}, "
                        "put it on my gift card instead.")
        if difficulty >= 2:
            asks.append(f"Also, please exchange the {p['exchange_name']} I received for the same "
                        f"one in {p['dim']} {p['first_choice']}, everything else unchanged; "
                        "settle any price difference with the payment method I used for that "
                        "order.")
        if difficulty >= 4:
            asks.append(f"If {p['first_choice']} is out of stock, {p['fallback']} is fine too.")
        ctx: dict[str, Any] = {}
        turns, solutions = [" ".join(asks)], [lambda box: self._solve_main(box, difficulty, p,
                                                                            ctx)]
        if difficulty >= 4:
            a = p["new_address"]
            turns.append(f"Oh, and please ship my pending order with the {p['address_product']} "
                         f"to {a['address1']}, {a['city']}, {a['state']} {a['zip']}."
                         + (" And cancel my other pending order too, I ordered it by mistake."
                            if difficulty >= 5 else ""))
            solutions.append(lambda box: self._solve_follow_up(box, difficulty, p, ctx))
        return Draft(state=state, system_prompt=_DATA["policy"], user_turns=turns,
                     solutions=solutions,
                     check={"customer": p["customer"], "orders": p["orders"]},
                     metadata={"constraints": difficulty + (difficulty >= 4),
                               "distractors": min(difficulty - 1, 3)})

    def _solve_main(self, box: Toolbox, difficulty: int, p: dict, ctx: dict) -> str:
        profile: dict[str, Any] = {}
        if difficulty >= 3:
            cid = box("find_customer_by_name_zip", first_name=p["first"], last_name=p["last"],
                      zip=p["zip"])["customer_id"]
            orders, profile = box.parallel(("list_orders", {"customer_id": cid}),
                                           ("get_customer", {"customer_id": cid}))
        else:
            cid = box("find_customer_by_email", email=p["email"])["customer_id"]
            orders = box("list_orders", customer_id=cid)
        ctx["orders"] = orders
        wanted = [p["return_name"], p["exchange_name"]][: 2 if difficulty >= 2 else 1]
        ids = [next(o["order_id"] for o in orders
                    if o["status"] == "delivered" and name in o["products"]) for name in wanted]
        details = box.parallel(*[("get_order", {"order_id": oid}) for oid in ids])
        item = next(i for i in details[0]["items"] if i["name"] == p["return_name"])
        method = details[0]["payment_method_id"]
        if p["threshold"] is not None and round(item["price"] * 100) > p["threshold"]:
            method = next(m["payment_method_id"] for m in profile["payment_methods"]
                          if m["kind"] == "gift_card")
        refund = box("return_items", order_id=ids[0], item_ids=[item["item_id"]],
                     refund_method_id=method)["refunded"]
        done = [f"returned the {p['return_name']} with a refund of ${refund:,.2f} to {method}"]
        if difficulty >= 2:
            old = next(i for i in details[1]["items"] if i["name"] == p["exchange_name"])
            variants = box("get_product", product_id=old["product_id"])["variants"]
            choices = [next(v for v in variants if v["options"] == {**old["options"],
                                                                   p["dim"]: value})
                       for value in (p["first_choice"], p["fallback"])]
            new = choices[1] if difficulty >= 4 and choices[0]["stock"] < 1 else choices[0]
            box("exchange_items", order_id=ids[1], item_ids=[old["item_id"]],
                new_item_ids=[new["item_id"]], payment_method_id=details[1]["payment_method_id"])
            done.append(f"exchanged the {p['exchange_name']} for "
                        f"{_options_text(new['options'])}")
        return "Done: " + "; ".join(done) + "."

    def _solve_follow_up(self, box: Toolbox, difficulty: int, p: dict, ctx: dict) -> str:
        pending = [o for o in ctx["orders"] if o["status"] == "pending"]
        target = next(o for o in pending if p["address_product"] in o["products"])
        a = p["new_address"]
        box("modify_shipping_address", order_id=target["order_id"], address1=a["address1"],
            city=a["city"], state_code=a["state"], zip=a["zip"])
        answer = f"Order {target['order_id']} will ship to the new address."
        if difficulty >= 5:
            other = next(o for o in pending if o["order_id"] != target["order_id"])
            box("cancel_order", order_id=other["order_id"], reason="ordered by mistake")
            answer += f" Order {other['order_id']} is cancelled and refunded."
        return answer

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


