"""Scenario generation, prompts and the reference solution of the retail family."""

from __future__ import annotations

import itertools
import random
from typing import Any

from environments.retail.common import _DATA, _PEOPLE, _options_text
from synth.env import Draft, Toolbox, money


class RetailScenario:
    """Scenario generation, prompts and the reference solution of `RetailFamily` (a mixin)."""

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
