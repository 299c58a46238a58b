"""Retail banking: transfers under daily limits, bill payments, card freezes.

Verification kind: final database state (balances and statuses of every account, the bills
paid) plus, at the top level, a computed answer (the customer's total balance).
Levels add a conditional payment rule, a namesake distractor and a daily-limit rule, a total to
report, and a follow-up request (multi-turn).
"""

from __future__ import annotations

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
    cents_in,
    dollars,
    lookup,
    money,
    register,
    tool,
)

_MONEY = {"type": "number", "exclusiveMinimum": 0, "description": "Amount in dollars"}


@register
class BankFamily(EnvFamily):
    name = "bank"
    description = "Retail banking: transfers with daily limits, bill payments, card freezes."
    multi_turn = True
    verification = "state"

    # -- tools ---------------------------------------------------------------------------
    @tool("Find customers whose full name contains the text (case-insensitive).",
          {"name": {"type": "string", "minLength": 1}})
    def find_customers(self, state: dict, name: str) -> list[dict]:
        needle = name.lower()
        return [
            {"customer_id": cid, "name": c["name"], "birth_year": c["birth_year"]}
            for cid, c in state["customers"].items()
            if needle in c["name"].lower()
        ]

    @tool("Get a customer's profile: tier, daily transfer limit and amount transferred today.",
          {"customer_id": {"type": "string"}})
    def get_customer(self, state: dict, customer_id: str) -> dict:
        c = self._customer(state, customer_id)
        limit = self.tiers[c["tier"]]["daily_transfer_limit"] * 100
        return {
            "customer_id": customer_id, "name": c["name"], "tier": c["tier"],
            "daily_transfer_limit": dollars(limit),
            "transferred_today": dollars(c["transferred_today"]),
        }

    @tool("List a customer's accounts with balances.", {"customer_id": {"type": "string"}})
    def list_accounts(self, state: dict, customer_id: str) -> list[dict]:
        self._customer(state, customer_id)
        return [
            self._account_view(aid, a)
            for aid, a in state["accounts"].items() if a["owner"] == customer_id
        ]

    @tool("Get one account's details.", {"account_id": {"type": "string"}})
    def get_account(self, state: dict, account_id: str) -> dict:
        return self._account_view(account_id, self._account(state, account_id))

    @tool("List the most recent ledger entries of an account.",
          {"account_id": {"type": "string"},
           "limit": {"type": "integer", "minimum": 1, "maximum": 50}})
    def list_transactions(self, state: dict, account_id: str, limit: int = 10) -> list[dict]:
        self._account(state, account_id)
        rows = [e for e in state["ledger"] if account_id in (e.get("from"), e.get("to"))]
        return [{**e, "amount": dollars(e["amount"])} for e in rows[-limit:]]

    @tool("List the payees registered for a customer's bill payments.",
          {"customer_id": {"type": "string"}})
    def list_payees(self, state: dict, customer_id: str) -> list[str]:
        return list(self._customer(state, customer_id)["payees"])

    @tool("Transfer money between two accounts. Counts against the sender's daily limit.",
          {"from_account_id": {"type": "string"}, "to_account_id": {"type": "string"},
           "amount": _MONEY, "memo": {"type": "string"}}, writes=True)
    def transfer(self, state: dict, from_account_id: str, to_account_id: str, amount: float,
                 memo: str = "") -> dict:
        cents = round(amount * 100)
        src, dst = self._account(state, from_account_id), self._account(state, to_account_id)
        if from_account_id == to_account_id:
            raise ToolError("source and destination accounts are the same")
        for aid, acct in ((from_account_id, src), (to_account_id, dst)):
            if acct["status"] != "active":
                raise ToolError(f"account {aid} is {acct['status']}")
        owner = state["customers"][src["owner"]]
        limit = self.tiers[owner["tier"]]["daily_transfer_limit"] * 100
        if owner["transferred_today"] + cents > limit:
            left = limit - owner["transferred_today"]
            raise ToolError(f"daily transfer limit exceeded: {money(left)} left today")
        if src["balance"] < cents:
            raise ToolError(f"insufficient funds in {from_account_id}")
        src["balance"] -= cents
        dst["balance"] += cents
        owner["transferred_today"] += cents
        entry = self._post(state, "transfer", from_account_id, to_account_id, cents, memo)
        return {"status": "completed", "transaction_id": entry["id"],
                "new_balance": dollars(src["balance"])}

    @tool("Pay a registered payee from an account.",
          {"account_id": {"type": "string"}, "payee": {"type": "string"}, "amount": _MONEY},
          writes=True)
    def pay_bill(self, state: dict, account_id: str, payee: str, amount: float) -> dict:
        cents = round(amount * 100)
        acct = self._account(state, account_id)
        if acct["status"] != "active":
            raise ToolError(f"account {account_id} is {acct['status']}")
        if payee not in state["customers"][acct["owner"]]["payees"]:
            raise ToolError(f"{payee!r} is not a registered payee of this customer")
        if acct["balance"] < cents:
            raise ToolError(f"insufficient funds in {account_id}")
        acct["balance"] -= cents
        entry = self._post(state, "bill", account_id, payee, cents, "")
        return {"status": "paid", "transaction_id": entry["id"],
                "new_balance": dollars(acct["balance"])}

    @tool("Freeze an account (e.g. a lost card). Frozen accounts cannot send or receive.",
          {"account_id": {"type": "string"}, "reason": {"type": "string"}}, writes=True)
    def freeze_account(self, state: dict, account_id: str, reason: str) -> dict:
        acct = self._account(state, account_id)
        acct["status"] = "frozen"
        return {"account_id": account_id, "status": "frozen"}

    # -- helpers over the state ----------------------------------------------------------
    @property
    def tiers(self) -> dict[str, Any]:
        return _DATA["tiers"]

    @staticmethod
    def _customer(state: dict, customer_id: str) -> dict:
        return lookup(state["customers"], customer_id, "customer")

    @staticmethod
    def _account(state: dict, account_id: str) -> dict:
        return lookup(state["accounts"], account_id, "account")

    @staticmethod
    def _account_view(account_id: str, a: dict) -> dict:
        return {"account_id": account_id, "owner": a["owner"], "type": a["type"],
                "balance": dollars(a["balance"]), "status": a["status"]}

    @staticmethod
    def _post(state: dict, kind: str, src: str, dst: str, cents: int, memo: str) -> dict:
        entry = {"id": f"T{len(state['ledger']) + 1:05d}", "kind": kind, "from": src, "to": dst,
                 "amount": cents, "memo": memo}
        state["ledger"].append(entry)
        return entry

    # -- generation ----------------------------------------------------------------------
    def build(self, rng: random.Random, difficulty: int) -> Draft:
        people = _PEOPLE
        state: dict[str, Any] = {"customers": {}, "accounts": {}, "ledger": []}
        first, last = rng.choice(people["first_names"]), rng.choice(people["last_names"])
        me = self._add_customer(state, rng, f"{first} {last}", rng.randint(1950, 2002))
        for _ in range(rng.randint(6, 12)):  # other customers of the bank
            name = f"{rng.choice(people['first_names'])} {rng.choice(people['last_names'])}"
            self._add_customer(state, rng, name, rng.randint(1950, 2002))
        mine = [a for a, v in state["accounts"].items() if v["owner"] == me]
        checking, savings = mine[0], mine[1]
        bal = state["accounts"]
        move = rng.randint(5, 40) * 1000  # cents, well under every daily limit
        bill_payee = rng.choice(state["customers"][me]["payees"])
        bill = rng.randint(40, 300) * 100 + rng.randint(0, 99)
        threshold = bal[checking]["balance"] - move - rng.choice([-1, 1]) * rng.randint(5, 50) * 100
        friend = rng.choice([c for c in state["customers"] if c != me])
        friend_acct = next(a for a, v in bal.items() if v["owner"] == friend)
        # Level additions come after the base scenario, so higher levels extend it.
        limit = self.tiers[state["customers"][me]["tier"]]["daily_transfer_limit"] * 100
        gift = rng.randint(2, 20) * 5000
        # Level additions come after the base scenario, so higher levels extend it.
        if difficulty >= 4:  # a namesake distractor, told apart by birth year
            twin_year = state["customers"][me]["birth_year"] + rng.choice([-7, 5, 11])
            self._add_customer(state, rng, state["customers"][me]["name"], twin_year)
            used = rng.randint(0, (limit - move) // 10000) * 10000
            state["customers"][me]["transferred_today"] = used
        lost = mine[-1]
        plan = _Plan(me, checking, savings, move, bill_payee, bill, threshold, friend_acct,
                     gift, limit, lost)
        return self._draft(state, difficulty, plan)

    def _add_customer(self, state: dict, rng: random.Random, name: str, year: int) -> str:
        cid = f"C{1001 + len(state['customers'])}"
        tier = rng.choice(list(self.tiers))
        payees = sorted(p["name"] for p in rng.sample(_DATA["payees"], 4))
        state["customers"][cid] = {"name": name, "birth_year": year, "tier": tier,
                                   "transferred_today": 0, "payees": payees}
        types = ["checking", "savings", *rng.sample(_DATA["account_types"][2:], rng.randint(0, 2))]
        for kind in types:
            aid = f"A{20001 + len(state['accounts'])}"
            state["accounts"][aid] = {"owner": cid, "type": kind, "status": "active",
                                      "balance": rng.randint(2000, 9000) * 100 + rng.randint(0, 99)}
        return cid

    def _draft(self, state: dict, difficulty: int, p: _Plan) -> Draft:
        me = state["customers"][p.me]
        system = (
            "You are the virtual assistant of Northbank. Use the tools to act on the bank's "
            f"systems. The authenticated customer is {me['name']}, born {me['birth_year']}. "
            "Amounts are in US dollars."
        )
        asks = [f"Please move {money(p.move)} from my checking account to my savings."]
        constraints = 1
        if difficulty >= 2:
            asks.append(f"Then pay my {p.bill_payee} bill of {money(p.bill)}.")
            constraints += 1
        if difficulty >= 3:
            asks.append(f"Pay it from checking if checking still holds at least "
                        f"{money(p.threshold)} after the transfer, otherwise from savings.")
            constraints += 1
        if difficulty >= 4:
            asks.append(f"Also send {money(p.gift)} to account {p.friend_acct} as a gift; "
                        "if that would go over my daily transfer limit, send as much as the "
                        "limit still allows.")
            constraints += 2
        turns = [" ".join(asks)]
        solutions = [lambda box: self._solve_main(box, difficulty, p, me["name"], me["birth_year"])]
        if difficulty >= 3:
            ask = f"Thanks. One more thing: I lost the card of account {p.lost}, please freeze it."
            if difficulty >= 5:
                ask += " Then tell me my total balance across all my accounts."
                constraints += 1
            turns.append(ask)
            solutions.append(lambda box: self._solve_freeze(box, p, difficulty))
            constraints += 1
        return Draft(state=state, system_prompt=system, user_turns=turns, solutions=solutions,
                     check={"customer": p.me, "total_required": difficulty >= 5},
                     metadata={"constraints": constraints,
                               "distractors": 1 if difficulty >= 4 else 0})

    def _solve_main(self, box: Toolbox, difficulty: int, p: _Plan, name: str, year: int) -> str:
        found = [c for c in box("find_customers", name=name) if c["birth_year"] == year]
        cid = found[0]["customer_id"]
        accounts = {a["type"]: a for a in box("list_accounts", customer_id=cid)}
        chk, sav = accounts["checking"]["account_id"], accounts["savings"]["account_id"]
        done = [f"moved {money(p.move)} to savings"]
        box("transfer", from_account_id=chk, to_account_id=sav, amount=dollars(p.move))
        if difficulty >= 2:
            source = chk
            if difficulty >= 3:
                left = round(box("get_account", account_id=chk)["balance"] * 100)
                source = chk if left >= p.threshold else sav
            box("pay_bill", account_id=source, payee=p.bill_payee, amount=dollars(p.bill))
            done.append(f"paid {p.bill_payee} {money(p.bill)}")
        if difficulty >= 4:
            profile = box("get_customer", customer_id=cid)
            room = round((profile["daily_transfer_limit"] - profile["transferred_today"]) * 100)
            gift = min(p.gift, room)
            if gift > 0:
                box("transfer", from_account_id=chk, to_account_id=p.friend_acct,
                    amount=dollars(gift))
            done.append(f"sent {money(gift)} to {p.friend_acct}")
        return "Done: " + "; ".join(done) + "."

    def _solve_freeze(self, box: Toolbox, p: _Plan, difficulty: int) -> str:
        box("freeze_account", account_id=p.lost, reason="lost card")
        answer = f"Account {p.lost} is now frozen."
        if difficulty >= 5:
            cid = box("get_account", account_id=p.lost)["owner"]
            total = sum(round(a["balance"] * 100) for a in box("list_accounts", customer_id=cid))
            answer += f" Your total balance is {money(total)}."
        return answer

    # -- verification --------------------------------------------------------------------
    def outcome(self, task: Task, state: Any) -> dict[str, Any]:
        """Every account's balance and status, every bill paid, the customer's total."""
        bills = sorted([e["from"], e["to"], e["amount"]] for e in state["ledger"]
                       if e["kind"] == "bill")
        total = sum(v["balance"] for v in state["accounts"].values()
                    if v["owner"] == task.check["customer"])
        accounts = {aid: {"balance": v["balance"], "status": v["status"]}
                    for aid, v in state["accounts"].items()}
        return {"accounts": accounts, "bills": bills, "total": total}

    def answer_problem(self, task: Task, answer: str) -> str | None:
        total = task.check["expected"]["total"]
        if task.check["total_required"] and total not in cents_in(answer, signed=True):
            return f"answer does not state the total {money(total)}"
        return None

    def corruptions(self, task: Task, state: Any, answer: str,
                    rng: random.Random) -> list[Corruption]:
        me = task.check["customer"]
        a, b = [a for a, v in state["accounts"].items() if v["owner"] == me][:2]

        def swap(new: dict) -> None:
            first, second = new["accounts"][a], new["accounts"][b]
            first["balance"], second["balance"] = second["balance"] + 1, first["balance"]

        out = [Corruption.edit("swapped_entity", state, answer, swap, "accounts")]
        if task.check["total_required"]:
            total = task.check["expected"]["total"]
            out.append(Corruption("wrong_answer", state,
                                  answer.replace(money(total), money(total + 100))))
        return out


class _Plan:
    """The scenario's numbers, drawn once so that every level shares them."""

    def __init__(self, me: str, checking: str, savings: str, move: int, bill_payee: str,
                 bill: int, threshold: int, friend_acct: str, gift: int, limit: int,
                 lost: str) -> None:
        self.me, self.checking, self.savings, self.move = me, checking, savings, move
        self.bill_payee, self.bill, self.threshold = bill_payee, bill, threshold
        self.friend_acct, self.gift, self.limit, self.lost = friend_acct, gift, limit, lost


_DATA = load_json("bank.json")
_PEOPLE = load_json("people.json")
