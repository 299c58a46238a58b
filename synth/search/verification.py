"""The verification agent: with the search tools, over several passes, confirm that the ground
truth holds on its evidence pages and is the only page passing every check, and find for each
candidate answer why it is wrong. A question is kept only if all of that succeeds.

Passes: (1) every fact of every hop holds on the evidence pages; (2) the solver, with the
widest searches, resolves the chain to exactly the answer, and every search was complete;
(3) the same sets by an independent route (the smallest single-fact search as the pool,
every check read on the candidate pages). Then each
candidate: the same answer (or an alias, or a name of the answer page) means the question is
too easy; otherwise the candidate's page is located and a failing fact named.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from synth.search.answerers import Call, Candidate
from synth.search.question import Question
from synth.search.solver import (
    Budgeted,
    ToolFailed,
    passes,
    resolve,
    resolve_by_reading,
)
from synth.search.text import normalize_answer, quote


@dataclass
class Review:
    """The verifier's conclusion: kept or not (with the reason), per pass and per candidate."""

    accepted: bool
    reason: str
    passes: list[str] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "reason": self.reason, "passes": self.passes,
                "candidates": [c.to_json() for c in self.candidates]}


class Verifier(ABC):
    """Reviews a question and the answer agents' candidates."""

    @abstractmethod
    def review(self, question: Question, candidates: list[Candidate], call: Call) -> Review:
        """Never raises for a bad question: that is a rejected review."""


def matches_answer(question: Question, answer: str) -> bool:
    """Normalized equality with the answer or one of its aliases."""
    given = normalize_answer(answer)
    return bool(given) and given in {normalize_answer(n) for n in
                                     (question.answer, *question.aliases)}


class ScriptedVerifier(Verifier):
    """Checks everything with the tools; `passes` >= 2 adds the independent resolution."""

    def __init__(self, passes: int = 2) -> None:
        self.n_passes = passes

    def review(self, question: Question, candidates: list[Candidate], call: Call) -> Review:
        caller = Budgeted(call, None)
        notes: list[str] = []
        try:
            problem = self._ground_truth(question, caller)
            if problem:
                return Review(False, "ground_truth_unverified", [problem])
            notes.append("ground truth holds on every evidence page")
            first = resolve(question.hops, caller)
            verdict = _uniqueness(question, first.answers, first.complete)
            if verdict:
                return Review(False, verdict, notes)
            notes.append("the answer is the only page passing every check")
            if self.n_passes >= 2:
                second = resolve_by_reading(question.hops, caller)
                if [a["id"] for a in second.answers] != [question.answer_id] or \
                        not second.complete:
                    return Review(False, "passes_disagree", notes)
                notes.append("an independent resolution agrees")
            reviewed = []
            for candidate in candidates:
                why = self._refute(question, candidate, caller)
                if why is None:
                    return Review(False, f"answered_by:{candidate.agent}", notes)
                if not why:
                    return Review(False, f"candidate_unrefuted:{candidate.agent}", notes)
                reviewed.append(Candidate(candidate.agent, candidate.answer, candidate.calls,
                                          candidate.note, why))
        except ToolFailed as exc:
            return Review(False, "verifier_tool_error", [*notes, str(exc)[:200]])
        return Review(True, "verified", notes, reviewed)

    def _ground_truth(self, question: Question, caller: Budgeted) -> str:
        for at, hop in enumerate(question.hops):
            checks = list(hop.facts) + ([hop.link] if hop.link is not None else [])
            found = caller.parallel(*(("find_in_page", {"doc_id": hop.doc_id,
                                                        "pattern": f.probe}) for f in checks))
            for fact, result in zip(checks, found, strict=True):
                if not passes(fact, result):
                    return f"hop {at} ({hop.doc_id}): '{fact.clue}' does not hold"
        return ""

    def _refute(self, question: Question, candidate: Candidate, caller: Budgeted) -> str | None:
        """Why the candidate is wrong; None when it is right, "" when no reason was found."""
        if not normalize_answer(candidate.answer):
            return f"no answer ({candidate.note or 'empty reply'})"
        if matches_answer(question, candidate.answer):
            return None
        found = caller("search", query=quote(candidate.answer), top_k=10)
        named = [h for h in found["hits"]
                 if normalize_answer(h["title"]) == normalize_answer(candidate.answer)]
        if not named:
            return f"no page is titled {candidate.answer!r}"
        if any(h["id"] == question.answer_id for h in named):
            return None
        page = named[0]
        hop = question.hops[0]
        results = caller.parallel(*(("find_in_page", {"doc_id": page["id"], "pattern": f.probe})
                                    for f in hop.facts))
        for fact, result in zip(hop.facts, results, strict=True):
            if not passes(fact, result):
                return f"{page['title']} ({page['id']}) does not satisfy '{fact.clue}'"
        if hop.link is None:
            return ""
        return f"{page['title']} ({page['id']}) does not name {hop.link.noun} matching the clues"


def _uniqueness(question: Question, answers: list[dict[str, str]], complete: bool) -> str:
    if not complete:
        return "uniqueness_unproven"
    ids = [a["id"] for a in answers]
    if question.answer_id not in ids:
        return "ground_truth_not_found"
    return "not_unique" if len(ids) > 1 else ""


def verifier(spec: Any, passes: int, family: Any = None) -> Verifier:
    """The verifier a spec describes (scripted, or model-backed after the scripted checks)."""
    if getattr(spec, "kind", "scripted") == "model":
        from synth.search.model import ModelVerifier

        return ModelVerifier(spec, passes, family)
    return ScriptedVerifier(passes)
