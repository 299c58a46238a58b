"""Search agent: find the one page that a chain of obfuscated clues describes, with search
tools over a corpus (the generated encyclopedia by default, or a team's own corpus).

Tasks are made the report's way (`synth.search.maker`): a question agent explores a long-tail
entity, answer agents try the question, a verification agent keeps it only when the ground
truth is verified unique and every candidate is refuted. Rubric tasks ("compare X and Y") are
scored by a judge. The task arrives as a `developer` message. Verification: the final
`Answer:` line against the answer and its aliases (normalized), or the judge's rubric score.
"""

from __future__ import annotations

import random
import threading
from typing import Any

from synth.env import (
    BuildStage,
    Corruption,
    Discard,
    Draft,
    EnvFamily,
    Generated,
    Task,
    ToolError,
    Verdict,
    register,
    tool,
)
from synth.search.options import SearchOptions
from synth.search.text import extract_answer, normalize_answer
from synth.search.tools import MAX_TOP_K
from synth.seeding import derive_seed

SYSTEM_PROMPT = (
    "You are a research assistant with search tools over a collection of pages. Answer from "
    "what the pages say, not from memory: search, open pages and check every clue before you "
    "answer. Notes you add survive when earlier tool results are dropped from your context."
)
MAX_NOTES = 50
MAX_NOTE_CHARS = 2000
HARDER_TRIES = 8


def effort(task: Task) -> int:
    """The work a task asks for: reference tool calls plus the clues to check."""
    return task.n_reference_calls + int(task.metadata.get("constraints", 0))


