"""The library family: the registered class and its tools."""

from __future__ import annotations

from datetime import date, timedelta

from environments.library.common import _COUNTS, _DATA, _ID
from environments.library.scenario import LibraryScenario
from environments.library.verify import LibraryVerifier
from synth.data import load_json
from synth.env import EnvFamily, ToolError, lookup, money, register, tool


@register
class LibraryFamily(LibraryScenario, LibraryVerifier, EnvFamily):
    name = "library"
    description = "Public library circulation: returns, late fees, renewals, loans and holds."
    multi_turn = True
    verification = "state"

    # -- tools ---------------------------------------------------------------------------
    @tool("Search the catalog by title, author or both (case-insensitive substring match). "
          "Returns at most 20 books.",
          {"query": _ID, "field": {"type": "string", "enum": ["title", "author", "any"]},
           "genre": {"type": "string"}})
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
          {"member_id": _ID, "status": {"type": "string", "enum": ["active", "returned", "all"]}})
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
           "genre": {"type": "string"}})
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
        return lookup(state[table], key, table[:-1].replace('member', 'patron'))

    @staticmethod
    def _active_loan(state: dict, loan_id: str) -> dict:
        ln = state["loans"].get(loan_id)
        if ln is None or ln["status"] != "active":
            raise ToolError(f"no active loan {loan_id}")
        return ln
