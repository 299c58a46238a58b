"""Answer agents: several differently configured searchers try each constructed question. A
question any of them answers correctly is too easy and is dropped.

Scripted strategies stand in for models in miniature runs; they read the question's clues
(the stand-in for reading comprehension) but find everything else with the real tools:
`lookup` searches the question text once, `shallow` searches the answer's own keywords
literally (no decades turned into years, no hops),
`solver` walks the whole chain within its tool budget. Model agents (`synth.search.model`)
run the real rollout loop against an endpoint instead.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from synth.search.options import AnswerAgentSpec
from synth.search.question import ANSWER_FORMAT, Question
from synth.search.solver import Budgeted, OutOfBudget, ToolFailed, resolve
from synth.search.text import quote, words

Call = Callable[[str, dict[str, Any]], Any]


@dataclass
class Candidate:
    """One agent's answer, what it cost, and (after review) why it is wrong."""

    agent: str
    answer: str
    calls: int = 0
    note: str = ""
    wrong_because: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class AnswerAgent(ABC):
    """Answers a question with the search tools."""

    def __init__(self, spec: AnswerAgentSpec) -> None:
        self.spec = spec

    @property
    def name(self) -> str:
        return self.spec.name

    @abstractmethod
    def answer(self, question: Question, call: Call, seed: int) -> Candidate:
        """Never raises for a wrong or failed attempt: that is a candidate with a note."""


class ScriptedAnswerAgent(AnswerAgent):
    """A scripted searcher with a strategy, a tool budget and a temperature."""

    def answer(self, question: Question, call: Call, seed: int) -> Candidate:
        rng = random.Random(seed)
        caller = Budgeted(call, self.spec.tool_budget)
        try:
            titles = self._titles(question, caller)
        except OutOfBudget:
            return Candidate(self.name, "", caller.used, "tool budget spent")
        except ToolFailed as exc:
            return Candidate(self.name, "", caller.used, f"tool error: {exc}"[:200])
        if not titles:
            return Candidate(self.name, "", caller.used, "nothing found")
        pick = 0
        if len(titles) > 1 and rng.random() < min(0.9, 0.4 * self.spec.temperature):
            pick = rng.randrange(min(3, len(titles)))
        return Candidate(self.name, titles[pick], caller.used)

    def _titles(self, question: Question, caller: Budgeted) -> list[str]:
        strategy = self.spec.strategy
        if strategy == "solver":
            return [a["title"] for a in resolve(question.hops, caller, top_k=10).answers]
        query = ""
        if strategy == "shallow":  # the answer's own keywords, taken literally
            query = " AND ".join(quote(f.value) for f in question.hops[0].facts
                                 if f.kind == "phrase")
        if not query:
            text = question.text.replace(ANSWER_FORMAT, "")
            query = " ".join(w for w in words(text) if len(w) > 3)
        return [h["title"] for h in caller("search", query=query, top_k=5)["hits"]]


def answer_agent(spec: AnswerAgentSpec, family: Any = None) -> AnswerAgent:
    """The agent a spec describes (model agents run their rollouts on `family`'s tools)."""
    if spec.kind == "model":
        from synth.search.model import ModelAnswerAgent

        return ModelAnswerAgent(spec, family)
    return ScriptedAnswerAgent(spec)
