"""The outcome, the answer check and the domain corruptions of the library family."""

from __future__ import annotations

import random
from typing import Any

from environments.library.common import _DATA, _ZERO_WORDS
from synth.env import Corruption, Task, cents_in, money


class LibraryVerifier:
    """The outcome, the answer check and the domain corruptions of `LibraryFamily`."""

    def outcome(self, task: Task, state: Any) -> dict[str, Any]:
        """The part of the state the task may change: the patron's records and the books'."""
        member, books = task.check["member"], task.check["books"]
        loans = sorted([ln["book_id"], ln["branch"], ln["status"], ln["due"], ln["renewals"]]
                       for ln in state["loans"].values() if ln["member"] == member)
        holds = sorted([h["book_id"], h["branch"], h["status"]]
                       for h in state["holds"].values() if h["member"] == member)
        available = {b: {br: s["available"] for br, s in state["holdings"][b].items()}
                     for b in books}
        return {"fines": state["members"][member]["fines"], "loans": loans, "holds": holds,
                "available": available}

    def finalize_check(self, check: dict, state: Any, answer: str) -> dict:
        """The amount to report comes from the reference's outcome: a fee or the fines."""
        member = check["member"]
        fee = next(ln.get("fee", 0) for ln in state["loans"].values() if ln["member"] == member
                   and ln["book_id"] == check["books"][0])
        amount = state["members"][member]["fines"] if check["report"] == "fines" else fee
        return {**check, "amount": amount}

    def answer_problem(self, task: Task, answer: str) -> str | None:
        check, amount = task.check, task.check["amount"]
        said = amount in cents_in(answer, skip_dates=True) or (
            amount == 0 and any(w in answer.lower() for w in _ZERO_WORDS))
        return None if said else f"answer does not state the {check['report']} {money(amount)}"

    def corruptions(self, task: Task, state: Any, answer: str,
                    rng: random.Random) -> list[Corruption]:
        check, member = task.check, task.check["member"]

        def undo_return(new: dict) -> None:
            for ln in new["loans"].values():
                if ln["member"] == member and ln["book_id"] == check["books"][0]:
                    ln["status"] = "active"

        out = [Corruption.edit("return_undone", state, answer, undo_return, "loans"),
               Corruption("wrong_answer", state, f"You owe {money(check['amount'] + 100)}.")]
        if task.difficulty < 3:
            def more_fines(new: dict) -> None:
                new["members"][member]["fines"] += 100
            out.append(Corruption.edit("wrong_fines", state, answer, more_fines, "members"))
        else:
            def other_branch(new: dict) -> None:
                for r in [*new["loans"].values(), *new["holds"].values()]:
                    if r["member"] == member and r["book_id"] == check["books"][3]:
                        r["branch"] = next(b for b in _DATA["branches"] if b != r["branch"])
            out.append(Corruption.edit("wrong_branch_or_book", state, answer, other_branch,
                                       "loans", "holds"))
        return out
