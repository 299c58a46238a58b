"""Scenario generation, prompts and the reference solution of the workspace family."""

from __future__ import annotations

import random
import re
from datetime import date, timedelta
from typing import Any

from environments.workspace.common import _DATA, _PEOPLE, LARGE
from synth.env import Draft, Toolbox


class WorkspaceScenario:
    """Scenario generation, prompts and the reference solution of `WorkspaceFamily` (a mixin)."""

    # -- generation ----------------------------------------------------------------------
    def build(self, rng: random.Random, difficulty: int) -> Draft:
        today = date(2024, 3, 1) + timedelta(rng.randint(0, 270))
        year = rng.choice([2021, 2022, 2023])
        user = f"{rng.choice(_PEOPLE['first_names'])} {rng.choice(_PEOPLE['last_names'])}"
        colleagues = [f"{rng.choice(_PEOPLE['first_names'])} {rng.choice(_PEOPLE['last_names'])}"
                      for _ in range(3)]
        state: dict[str, Any] = {"user": user, "today": str(today), "entries": {}, "trash": [],
                                 "company": rng.choice(_DATA["companies"])}
        add = _Adder(state, rng, [user, *colleagues])
        for folder in ("/finance", "/finance/invoices", "/finance/receipts", "/finance/reports",
                       "/finance/drafts", "/archive", f"/archive/{year - 1}", "/projects",
                       "/shared"):
            add.folder(folder)
        vendors = rng.sample(_DATA["vendors"], 14)
        targets = [add.invoice(year, m, v) for m, v in zip(
            sorted(rng.sample(range(1, 13), rng.randint(3, 5))), vendors[:5], strict=False)]
        for v in vendors[5:5 + rng.randint(3, 5)]:
            add.invoice(rng.choice([y for y in (year - 2, year - 1, year + 1) if y < 2024]),
                        rng.randint(1, 12), v)
        add.invoice(year - 1, rng.randint(1, 12), vendors[13], folder=f"/archive/{year - 1}")
        if rng.random() < 0.4:
            add.folder(f"/archive/{year}")
        for name in rng.sample(_DATA["receipts"], 2):
            add.file(f"/finance/receipts/{name}", rng.randint(80_000, 900_000), "Receipt.")
        for name in rng.sample(_DATA["reports"], 2):
            add.file(f"/finance/reports/{name}", rng.randint(50_000, 2_000_000), "Report.")
        drafts = [add.file(f"/finance/drafts/{name}", rng.randint(9_000, 400_000), "Draft.",
                           str(today - timedelta(days)))
                  for name, days in zip(rng.sample(_DATA["drafts"], 5),
                                        rng.sample(range(3, 200), 5), strict=True)]
        for project in rng.sample(_DATA["projects"], 2):
            add.folder(f"/projects/{project}")
            for name, text in rng.sample(_DATA["project_files"], 2):
                add.file(f"/projects/{project}/{name}", rng.randint(5_000, 3_000_000), text)
        for name, size in rng.sample(_DATA["trash"], 2):
            state["trash"].append({"kind": "file", "size": size, "owner": user, "tags": [],
                                   "modified": str(today - timedelta(40)), "content": "",
                                   "original_path": f"/shared/{name}", "deleted": str(today)})
        # Level additions come after the base scenario, so higher levels extend it.
        plan: dict[str, Any] = {"year": year, "large": [], "void": "", "cutoff": ""}
        if difficulty >= 2:  # dated last year but modified this year; a summary with the year
            add.invoice(year - 1, 12, vendors[12], modified=f"{year}-01-{rng.randint(10, 28)}")
            add.file(f"/finance/reports/invoices_{year}_summary.xlsx", 48_213, "Summary.")
        if difficulty >= 3:  # one archived invoice is large; so is an invoice of another year
            if rng.random() < 0.8:
                plan["large"] = [rng.choice(targets[1:])]
                state["entries"][plan["large"][0]]["size"] = rng.randint(5_100_000, 12_000_000)
            add.invoice(year - 2, rng.randint(1, 12), vendors[11], size=rng.randint(6, 9) * 10**6)
            if rng.random() < 0.5:
                add.folder("/archive/large")
        if difficulty >= 4:  # one invoice of the year is void; so is one of another year
            plan["void"] = rng.choice([t for t in targets if t not in plan["large"]])
            decoy = add.invoice(year - 1, rng.randint(1, 12), vendors[10])
            for p in (plan["void"], decoy):
                state["entries"][p]["content"] = state["entries"][p]["content"].replace(
                    "Status: issued", "Status: VOID (reissued)")
        if difficulty >= 5:  # delete old drafts, but one old draft is tagged 'keep'
            drafts.sort(key=lambda p: state["entries"][p]["modified"])
            cut = rng.randint(2, len(drafts) - 1)
            plan["cutoff"] = state["entries"][drafts[cut]]["modified"]
            state["entries"][rng.choice(drafts[:cut])]["tags"] = ["keep"]
        return self._draft(state, difficulty, plan)

    def _draft(self, state: dict, difficulty: int, plan: dict) -> Draft:
        year = plan["year"]
        system = (f"You are the file assistant of {state['user']} on the {state['company']} shared "
                  f"drive. Today is {state['today']}. Use the tools to inspect and change the "
                  "drive. Sizes are in bytes (1 MB = 1,000,000 bytes).")
        asks = [f"Please archive our {year} invoices: move every invoice in /finance/invoices "
                f"dated {year} (the date is in the file name, invoice_YYYY-MM_vendor.pdf) into "
                f"/archive/{year}, creating that folder if it doesn't exist."]
        if difficulty >= 2:
            asks.append("Tag every invoice you archive 'paid'.")
        if difficulty >= 3:
            asks.append("Any of them larger than 5 MB goes to /archive/large instead (create it "
                        "if needed), tagged the same way.")
        if difficulty >= 4:
            asks.append(f"A {year} invoice whose text says VOID is not archived or tagged at "
                        "all: delete it. Finally, tell me the total size in bytes of the "
                        "invoices you archived.")
        turns = [" ".join(asks)]
        solutions = [lambda box: self._solve_archive(box, difficulty, plan)]
        if difficulty >= 5:
            turns.append(f"Now also clean up /finance/drafts: delete every draft last modified "
                         f"before {plan['cutoff']}, except any tagged 'keep'. Then tell me the "
                         "total size in bytes of everything in the trash.")
            solutions.append(lambda box: self._solve_drafts(box, plan))
        constraints = {1: 1, 2: 2, 3: 3, 4: 5, 5: 7}[difficulty]
        report = {4: "archived", 5: "trash"}.get(difficulty, "")
        return Draft(state=state, system_prompt=system, user_turns=turns, solutions=solutions,
                     check={"report": report, "year": year},
                     metadata={"constraints": constraints, "distractors": difficulty})

    def _solve_archive(self, box: Toolbox, difficulty: int, plan: dict) -> str:
        year, src = plan["year"], "/finance/invoices"
        listing, archive = box.parallel(("list_dir", {"path": src}),
                                        ("list_dir", {"path": "/archive"}))
        dated = re.compile(rf"invoice_{year}-\d\d_")
        mine = [e for e in listing if e["kind"] == "file" and dated.match(e["name"])]
        void: list[str] = []
        if difficulty >= 4:
            hits = box("search_files", under=src, content_contains="VOID")
            named = [h["path"].rsplit("/", 1)[1] for h in hits]
            void = [e["name"] for e in mine if e["name"] in named]
        keep = [e for e in mine if e["name"] not in void]
        large = [e for e in keep if difficulty >= 3 and e["size"] > LARGE]
        groups = {f"/archive/{year}": [e for e in keep if e not in large], "/archive/large": large}
        present = [e["name"] for e in archive]
        moved: list[str] = []
        for folder, group in groups.items():
            if group and folder.rsplit("/", 1)[1] not in present:
                box("create_folder", path=folder)
            if group:
                paths = [f"{src}/{e['name']}" for e in group]
                moved += box("move", sources=paths, destination=folder)["moved"]
        if difficulty >= 2 and moved:
            box("set_tags", paths=moved, add=["paid"])
        if void:
            box("delete", paths=[f"{src}/{n}" for n in void])
        answer = f"Archived {len(moved)} invoice(s): {', '.join(moved)}."
        if void:
            answer += f" Deleted void invoice(s): {', '.join(void)}."
        if difficulty >= 4:
            answer += f" Total size archived: {sum(e['size'] for e in keep):,} bytes."
        return answer

    def _solve_drafts(self, box: Toolbox, plan: dict) -> str:
        drafts = box("list_dir", path="/finance/drafts")
        old = [f"/finance/drafts/{e['name']}" for e in drafts if e["kind"] == "file"
               and e["modified"] < plan["cutoff"] and "keep" not in e["tags"]]
        box("delete", paths=old)
        total = sum(t["size"] for t in box("list_trash"))
        return f"Deleted {len(old)} draft(s). The trash now holds {total:,} bytes."


