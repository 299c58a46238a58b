"""The workspace family: the registered class and its tools."""

from __future__ import annotations

from environments.workspace.common import _PATH, _PATHS, _TAGS, norm, parent_of
from environments.workspace.scenario import WorkspaceScenario
from environments.workspace.verify import WorkspaceVerifier
from synth.env import EnvFamily, ToolError, register, tool
from synth.env import copy_state as _copy


@register
class WorkspaceFamily(WorkspaceScenario, WorkspaceVerifier, EnvFamily):
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
           "content_contains": {"type": "string"}})
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
          {"paths": _PATHS, "add": _TAGS, "remove": _TAGS}, writes=True)
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
