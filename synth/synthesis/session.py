"""One environment being written: its folder, the agent's tools over it, the validation log.

The folder lives in memory (path -> text); the sandbox gets a copy for every run and nothing
is written back except through run_python's returned file list, which passes the same path
rules as write_file. Every failed write, run or check is a log entry with a counted reason.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from synth.env import Tool, ToolError, object_schema
from synth.synthesis.checks import LevelSpec, check_level
from synth.synthesis.config import SynthesisConfig
from synth.synthesis.runner import HARNESS_FILE, CodeRunner
from synth.synthesis.search import search_data

_SEGMENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
MAX_DEPTH = 3


def check_path(path: str) -> str | None:
    """Why `path` may not be written inside the folder (None: fine)."""
    if not path or path.startswith(("/", "~")) or "\\" in path:
        return "write_outside_folder"
    parts = path.split("/")
    if any(p in ("", ".", "..") for p in parts):
        return "write_outside_folder"
    if len(parts) > MAX_DEPTH or not all(_SEGMENT.fullmatch(p) for p in parts):
        return "bad_path"
    if path == HARNESS_FILE:
        return "bad_path"
    return None


@dataclass
class Session:
    """State of one synthesis session (the tools' `state`)."""

    env_id: str
    category: str
    config: SynthesisConfig
    runner: CodeRunner
    files: dict[str, str] = field(default_factory=dict)
    log: list[dict[str, Any]] = field(default_factory=list)
    accepted: dict[int, LevelSpec] = field(default_factory=dict)
    attempts: Counter[int] = field(default_factory=Counter)
    step: int = 0
    finished: bool = False
    end_reason: str | None = None
    transcript: list[dict[str, Any]] = field(default_factory=list)

    @property
    def next_level(self) -> int:
        return len(self.accepted) + 1

    def record(self, check: str, ok: bool, reason: str | None = None, detail: str = "",
               level: int | None = None, attempt: int | None = None) -> None:
        self.log.append({"step": self.step, "level": level, "attempt": attempt, "check": check,
                         "ok": ok, "reason": reason, "detail": detail[:3000]})

    def end(self, reason: str) -> None:
        """Finish the session; a reason other than 'completed' is logged as a failure."""
        if self.end_reason is None:
            self.end_reason = reason
            if reason != "completed":
                self.record("session", False, reason, f"session ended at level "
                            f"{self.next_level}", level=self.next_level)
        self.finished = True

    def failure_counts(self) -> dict[str, int]:
        return dict(Counter(e["reason"] for e in self.log if not e["ok"]).most_common())

    # -- the agent's tools ------------------------------------------------------------------
    def _store(self, path: str, content: str, check: str) -> None:
        budgets = self.config.budgets
        problem = check_path(path)
        if problem is None and len(content.encode()) > budgets.max_file_kb * 1024:
            problem = "file_too_large"
        if problem is None and path not in self.files and len(self.files) >= budgets.max_files:
            problem = "too_many_files"
        if problem is not None:
            self.record(check, False, problem, path, level=self.next_level)
            raise ToolError(f"{problem}: cannot write {path!r}; paths are relative to the "
                            f"environment folder (no '..', absolute paths or more than "
                            f"{MAX_DEPTH} levels), files up to {budgets.max_file_kb} KiB")
        self.files[path] = content

    def write_file(self, path: str, content: str) -> dict[str, Any]:
        self._store(path, content, "write_file")
        self.record("write_file", True, None, path, level=self.next_level)
        return {"written": path, "bytes": len(content.encode())}

    def read_file(self, path: str) -> str:
        if path not in self.files:
            raise ToolError(f"no file {path!r}; files: {sorted(self.files)}")
        return self.files[path]

    def run_python(self, code: str) -> dict[str, Any]:
        limit = self.config.budgets.max_file_kb * 1024
        out = self.runner.script(code, dict(self.files), limit)
        written, skipped = [], []
        for path, content in (out.get("changed") or {}).items():
            try:
                if content is None:
                    raise ToolError("not UTF-8 text or too large")
                self._store(path, content, "run_python")
                written.append(path)
            except ToolError as exc:
                skipped.append(f"{path}: {str(exc).split(':', 1)[0]}")
        for path in out.get("removed") or []:
            self.files.pop(path, None)
        ok = bool(out.get("ok"))
        self.record("run_python", ok, None if ok else out.get("kind", "run_python_error"),
                    (out.get("error") or "")[-500:], level=self.next_level)
        return {"ok": ok, "stdout": out.get("stdout", ""), "stderr": out.get("stderr", ""),
                "error": out.get("error"), "files_written": written,
                "files_removed": out.get("removed") or [], "files_skipped": skipped}

    def search(self, query: str, limit: int = 5) -> dict[str, Any]:
        return {"query": query, "results": search_data(query, limit)}

    def submit(self, level: int) -> dict[str, Any]:
        if self.finished:
            raise ToolError("this environment is finished; no more submissions")
        if level != self.next_level:
            self.record("submit", False, "level_out_of_order", f"submitted {level}",
                        level=level)
            raise ToolError(f"submit level {self.next_level} next (levels are checked in order)")
        self.attempts[level] += 1
        attempt = self.attempts[level]
        outcome = check_level(self.files, level, self.runner, self.config.budgets, self.env_id,
                              self.accepted.get(level - 1))
        for entry in outcome.entries:
            self.record(entry.check, entry.ok, entry.reason, entry.detail, level, attempt)
        left = self.config.budgets.max_attempts_per_level - attempt
        report: dict[str, Any] = {"level": level, "attempt": attempt,
                                  "accepted": outcome.spec is not None,
                                  "passed_checks": [e.check for e in outcome.entries if e.ok]}
        if outcome.spec is not None:
            self.accepted[level] = outcome.spec
            if level >= self.config.levels:
                self.end("completed")
                report["next"] = "All levels are accepted; the environment is complete."
            else:
                report["next"] = (f"Level {level} is accepted. Raise the difficulty: write "
                                  f"level_{level + 1} (and new tools if needed), then submit.")
            return report
        failed = next(e for e in outcome.entries if not e.ok)
        report.update({"failed_check": failed.check, "reason": failed.reason,
                       "detail": failed.detail, "attempts_left": left})
        if left <= 0:
            self.record("budget", False, "attempts_exhausted",
                        f"level {level} discarded after {attempt} attempts "
                        f"(last: {failed.reason})", level, attempt)
            self.end("level_discarded")
            report["next"] = f"Level {level} is discarded: no attempts left. Session over."
        else:
            report["next"] = "Fix the files and submit again."
        return report

    def tools(self) -> dict[str, Tool]:
        """The agent's tools (schemas shown in its system prompt)."""
        text = {"type": "string"}
        specs = [
            ("write_file", "Create or overwrite a text file in the environment folder.",
             {"path": {**text, "description": "relative path, e.g. level_1/task.json"},
              "content": text}, None, Session.write_file),
            ("read_file", "Read a file of the environment folder.",
             {"path": text}, None, Session.read_file),
            ("run_python", "Run Python code in the sandbox with the folder as working "
             "directory (no network). Files it creates or changes are kept.",
             {"code": text}, None, Session.run_python),
            ("search_data", "Search the project's data files (names, cities, products, ...) "
             "for realistic values.",
             {"query": text, "limit": {"type": "integer", "minimum": 1, "maximum": 20}},
             ["query"], Session.search),
            ("submit", "Check a level's files in the sandbox; accepted levels become tasks.",
             {"level": {"type": "integer", "minimum": 1}}, None, Session.submit),
        ]
        return {name: Tool(name, desc, object_schema(props, required),
                           lambda state, _fn=fn, **args: _fn(state, **args))
                for name, desc, props, required, fn in specs}