class _Adder:
    """Adds entries with plausible owners and dates; invoices get matching text."""

    def __init__(self, state: dict, rng: random.Random, owners: list[str]) -> None:
        self.state, self.rng, self.owners = state, rng, owners

    def folder(self, path: str) -> str:
        self.state["entries"][path] = {"kind": "folder", "owner": self.owners[0],
                                       "modified": "2021-01-04", "tags": []}
        return path

    def file(self, path: str, size: int, content: str, modified: str = "") -> str:
        modified = modified or str(date.fromisoformat(self.state["today"])
                                   - timedelta(self.rng.randint(1, 300)))
        self.state["entries"][path] = {"kind": "file", "size": size, "tags": [],
                                       "owner": self.rng.choice(self.owners),
                                       "modified": modified, "content": content}
        return path

    def invoice(self, year: int, month: int, vendor: str, folder: str = "/finance/invoices",
                modified: str = "", size: int = 0) -> str:
        rng = self.rng
        day = date(year, month, rng.randint(1, 28))
        text = (f"Invoice INV-{year}-{rng.randint(100, 999)}\nVendor: {vendor}\nDate: {day}\n"
                f"Amount due: ${rng.randint(80, 9000):,}.{rng.randint(0, 99):02d}\nStatus: issued")
        modified = modified or str(min(day + timedelta(rng.randint(2, 20)),
                                       date.fromisoformat(self.state["today"])))
        return self.file(f"{folder}/invoice_{year}-{month:02d}_{vendor}.pdf",
                         size or rng.randint(40_000, 3_000_000), text, modified)
