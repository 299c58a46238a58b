"""A team's shared drive: a virtual file tree (in the state, not on disk) to tidy up.

Verification kind: the final tree. The files under /finance and /archive and the trash's
contents are reduced to a normalized view and compared by canonical hash with the reference's,
so any order of operations (tag then move, move then tag, batch or one by one) passes; folders
are left out, so creating an unneeded empty folder is harmless. Some levels also ask for a
computed size. Levels add tagging, a size rule, a VOID-means-delete rule with a total to
report, and a follow-up clean-up of drafts (multi-turn); decoys are invoices of other years,
invoices modified in the right year but dated in another, and files tagged 'keep'.
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
    canonical_hash,
    register,
    tool,
)
from synth.env import copy_state as _copy

_PATH = {"type": "string", "minLength": 1, "description": "Absolute path, e.g. /finance/x.pdf"}
_PATHS = {"type": "array", "items": _PATH, "minItems": 1}
_TAGS = {"type": "array", "items": {"type": "string", "minLength": 1}}
_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
LARGE = 5_000_000


def parent_of(path: str) -> str:
    return path.rsplit("/", 1)[0] or "/"


def norm(path: str) -> str:
    path = "/" + path.strip().strip("/")
    return re.sub("/+", "/", path)


@register
class WorkspaceFamily(EnvFamily):
    name = "workspace"
    description = "Shared-drive housekeeping: move, tag, delete and measure files in a tree."
    multi_turn = True
    verification = "state"

    # -- tools ---------------------------------------------------------------------------
    @tool("List a folder's entries (name, kind, size in bytes, modified date, tags).",
          {"path": _PATH})
    def list_dir(self, state: dict, path: str) -> list[dict]:
        folder = self._folder(state, path)
        return [{"name": p.rsplit("/", 1)[1], **self._summary(e)}
                for p, e in sorted(state["entries"].items()) if parent_of(p) == folder]

    @tool("Metadata of a file or folder: kind, size, owner, modified date, tags.", {"path": _PATH})
    def stat(self, state: dict, path: str) -> dict:
        p = self._existing(state, path)
        return {"path": p, "owner": state["entries"][p]["owner"],
                **self._summary(state["entries"][p])}

    @tool("Read a file's text (for PDFs and spreadsheets, the extracted text).", {"path": _PATH})
    def read_file(self, state: dict, path: str) -> dict:
        p = self._existing(state, path)
        if state["entries"][p]["kind"] != "file":
            raise ToolError(f"{p} is a folder")
        return {"path": p, "content": state["entries"][p]["content"]}

    @tool("Find files under a folder whose name, tag and/or text match (all given criteria, "
          "case-insensitive substrings; tag must match exactly).",
          {"under": _PATH, "name_contains": {"type": "string"}, "tag": {"type": "string"},
           "content_contains": {"type": "string"}}, required=[])
    def search_files(self, state: dict, under: str = "/", name_contains: str = "",
                     tag: str = "", content_contains: str = "") -> list[dict]:
        root = self._folder(state, under)
        prefix = "/" if root == "/" else root + "/"
        return [{"path": p, **self._summary(e)} for p, e in sorted(state["entries"].items())
                if e["kind"] == "file" and p.startswith(prefix)
                and name_contains.lower() in p.rsplit("/", 1)[1].lower()
                and (not tag or tag in e["tags"])
                and content_contains.lower() in e["content"].lower()]

    @tool("Create a folder; its parent folder must exist.", {"path": _PATH}, writes=True)
    def create_folder(self, state: dict, path: str) -> dict:
        p = norm(path)
        self._folder(state, parent_of(p))
        if p in state["entries"]:
            raise ToolError(f"{p} already exists")
        state["entries"][p] = {"kind": "folder", "owner": state["user"],
                               "modified": state["today"], "tags": []}
        return {"created": p}

    @tool("Move files or folders into a destination folder, keeping their names.",
          {"sources": _PATHS, "destination": _PATH}, writes=True)
    def move(self, state: dict, sources: list[str], destination: str) -> dict:
        dest = self._folder(state, destination)
        plan = []
        for src in (self._existing(state, s) for s in sources):
            target = norm(f"{dest}/{src.rsplit('/', 1)[1]}")
            if target in state["entries"] or target in [t for _, t in plan]:
                raise ToolError(f"{target} already exists")
            if (dest + "/").startswith(src + "/"):
                raise ToolError(f"cannot move {src} into itself")
            plan.append((src, target))
        for src, target in plan:
            self._relocate(state, src, target)
        return {"moved": [t for _, t in plan]}

    @tool("Copy a file into a destination folder.", {"source": _PATH, "destination": _PATH},
          writes=True)
    def copy(self, state: dict, source: str, destination: str) -> dict:
        src, dest = self._existing(state, source), self._folder(state, destination)
        if state["entries"][src]["kind"] != "file":
            raise ToolError("only files can be copied")
        target = norm(f"{dest}/{src.rsplit('/', 1)[1]}")
        if target in state["entries"]:
            raise ToolError(f"{target} already exists")
        state["entries"][target] = {**_copy(state["entries"][src]), "owner": state["user"],
                                    "modified": state["today"]}
        return {"copied": target}

    @tool("Rename a file or folder in place.",
          {"path": _PATH, "new_name": {"type": "string", "pattern": "^[^/]+$"}}, writes=True)
    def rename(self, state: dict, path: str, new_name: str) -> dict:
        src = self._existing(state, path)
        target = norm(f"{parent_of(src)}/{new_name}")
        if target in state["entries"]:
            raise ToolError(f"{target} already exists")
        self._relocate(state, src, target)
        return {"renamed": target}

    @tool("Delete files or folders (with their contents): files go to the trash.",
          {"paths": _PATHS}, writes=True)
    def delete(self, state: dict, paths: list[str]) -> dict:
        found = [self._existing(state, p) for p in paths]
        for p in found:
            if p in state["entries"]:
                self._trash(state, p)
        return {"deleted": found}

    @tool("Add and/or remove tags on files or folders.",
          {"paths": _PATHS, "add": _TAGS, "remove": _TAGS}, required=["paths"], writes=True)
    def set_tags(self, state: dict, paths: list[str], add: list[str] | None = None,
                 remove: list[str] | None = None) -> dict:
        found = [self._existing(state, p) for p in paths]
        for p in found:
            tags = [t for t in state["entries"][p]["tags"] + (add or []) if t not in (remove or [])]
            state["entries"][p]["tags"] = sorted(dict.fromkeys(tags))
        return {p: state["entries"][p]["tags"] for p in found}

    @tool("Create or overwrite a text file (size = bytes of the text).",
          {"path": _PATH, "content": {"type": "string"}}, writes=True)
    def write_file(self, state: dict, path: str, content: str) -> dict:
        p = norm(path)
        self._folder(state, parent_of(p))
        old = state["entries"].get(p, {"tags": []})
        if old.get("kind") == "folder":
            raise ToolError(f"{p} is a folder")
        state["entries"][p] = {"kind": "file", "size": len(content.encode()), "tags": old["tags"],
                               "owner": state["user"], "modified": state["today"],
                               "content": content}
        return {"written": p, "size": state["entries"][p]["size"]}

    @tool("List the files in the trash with their original paths and sizes.")
    def list_trash(self, state: dict) -> list[dict]:
        return [{"name": t["original_path"].rsplit("/", 1)[1], "original_path": t["original_path"],
                 "size": t["size"], "deleted": t["deleted"]} for t in state["trash"]]

    # -- helpers over the state ----------------------------------------------------------
    @staticmethod
    def _summary(e: dict) -> dict:
        if e["kind"] == "folder":
            return {"kind": "folder", "modified": e["modified"], "tags": e["tags"]}
        return {"kind": "file", "size": e["size"], "modified": e["modified"], "tags": e["tags"]}

    @staticmethod
    def _existing(state: dict, path: str) -> str:
        p = norm(path)
        if p not in state["entries"]:
            raise ToolError(f"no such file or folder: {p}")
        return p

    def _folder(self, state: dict, path: str) -> str:
        p = norm(path)
        if p != "/" and state["entries"][self._existing(state, p)]["kind"] != "folder":
            raise ToolError(f"{p} is not a folder")
        return p

    @staticmethod
    def _relocate(state: dict, src: str, target: str) -> None:
        entries = state["entries"]
        for p in [p for p in entries if p == src or p.startswith(src + "/")]:
            entries[target + p[len(src):]] = entries.pop(p)

    @staticmethod
    def _trash(state: dict, path: str) -> None:
        entries = state["entries"]
        for p in [p for p in entries if p == path or p.startswith(path + "/")]:
            e = entries.pop(p)
            if e["kind"] == "file":
                state["trash"].append({**e, "original_path": p, "deleted": state["today"]})

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


_DATA = load_json("workspace.json")
_PEOPLE = load_json("people.json")
