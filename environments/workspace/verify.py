"""The outcome, the answer check and the domain corruptions of the workspace family."""

from __future__ import annotations

import random
from typing import Any

from synth.env import Corruption, Task, canonical_hash, numbers_in


class WorkspaceVerifier:
    """The outcome, the answer check and the domain corruptions of `WorkspaceFamily`."""

    def outcome(self, task: Task, state: Any) -> dict[str, Any]:
        return self._view(state)

    @staticmethod
    def _view(state: dict) -> dict:
        """Files under /finance and /archive, and the trash, independent of how they got there."""
        files = {p: [e["size"], e["owner"], e["modified"], sorted(e["tags"]), e["content"]]
                 for p, e in state["entries"].items() if e["kind"] == "file"
                 and p.startswith(("/finance/", "/archive/"))}
        trash = sorted([t["original_path"].rsplit("/", 1)[1], t["size"], sorted(t["tags"]),
                        t["content"]] for t in state["trash"])
        return {"files": files, "trash": trash}

    def finalize_check(self, check: dict, state: Any, answer: str) -> dict:
        """The size to report is computed from the reference's tree; its hash is kept too."""
        view = self._view(state)
        year = check["year"]
        if check["report"] == "trash":
            amount = sum(t["size"] for t in state["trash"])
        else:
            amount = sum(v[0] for p, v in view["files"].items()
                         if p.startswith((f"/archive/{year}/", "/archive/large/"))
                         and "paid" in v[3] and p.rsplit("/", 1)[1].startswith(f"invoice_{year}-"))
        return {**check, "amount": amount, "hash": canonical_hash(view)}

    def answer_problem(self, task: Task, answer: str) -> str | None:
        check = task.check
        if check["report"] and check["amount"] not in [
                round(n) for n in numbers_in(answer, skip_dates=True)]:
            return f"answer does not state the {check['report']} total {check['amount']:,} bytes"
        return None

    def corruptions(self, task: Task, state: Any, answer: str,
                    rng: random.Random) -> list[Corruption]:
        year = task.check["year"]
        archived = sorted(p for p in state["entries"] if p.startswith(f"/archive/{year}/invoice_"))

        def moved(kind: str, path: str, target: str) -> Corruption:
            return Corruption.edit(kind, state, answer,
                                   lambda new: self._relocate(new, path, target), "entries")

        name = archived[0].rsplit("/", 1)[1]  # the reference always archives one invoice there
        out = [moved("left_behind", archived[0], f"/finance/invoices/{name}")]
        if task.difficulty < 4:
            other = next(p for p in sorted(state["entries"])
                         if p.startswith("/finance/invoices/inv"))
            out.append(moved("decoy_archived", other, f"/archive/{year}/{other.rsplit('/', 1)[1]}"))
        if task.difficulty >= 2:
            out.append(Corruption.edit(
                "untagged", state, answer,
                lambda new: new["entries"][archived[-1]].update(tags=[]), "entries"))
        for large in (p for p in state["entries"] if p.startswith("/archive/large/invoice_")):
            out.append(moved("large_misfiled", large, f"/archive/{year}/{large.rsplit('/', 1)[1]}"))
        if task.difficulty >= 4:
            def void_archived(new: dict) -> None:
                item = next(t for t in new["trash"] if "VOID" in t["content"])
                new["trash"].remove(item)
                new["entries"][f"/archive/{year}/void.pdf"] = item

            wrong = f"The total is {task.check['amount'] + 1000:,} bytes."
            out += [Corruption.edit("void_archived", state, answer, void_archived,
                                    "trash", "entries"),
                    Corruption("wrong_answer", state, wrong)]  # verify never mutates it
        return out
