"""Public library circulation: returns with late fees, renewals, check-outs, holds and fines.

Verification kind: final database state restricted to the patron and the books involved (the
patron's loans, holds and fines, and the availability of those books), plus a computed amount
in the answer (the late fee charged, or at the top level the fines owed at the end).
Levels add a renewal, a borrow-or-hold conditional with a namesake title, a pay-if-over rule
with an other-edition decoy, and a follow-up renew-or-return request (multi-turn).
"""

from __future__ import annotations

import random
import re
from datetime import date, timedelta
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
_MONEY = re.compile(r"\d[\d,]*(?:\.\d+)?")
_COUNTS = ("loan_limit", "loan_days", "max_renewals")
_SHELF = 16  # catalog records per scenario, before level decoys
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ZERO_WORDS = ("nothing", "zero", "no fines", "don't owe", "do not owe", "owe no")


def money(cents: int) -> str:
    return f"${cents / 100:,.2f}"


def amounts_in(text: str) -> list[int]:
    """Every number in a free-form answer, read as dollars and returned in cents."""
    return [round(float(m.replace(",", "")) * 100) for m in _MONEY.findall(_DATE.sub(" ", text))]


@register
class LibraryFamily(EnvFamily):
    name = "library"
    description = "Public library circulation: returns, late fees, renewals, loans and holds."
    multi_turn = True
    verification = "state"

    # -- tools ---------------------------------------------------------------------------
    @tool("Search the catalog by title, author or both (case-insensitive substring match). "
          "Returns at most 20 books.",
          {"query": _ID, "field": {"type": "string", "enum": ["title", "author", "any"]},
           "genre": {"type": "string"}}, required=["query"])
    def search_catalog(self, state: dict, query: str, field: str = "any",
                       genre: str = "") -> list[dict]:
        fields = ["title", "author"] if field == "any" else [field]
        return [{"book_id": bid, **{k: b[k] for k in ("title", "author", "year")}}
                for bid, b in state["books"].items()
                if any(query.lower() in b[f].lower() for f in fields)
                and (not genre or genre.lower() in b["genres"])][:20]

    @tool("Get a book's record: ISBN, genres, copies and available copies per branch, and how "
          "many patrons are waiting on holds for it.", {"book_id": _ID})
    def get_book(self, state: dict, book_id: str) -> dict:
        b = self._row(state, "books", book_id)
        waiting = sum(1 for h in state["holds"].values()
                      if h["book_id"] == book_id and h["status"] == "active")
        availability = [{"branch_id": br, "copies": h["copies"], "available": h["available"]}
                        for br, h in state["holdings"][book_id].items()]
        return {"book_id": book_id, **b, "availability": availability, "holds_waiting": waiting}

    @tool("Get a patron's account: card type and its rules (loan limit, loan period, renewals, "
          "late fees, fine level that blocks borrowing), home branch and fines owed.",
          {"member_id": _ID})
    def get_member(self, state: dict, member_id: str) -> dict:
        m = self._row(state, "members", member_id)
        active = sum(1 for ln in state["loans"].values()
                     if ln["member"] == member_id and ln["status"] == "active")
        rules = {k: v if k in _COUNTS else v / 100  # money rules are stored in cents
                 for k, v in _DATA["card_types"][m["card_type"]].items()}
        return {"member_id": member_id, "name": m["name"], "card_type": m["card_type"],
                "home_branch": m["home_branch"], "fines_owed": m["fines"] / 100,
                "active_loans": active, **rules}

    @tool("List a patron's loans (active by default) with due dates and renewal counts.",
          {"member_id": _ID, "status": {"type": "string", "enum": ["active", "returned", "all"]}},
          required=["member_id"])
    def list_loans(self, state: dict, member_id: str, status: str = "active") -> list[dict]:
        self._row(state, "members", member_id)
        return [{"loan_id": lid, "book_id": ln["book_id"],
                 "title": state["books"][ln["book_id"]]["title"], "branch_id": ln["branch"],
                 "checked_out": ln["checked_out"], "due": ln["due"], "renewals": ln["renewals"],
                 "overdue": ln["status"] == "active" and ln["due"] < state["today"],
                 "status": ln["status"]}
                for lid, ln in state["loans"].items()
                if ln["member"] == member_id and status in ("all", ln["status"])]

    @tool("List the books a branch holds, with copies and available copies.",
          {"branch_id": {"type": "string", "enum": list(load_json("library.json")["branches"])},
           "genre": {"type": "string"}}, required=["branch_id"])
    def get_branch_inventory(self, state: dict, branch_id: str, genre: str = "") -> list[dict]:
        return [{"book_id": bid, "title": state["books"][bid]["title"],
                 "author": state["books"][bid]["author"], **h[branch_id]}
                for bid, h in state["holdings"].items() if branch_id in h
                and (not genre or genre.lower() in state["books"][bid]["genres"])]

    @tool("Check a book out to a patron at a branch. Needs an available copy there, the patron "
          "under the loan limit and fines not over the card's blocking level.",
          {"member_id": _ID, "book_id": _ID, "branch_id": _ID}, writes=True)
    def check_out(self, state: dict, member_id: str, book_id: str, branch_id: str) -> dict:
        m = self._row(state, "members", member_id)
        rule = _DATA["card_types"][m["card_type"]]
        self._row(state, "books", book_id)
        held = state["holdings"][book_id].get(branch_id)
        if held is None or held["available"] < 1:
            raise ToolError(f"no copy of {book_id} is available at {branch_id}")
        mine = [ln for ln in state["loans"].values()
                if ln["member"] == member_id and ln["status"] == "active"]
        if any(ln["book_id"] == book_id for ln in mine):
            raise ToolError("the patron already has this book on loan")
        if len(mine) >= rule["loan_limit"]:
            raise ToolError(f"loan limit of {rule['loan_limit']} reached")
        if m["fines"] > rule["borrowing_blocked_over"]:
            raise ToolError(f"fines of {money(m['fines'])} exceed "
                            f"{money(rule['borrowing_blocked_over'])}; borrowing is blocked")
        held["available"] -= 1
        due = str(date.fromisoformat(state["today"]) + timedelta(rule["loan_days"]))
        lid = f"L{9001 + len(state['loans'])}"
        state["loans"][lid] = {"member": member_id, "book_id": book_id, "branch": branch_id,
                               "checked_out": state["today"], "due": due, "renewals": 0,
                               "status": "active"}
        return {"loan_id": lid, "due": due}

    @tool("Return a loaned book today. A late fee (per day late, capped per item) is added to "
          "the patron's fines.", {"loan_id": _ID}, writes=True)
    def return_book(self, state: dict, loan_id: str) -> dict:
        ln = self._active_loan(state, loan_id)
        m = state["members"][ln["member"]]
        rule = _DATA["card_types"][m["card_type"]]
        late = max(0, (date.fromisoformat(state["today"]) - date.fromisoformat(ln["due"])).days)
        fee = min(late * rule["late_fee_per_day"], rule["max_fee_per_item"])
        ln.update(status="returned", returned=state["today"], fee=fee)
        m["fines"] += fee
        state["holdings"][ln["book_id"]][ln["branch"]]["available"] += 1
        return {"loan_id": loan_id, "days_late": late, "late_fee": fee / 100,
                "fines_owed": m["fines"] / 100}

    @tool("Renew a loan for another loan period from its due date. Not allowed when overdue, "
          "at the card's renewal maximum, or when another patron has a hold on the book.",
          {"loan_id": _ID}, writes=True)
    def renew_loan(self, state: dict, loan_id: str) -> dict:
        ln = self._active_loan(state, loan_id)
        rule = _DATA["card_types"][state["members"][ln["member"]]["card_type"]]
        if ln["due"] < state["today"]:
            raise ToolError("the loan is overdue and must be returned")
        if ln["renewals"] >= rule["max_renewals"]:
            raise ToolError(f"already renewed the maximum of {rule['max_renewals']} times")
        if any(h["book_id"] == ln["book_id"] and h["status"] == "active"
               and h["member"] != ln["member"] for h in state["holds"].values()):
            raise ToolError("another patron has a hold on this book")
        ln["due"] = str(date.fromisoformat(ln["due"]) + timedelta(rule["loan_days"]))
        ln["renewals"] += 1
        return {"loan_id": loan_id, "due": ln["due"], "renewals": ln["renewals"]}

    @tool("Place a hold for a patron on a book, for pickup at a branch.",
          {"member_id": _ID, "book_id": _ID, "branch_id": _ID}, writes=True)
    def place_hold(self, state: dict, member_id: str, book_id: str, branch_id: str) -> dict:
        self._row(state, "members", member_id)
        self._row(state, "books", book_id)
        if branch_id not in _DATA["branches"]:
            raise ToolError(f"no branch {branch_id}")
        queue = [h for h in state["holds"].values()
                 if h["book_id"] == book_id and h["status"] == "active"]
        if any(h["member"] == member_id for h in queue) or any(
                ln["member"] == member_id and ln["book_id"] == book_id
                and ln["status"] == "active" for ln in state["loans"].values()):
            raise ToolError("the patron already holds or has borrowed this book")
        hid = self._hold(state, member_id, book_id, branch_id)
        return {"hold_id": hid, "queue_position": len(queue) + 1}

    @tool("Record a fine payment by a patron (at most the amount owed).",
          {"member_id": _ID, "amount": {"type": "number", "exclusiveMinimum": 0}}, writes=True)
    def pay_fine(self, state: dict, member_id: str, amount: float) -> dict:
        m, cents = self._row(state, "members", member_id), round(amount * 100)
        if cents > m["fines"]:
            raise ToolError(f"payment exceeds the {money(m['fines'])} owed")
        m["fines"] -= cents
        return {"member_id": member_id, "paid": cents / 100, "fines_owed": m["fines"] / 100}

    # -- helpers over the state ----------------------------------------------------------
    @staticmethod
    def _row(state: dict, table: str, key: str) -> dict:
        if key not in state[table]:
            raise ToolError(f"no {table[:-1].replace('member', 'patron')} {key}")
        return state[table][key]

    @staticmethod
    def _active_loan(state: dict, loan_id: str) -> dict:
        ln = state["loans"].get(loan_id)
        if ln is None or ln["status"] != "active":
            raise ToolError(f"no active loan {loan_id}")
        return ln

    # -- generation ----------------------------------------------------------------------
    def build(self, rng: random.Random, difficulty: int) -> Draft:
        today = date(2024, 1, 8) + timedelta(rng.randint(0, 300))
        state: dict[str, Any] = {"today": str(today), "books": {}, "holdings": {},
                                 "members": {}, "loans": {}, "holds": {}}
        for record in rng.sample(_DATA["books"], _SHELF):
            self._add_book(state, rng, record)
        ids = list(state["books"])
        a, b, c, w = ids[:4]
        me = self._add_member(state, rng)
        card = state["members"][me]["card_type"]
        rule = _DATA["card_types"][card]
        late = rng.randint(2, 20)
        self._lend(state, rng, me, a, today - timedelta(late), rng.randint(0, rule["max_renewals"]))
        self._lend(state, rng, me, b, today + timedelta(rng.randint(1, 12)),
                   rng.randint(0, rule["max_renewals"] - 1))
        self._lend(state, rng, me, c, today + timedelta(rng.randint(1, 12)), 0)
        for filler in ids[4:4 + rng.randint(0, rule["loan_limit"] - 3)]:
            self._lend(state, rng, me, filler, today + timedelta(rng.randint(1, 20)), 0)
        fee = min(late * rule["late_fee_per_day"], rule["max_fee_per_item"])
        room = (rule["borrowing_blocked_over"] - fee) // 5  # fines stay under the block level
        state["members"][me]["fines"] = rng.randint(0, room) * 5
        for _ in range(rng.randint(3, 6)):  # other patrons, with loans and holds of their own
            other = self._add_member(state, rng)
            for bid in rng.sample(ids[3:], 2):
                self._lend(state, rng, other, bid, today + timedelta(rng.randint(-5, 20)), 0)
            self._hold(state, other, rng.choice([w, *ids[8:]]), rng.choice(list(_DATA["branches"])))
        home = state["members"][me]["home_branch"]
        spot = state["holdings"][w].setdefault(home, {"copies": rng.randint(1, 2), "available": 0})
        spot["available"] = rng.choice([0, 0, 1, spot["copies"]])
        # Level additions come after the base scenario, so higher levels extend it.
        target = {"author": state["books"][w]["author"], "year": state["books"][w]["year"]}
        plan: dict[str, Any] = {"me": me, "a": a, "b": b, "c": c, "w": w, "home": home,
                                "target": target}
        if difficulty >= 3:  # a namesake title by another author, on the shelf at home
            p = _PEOPLE
            decoy = {**state["books"][w], "isbn": state["books"][w]["isbn"][::-1],
                     "author": f"{rng.choice(p['first_names'])} {rng.choice(p['last_names'])}",
                     "year": rng.randint(1990, 2023)}
            self._add_book(state, rng, decoy, at=home)
        if difficulty >= 4:  # another edition of the same book, and a pay-if-over rule
            edition = {**state["books"][w], "isbn": state["books"][w]["isbn"][:-3] + "000",
                       "year": min(2023, state["books"][w]["year"] + rng.randint(8, 40))}
            self._add_book(state, rng, edition, at=home if rng.random() < 0.5 else None)
            after = state["members"][me]["fines"] + fee  # the threshold is never equal to it
            above = (after // 100 + rng.randint(1, 4)) * 100
            below = max(0, ((after - 1) // 100 - rng.randint(0, 3)) * 100)
            plan["pay_over"] = above if rng.random() < 0.5 else below
        if difficulty >= 5:  # the follow-up loan: renewable, or blocked for one of three reasons
            reason = rng.choice(["ok", "hold", "maxed", "overdue"])
            loan = next(ln for ln in state["loans"].values() if ln["book_id"] == c)
            if reason == "hold":
                self._hold(state, "M4002", c, rng.choice(list(_DATA["branches"])))
            elif reason == "maxed":
                loan["renewals"] = rule["max_renewals"]
            elif reason == "overdue":
                loan["due"] = str(today - timedelta(rng.randint(1, 9)))
        return self._draft(state, difficulty, plan)

    def _add_book(self, state: dict, rng: random.Random, record: dict,
                  at: str | None = None) -> str:
        bid = f"BK{101 + len(state['books'])}"
        state["books"][bid] = {**record, "genres": list(record["genres"])}
        branches = rng.sample(list(_DATA["branches"]), rng.randint(1, 3))
        if at is not None and at not in branches:
            branches[0] = at
        copies = {br: rng.randint(1, 3) for br in branches}
        state["holdings"][bid] = {br: {"copies": n, "available": rng.randint(int(br == at), n)}
                                  for br, n in copies.items()}
        return bid

    def _add_member(self, state: dict, rng: random.Random) -> str:
        mid = f"M{4001 + len(state['members'])}"
        name = f"{rng.choice(_PEOPLE['first_names'])} {rng.choice(_PEOPLE['last_names'])}"
        state["members"][mid] = {"name": name, "card_type": rng.choice(list(_DATA["card_types"])),
                                 "home_branch": rng.choice(list(_DATA["branches"])),
                                 "fines": rng.choice([0, 0, 0, 25, 150, 480])}
        return mid

    def _lend(self, state: dict, rng: random.Random, member: str, book: str, due: date,
              renewals: int) -> None:
        branch = rng.choice(list(state["holdings"][book]))
        spot = state["holdings"][book][branch]
        spot["available"] = min(spot["available"], spot["copies"] - 1)
        days = _DATA["card_types"][state["members"][member]["card_type"]]["loan_days"]
        lid = f"L{9001 + len(state['loans'])}"
        state["loans"][lid] = {"member": member, "book_id": book, "branch": branch,
                               "checked_out": str(due - timedelta(days * (renewals + 1))),
                               "due": str(due), "renewals": renewals, "status": "active"}

    @staticmethod
    def _hold(state: dict, member: str, book: str, branch: str) -> str:
        hid = f"H{701 + len(state['holds'])}"
        state["holds"][hid] = {"member": member, "book_id": book, "branch": branch,
                               "placed": state["today"], "status": "active"}
        return hid

    def _draft(self, state: dict, difficulty: int, plan: dict) -> Draft:
        books, me = state["books"], state["members"][plan["me"]]
        title = {k: books[plan[k]]["title"] for k in "abcw"}
        branches = ", ".join(f"{k} ({v['name']})" for k, v in _DATA["branches"].items())
        system = (f"You are the circulation assistant of the city public library. Today is "
                  f"{state['today']}. The patron at the desk is {me['name']}, library card "
                  f"{plan['me']}. Branch ids: {branches}. Amounts are in US dollars.")
        asks = [f"I'm returning {title['a']}."]
        constraints = 2
        if difficulty >= 2:
            asks.append(f"Please renew my loan of {title['b']} too.")
            constraints += 1
        if difficulty >= 3:
            w = books[plan["w"]]
            edition = f"the {w['year']} edition of " if difficulty >= 4 else ""
            asks.append(f"I'd also like to borrow {edition}{w['title']} by {w['author']} at my "
                        f"home branch ({plan['home']}); if no copy is available there right "
                        "now, place a hold for pickup there instead.")
            constraints += 2
        if difficulty >= 4:
            asks.append(f"Before that, if my fines after this return come to more than "
                        f"{money(plan['pay_over'])}, pay them off in full; otherwise leave my "
                        "balance as it is.")
            constraints += 1
        asks.append(f"How much was the late fee on {title['a']}?")
        memo: dict[str, Any] = {}
        turns = [" ".join(asks)]
        solutions = [lambda box: self._solve_main(box, difficulty, plan, title, memo)]
        if difficulty >= 5:
            turns.append(f"One more thing: please renew {title['c']} as well. If it can't be "
                         "renewed, return it instead. Then tell me how much I owe in fines now.")
            solutions.append(lambda box: self._solve_follow_up(box, plan, memo))
            constraints += 2
        relevant = [plan[k] for k in "abcw"] + list(books)[_SHELF:]
        check = {"member": plan["me"], "books": relevant,
                 "report": "fines" if difficulty >= 5 else "fee"}
        return Draft(state=state, system_prompt=system, user_turns=turns, solutions=solutions,
                     check=check, metadata={"constraints": constraints,
                                            "distractors": len(books) - _SHELF})

    def _solve_main(self, box: Toolbox, difficulty: int, plan: dict, title: dict,
                    memo: dict) -> str:
        me = plan["me"]
        loans = {ln["title"]: ln for ln in box("list_loans", member_id=me)}
        memo["loans"] = loans
        returned = box("return_book", loan_id=loans[title["a"]]["loan_id"])
        owed = round(returned["fines_owed"] * 100)
        done = [f"returned {title['a']}"]
        if difficulty >= 2:
            renewed = box("renew_loan", loan_id=loans[title["b"]]["loan_id"])
            done.append(f"renewed {title['b']} until {renewed['due']}")
        if difficulty >= 3:
            target = plan["target"]  # title, author and (level 4+) edition year, as asked
            want = next(h["book_id"] for h in box("search_catalog", query=title["w"], field="title")
                        if h["title"] == title["w"] and h["author"] == target["author"]
                        and (difficulty < 4 or h["year"] == target["year"]))
            book = box("get_book", book_id=want)
            if difficulty >= 4 and owed > plan["pay_over"]:
                box("pay_fine", member_id=me, amount=owed / 100)
                done.append(f"paid your fines of {money(owed)}")
            free = [s for s in book["availability"]
                    if s["branch_id"] == plan["home"] and s["available"] > 0]
            if free:
                due = box("check_out", member_id=me, book_id=want, branch_id=plan["home"])["due"]
                done.append(f"checked out {title['w']} (due {due})")
            else:
                box("place_hold", member_id=me, book_id=want, branch_id=plan["home"])
                done.append(f"placed a hold on {title['w']} at {plan['home']}")
        fee = round(returned["late_fee"] * 100)
        return f"Done: {'; '.join(done)}. The late fee on {title['a']} was {money(fee)}."

    def _solve_follow_up(self, box: Toolbox, plan: dict, memo: dict) -> str:
        loan = next(ln for ln in memo["loans"].values() if ln["book_id"] == plan["c"])
        book, member = box.parallel(("get_book", {"book_id": plan["c"]}),
                                    ("get_member", {"member_id": plan["me"]}))
        if (book["holds_waiting"] == 0 and loan["renewals"] < member["max_renewals"]
                and not loan["overdue"]):
            box("renew_loan", loan_id=loan["loan_id"])
            owed, what = round(member["fines_owed"] * 100), "renewed"
        else:
            returned = box("return_book", loan_id=loan["loan_id"])
            owed, what = round(returned["fines_owed"] * 100), "could not be renewed, so I returned"
        return f"{book['title']}: {what} it. You now owe {money(owed)} in fines."

    # -- verification --------------------------------------------------------------------
    @staticmethod
    def _view(state: dict, member: str, books: list[str]) -> dict:
        """The part of the state the task may change: the patron's records and the books'."""
        loans = sorted([ln["book_id"], ln["branch"], ln["status"], ln["due"], ln["renewals"]]
                       for ln in state["loans"].values() if ln["member"] == member)
        holds = sorted([h["book_id"], h["branch"], h["status"]]
                       for h in state["holds"].values() if h["member"] == member)
        available = {b: {br: s["available"] for br, s in state["holdings"][b].items()}
                     for b in books}
        return {"fines": state["members"][member]["fines"], "loans": loans, "holds": holds,
                "available": available}

    def finalize_check(self, check: dict, state: Any, answer: str) -> dict:
        """The expected outcome is the reference's; the amount to report comes from it too."""
        member = check["member"]
        fee = next(ln.get("fee", 0) for ln in state["loans"].values() if ln["member"] == member
                   and ln["book_id"] == check["books"][0])
        amount = state["members"][member]["fines"] if check["report"] == "fines" else fee
        return {**check, "amount": amount,
                "expected": self._view(state, member, check["books"])}

    def verify(self, task: Task, state: Any, answer: str) -> Verdict:
        check = task.check
        got = self._view(state, check["member"], check["books"])
        for part, want in check["expected"].items():
            if got[part] != want:
                return Verdict.fail(f"{part} of patron {check['member']}: expected {want}, "
                                    f"found {got[part]}")
        amount = check["amount"]
        said = amount in amounts_in(answer) or (
            amount == 0 and any(w in answer.lower() for w in _ZERO_WORDS))
        if not said:
            return Verdict.fail(f"answer does not state the {check['report']} {money(amount)}")
        return Verdict.ok()

    def corruptions(self, task: Task, state: Any, answer: str,
                    rng: random.Random) -> list[Corruption]:
        check, member = task.check, task.check["member"]
        undone = _copy(state)
        for ln in undone["loans"].values():
            if ln["member"] == member and ln["book_id"] == check["books"][0]:
                ln["status"] = "active"
        wrong = f"You owe {money(check['amount'] + 100)}."
        out = [self.missing_write(task, answer), Corruption("return_undone", undone, answer),
               Corruption("wrong_answer", state, wrong)]  # verify never mutates the state
        if task.difficulty < 3:
            fines = _copy(state)
            fines["members"][member]["fines"] += 100
            out.append(Corruption("wrong_fines", fines, answer))
        else:
            branch = _copy(state)
            for r in [*branch["loans"].values(), *branch["holds"].values()]:
                if r["member"] == member and r["book_id"] == check["books"][3]:
                    r["branch"] = next(b for b in _DATA["branches"] if b != r["branch"])
            out.append(Corruption("wrong_branch_or_book", branch, answer))
        return out


_DATA = load_json("library.json")
_PEOPLE = load_json("people.json")