@register
class SearchFamily(EnvFamily):
    name = "search"
    description = ("Search agent: identify the page a chain of obfuscated clues describes, or "
                   "compare two pages against a rubric, with search tools over a corpus.")
    verification = "answer"
    max_calls = 12
    Options = SearchOptions
    options: SearchOptions

    def __init__(self, options: SearchOptions | dict[str, Any] | None = None) -> None:
        super().__init__(options)
        self.blocking_tools = self.options.backend == "http" or self.options.judge.kind == \
            "model"  # network calls run off the rollout's event loop
        self._lock = threading.Lock()
        self._search: Any = None
        self._maker: Any = None
        self._prepared: Any = None

    # -- the engine, opened on first use ---------------------------------------------------
    @property
    def search_tools(self) -> Any:
        if self._search is None:
            with self._lock:
                if self._search is None:
                    from synth.search.engine import open_tools

                    self._search = open_tools(self.options)
        return self._search

    @property
    def maker(self) -> Any:
        if self._maker is None:
            from synth.search.maker import TaskMaker
            from synth.search.solver import tool_caller

            meta = self.search_tools.backend.meta()
            with self._lock:
                if self._maker is None:
                    self._maker = TaskMaker(self.options, meta,
                                            lambda: tool_caller(self.tools, {"notes": []}),
                                            self)
        return self._maker

    # -- tools -------------------------------------------------------------------------------
    @tool("Search the pages. Words match anywhere; \"quoted phrases\" match exactly; combine "
          "with AND, OR and parentheses. Returns ranked hits (id, title, url, snippet) and "
          "`total`, the number of matching pages.",
          {"query": {"type": "string", "minLength": 1, "maxLength": 2000},
           "top_k": {"type": "integer", "minimum": 1, "maximum": MAX_TOP_K,
                     "description": "how many hits to return (default 5)"}},
          required=["query"])
    def search(self, state: dict, query: str, top_k: int = 5) -> dict:
        return self.search_tools.search(query, top_k)

    @tool("Read a page's text, one window of about 2000 characters at a time.",
          {"doc_id": {"type": "string", "minLength": 1},
           "page": {"type": "integer", "minimum": 1, "description": "window number, from 1"}},
          required=["doc_id"])
    def open_page(self, state: dict, doc_id: str, page: int = 1) -> dict:
        return self.search_tools.open_page(doc_id, page)

    @tool("Find every occurrence of a text in a page (case-insensitive), with its context.",
          {"doc_id": {"type": "string", "minLength": 1},
           "pattern": {"type": "string", "minLength": 1, "maxLength": 500}})
    def find_in_page(self, state: dict, doc_id: str, pattern: str) -> dict:
        return self.search_tools.find_in_page(doc_id, pattern)

    @tool("List the pages a page links to (id and title).",
          {"doc_id": {"type": "string", "minLength": 1}})
    def list_links(self, state: dict, doc_id: str) -> dict:
        return self.search_tools.list_links(doc_id)

    @tool("Save a short note (kept for the whole task, even when the context is trimmed).",
          {"text": {"type": "string", "minLength": 1, "maxLength": MAX_NOTE_CHARS}},
          writes=True)
    def add_note(self, state: dict, text: str) -> dict:
        if len(state["notes"]) >= MAX_NOTES:
            raise ToolError(f"at most {MAX_NOTES} notes; read them and keep what matters")
        state["notes"].append(text)
        return {"saved": len(state["notes"])}

    @tool("Read the notes saved so far.")
    def read_notes(self, state: dict) -> dict:
        return {"notes": list(state["notes"])}

    # -- tasks -------------------------------------------------------------------------------
    # -- the build stage: the index, then the prepared tasks ---------------------------------
    def build_stage(self) -> BuildStage | None:
        from synth.search.build import build_stage

        prepared = self.options.prepared
        if prepared is None:
            return build_stage(self.options, None)
        from synth.pipeline.config import FamilySpec
        from synth.pipeline.plan import family_slots

        weights = FamilySpec(name=self.name, tasks=prepared.tasks,
                             difficulties=prepared.difficulties).weights(self.levels)
        slots = family_slots(prepared.seed, self.name, prepared.tasks, weights)
        return build_stage(self.options, [(s.seed, s.difficulty) for s in slots])

    def generate(self, seed: int, difficulty: int) -> Generated:
        """Construct and validate a task, or take it from the prepared tasks when configured."""
        if self.options.prepared is None:
            return super().generate(seed, difficulty)
        from synth.env import make_task_id
        from synth.search.build import PreparedStore

        if self._prepared is None:
            self._prepared = PreparedStore(self.options.prepared)
        task = self._prepared.get(make_task_id(self.name, difficulty, seed))
        return Generated(task) if task is not None else Generated(None, "not_prepared")

    def build(self, rng: random.Random, difficulty: int) -> Draft:
        from synth.search.construct import Rejected

        try:
            made = self.maker.make(rng, difficulty)
        except Rejected as exc:
            raise Discard(f"rejected:{exc.reason}") from None
        return Draft(state={"notes": []}, system_prompt=SYSTEM_PROMPT, user_turns=[made.prompt],
                     solutions=[made.solution], check=made.check, metadata=made.metadata)

    def harder(self, task: Task) -> Generated:
        """One level up: the same seed's task, or, when that one happens to need less work
        (tool calls plus clues to check), the first redraw at that level that needs more."""
        if task.difficulty >= max(self.levels):
            return Generated(None, "already_hardest")
        reason = "not_harder"
        for attempt in range(HARDER_TRIES):
            seed = task.seed if attempt == 0 else derive_seed(task.seed, "harder", attempt)
            generated = self.generate(seed, task.difficulty + 1)
            if generated.task is None:
                reason = generated.discard or reason
            elif effort(generated.task) > effort(task):
                return generated
        return Generated(None, reason)

    def verify(self, task: Task, state: Any, answer: str) -> Verdict:
        check = task.check
        if check["kind"] == "rubric":
            from synth.search.rubric import Rubric

            rubric = Rubric.from_json(check["rubric"])
            score, reasons = self.maker.judge.score(task.user_turns[0], rubric, answer or "")
            score = min(1.0, max(0.0, score))
            reason = f"rubric score {score:.2f} (pass >= {rubric.threshold}); " + \
                "; ".join(reasons)
            return Verdict(score, reason[:2000], score >= rubric.threshold)
        given = extract_answer(answer or "")
        accepted = {normalize_answer(n) for n in (check["answer"], *check["aliases"])}
        if normalize_answer(given) and normalize_answer(given) in accepted:
            return Verdict.ok(f"answer {given!r} matches")
        return Verdict.fail(f"expected {check['answer']!r} (or an alias), got {given!r}")

    def corruptions(self, task: Task, state: Any, answer: str,
                    rng: random.Random) -> list[Corruption]:
        if task.check["kind"] == "rubric":
            first, *rest = answer.split("\n")
            return [Corruption("first_subject_only", state, first),
                    Corruption("no_subjects", state, "\n".join(rest[-1:])),
                    Corruption("empty", state, "")]
        title = task.check["answer"]
        cut = rng.randrange(len(title))
        near = title[:cut] + ("x" if title[cut].lower() != "x" else "y") + title[cut + 1:]
        other = [c["answer"] for c in task.metadata.get("candidates", []) if c["answer"]]
        decoy = other[0] if other else task.metadata["chain"][-1]["title"]
        return [Corruption("near_miss", state, f"Answer: {near}"),
                Corruption("other_page", state, f"Answer: {decoy}"),
                Corruption("answer_and_more", state, f"Answer: {title} and {decoy}"),
                Corruption("empty", state, "")]
