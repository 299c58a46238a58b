"""Task construction end to end, as the report describes it: sample a long-tail entity, let
the question agent write a question (or a rubric task), let every answer agent try it, let the
verifier review it; keep it only if the ground truth is verified and every candidate is
verifiably wrong. Rejections are counted by reason.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from synth.search.answerers import Call, answer_agent
from synth.search.construct import (
    Rejected,
    ScriptedQuestionAgent,
    reference_solution,
)
from synth.search.engine import patterns_of
from synth.search.options import SearchOptions
from synth.search.question import Question
from synth.search.rubric import construct_rubric, judge, rubric_solution
from synth.search.solver import Budgeted, ToolFailed
from synth.search.verification import Review, verifier


@dataclass
class Made:
    """A constructed, reviewed task before the family validates its reference."""

    kind: str
    prompt: str
    check: dict[str, Any]
    metadata: dict[str, Any]
    solution: Callable[[Any], str]


@dataclass
class Outcome:
    """A question with its review (the unit the verifier and the tests look at)."""

    question: Question
    review: Review
    candidates: list[Any] = field(default_factory=list)


class TaskMaker:
    """Builds tasks for one family instance; `call_factory()` gives a fresh tool caller."""

    def __init__(self, options: SearchOptions, meta: dict[str, Any],
                 call_factory: Callable[[], Call], family: Any = None) -> None:
        self.options = options
        self.meta = meta
        self.call_factory = call_factory
        patterns, generic = patterns_of(meta)
        self.question_agent = _question_agent(options, patterns, generic, family)
        self.answer_agents = [answer_agent(spec, family) for spec in options.answer_agents]
        self.verifier = verifier(options.verifier, options.verification_passes, family)
        self.judge = judge(options.judge, family)
        self.rejections: Counter[str] = Counter()
        if not meta.get("long_tail"):
            raise ValueError("the index lists no long-tail entities (is the corpus empty?)")

    def make(self, rng: random.Random, level: int) -> Made:
        """A kept task, trying up to `options.attempts` entities; raises Rejected."""
        rubric = rng.random() < self.options.rubric_fraction
        seen: Counter[str] = Counter()
        reason = "no_attempt"
        for _ in range(self.options.attempts):
            entity = rng.choice(self.meta["long_tail"])
            try:
                made = (self._rubric(entity, level, rng) if rubric
                        else self._question(entity, level, rng))
            except Rejected as exc:
                reason = exc.reason
                seen[reason] += 1
                self.rejections[reason] += 1
                continue
            made.metadata["rejections"] = dict(sorted(seen.items()))
            return made
        raise Rejected(reason)

    def review(self, question: Question, seed: int) -> Outcome:
        """Every answer agent tries the question, then the verifier reviews it."""
        call = self.call_factory()
        candidates = [agent.answer(question, call, seed + i)
                      for i, agent in enumerate(self.answer_agents)]
        return Outcome(question, self.verifier.review(question, candidates, call), candidates)

    def _question(self, entity: str, level: int, rng: random.Random) -> Made:
        depth, breadth = self.options.shape(level)
        try:
            question = self.question_agent.construct(entity, depth, breadth, rng,
                                                     Budgeted(self.call_factory(), None))
        except ToolFailed as exc:
            raise Rejected("construction_tool_error") from exc
        outcome = self.review(question, rng.getrandbits(62))
        if not outcome.review.accepted:
            raise Rejected(outcome.review.reason)
        data = question.to_json()
        metadata = {
            "prompt_role": "developer", "tools_in": self.options.tools_in, "task_type": "qa",
            "corpus": self.options.corpus,
            "question": data["text"], "answer": question.answer, "aliases": question.aliases,
            "evidence": question.evidence, "hops": depth, "breadth": breadth,
            "constraints": question.n_constraints, "chain": data["hops"],
            "candidates": [c.to_json() for c in outcome.review.candidates],
            "verification": outcome.review.passes,
        }
        check = {"kind": "qa", "answer": question.answer, "aliases": question.aliases}
        return Made("qa", question.text, check, metadata, reference_solution(question))

    def _rubric(self, entity: str, level: int, rng: random.Random) -> Made:
        per_subject = level + 1
        try:
            rubric, prompt = construct_rubric(self.question_agent, entity, per_subject,
                                              self.options.rubric_threshold, rng,
                                              Budgeted(self.call_factory(), None))
        except ToolFailed as exc:
            raise Rejected("construction_tool_error") from exc
        metadata = {
            "prompt_role": "developer", "tools_in": self.options.tools_in,
            "task_type": "rubric", "corpus": self.options.corpus,
            "question": prompt, "evidence": [s["id"] for s in rubric.subjects],
            "constraints": len(rubric.criteria), "hops": 2, "breadth": per_subject,
        }
        check = {"kind": "rubric", "rubric": rubric.to_json()}
        return Made("rubric", prompt, check, metadata, rubric_solution(rubric))


def _question_agent(options: SearchOptions, patterns: Any, generic: bool, family: Any) -> Any:
    if options.question_agent.kind == "model":
        from synth.search.model import ModelQuestionAgent

        return ModelQuestionAgent(options.question_agent, patterns, generic, family)
    return ScriptedQuestionAgent(patterns, generic)
