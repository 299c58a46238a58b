"""Scenario generation, prompts and the reference solution of the library family."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from environments.library.common import _DATA, _PEOPLE, _SHELF
from synth.env import Draft, Toolbox, money


class LibraryScenario:
    """Scenario generation, prompts and the reference solution of `LibraryFamily` (a mixin)."""

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
