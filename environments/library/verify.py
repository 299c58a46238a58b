"""Verification and corruptions of the library family."""

from __future__ import annotations

import random
from typing import Any

from environments.library.common import _DATA, _ZERO_WORDS, amounts_in, money
from synth.env import Corruption, Task, Verdict
from synth.env import copy_state as _copy


class LibraryVerifier:
    """Verification and corruptions of `LibraryFamily` (a mixin)."""

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
