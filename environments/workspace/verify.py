"""Verification and corruptions of the workspace family."""

from __future__ import annotations

import random
from typing import Any

from environments.workspace.common import _DATE, _NUMBER
from synth.env import Corruption, Task, Verdict, canonical_hash
from synth.env import copy_state as _copy


class WorkspaceVerifier:
    """Verification and corruptions of `WorkspaceFamily` (a mixin)."""

    # -- verification --------------------------------------------------------------------
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
        """The expected tree is the reference's; the size to report is computed from it."""
        view = self._view(state)
        year = check["year"]
        if check["report"] == "trash":
            amount = sum(t["size"] for t in state["trash"])
        else:
            amount = sum(v[0] for p, v in view["files"].items()
                         if p.startswith((f"/archive/{year}/", "/archive/large/"))
                         and "paid" in v[3] and p.rsplit("/", 1)[1].startswith(f"invoice_{year}-"))
        return {**check, "amount": amount, "hash": canonical_hash(view), "expected": view}

    def verify(self, task: Task, state: Any, answer: str) -> Verdict:
        check, got, want = task.check, self._view(state), task.check["expected"]
        if got != want:  # equal views have equal canonical hashes (check["hash"])
            for path in sorted({**want["files"], **got["files"]}):
                if want["files"].get(path) != got["files"].get(path):
                    have = "missing" if path not in got["files"] else "unexpected or different"
                    return Verdict.fail(f"{path}: {have} (expected {want['files'].get(path)})")
            return Verdict.fail(f"trash holds {got['trash']}, expected {want['trash']}")
        if check["report"]:
            said = [round(float(n.replace(",", ""))) for n in
                    _NUMBER.findall(_DATE.sub(" ", answer))]
            if check["amount"] not in said:
                return Verdict.fail(f"answer does not state the {check['report']} total "
                                    f"{check['amount']:,} bytes")
        return Verdict.ok()

    def corruptions(self, task: Task, state: Any, answer: str,
                    rng: random.Random) -> list[Corruption]:
        year = task.check["year"]
        archived = sorted(p for p in state["entries"] if p.startswith(f"/archive/{year}/invoice_"))
        left = _copy(state)  # the reference always archives at least one invoice there
        self._relocate(left, archived[0], f"/finance/invoices/{archived[0].rsplit('/', 1)[1]}")
        out = [self.missing_write(task, answer), Corruption("left_behind", left, answer)]
        if task.difficulty < 4:
            decoy = _copy(state)
            other = next(p for p in sorted(state["entries"])
                         if p.startswith("/finance/invoices/inv"))
            self._relocate(decoy, other, f"/archive/{year}/{other.rsplit('/', 1)[1]}")
            out.append(Corruption("decoy_archived", decoy, answer))
        if task.difficulty >= 2:
            untagged = _copy(state)
            untagged["entries"][archived[-1]]["tags"] = []
            out.append(Corruption("untagged", untagged, answer))
        for large in (p for p in state["entries"] if p.startswith("/archive/large/invoice_")):
            misfiled = _copy(state)
            self._relocate(misfiled, large, f"/archive/{year}/{large.rsplit('/', 1)[1]}")
            out.append(Corruption("large_misfiled", misfiled, answer))
        if task.difficulty >= 4:
            kept = _copy(state)
            item = next(t for t in kept["trash"] if "VOID" in t["content"])
            kept["trash"].remove(item)
            kept["entries"][f"/archive/{year}/void.pdf"] = item
            wrong = f"The total is {task.check['amount'] + 1000:,} bytes."
            out += [Corruption("void_archived", kept, answer),
                    Corruption("wrong_answer", state, wrong)]  # verify never mutates it
        return out
