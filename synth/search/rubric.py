"""Rubric tasks ("compare X and Y"): open-ended answers scored against per-task criteria by a
judge, as the report scores search answers with a generative reward model.

Construction reads two linked pages with the tools and turns their facts into criteria, each
met when the answer states the page's exact value. The scripted judge checks each criterion's
required phrases in the answer; the model judge (`synth.search.model`) asks an endpoint.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import Any

from synth.search.construct import Page, Rejected, ScriptedQuestionAgent
from synth.search.facts import Fact, extract_facts
from synth.search.solver import Caller
from synth.search.text import contains_phrase, quote


@dataclass
class Criterion:
    """One thing a good answer does; met when every phrase of `requires` is in the answer."""

    text: str
    requires: list[str]
    weight: float = 1.0
    subject: str = ""


@dataclass
class Rubric:
    """The criteria of one task, its subjects and the score that counts as a pass."""

    subjects: list[dict[str, str]]
    criteria: list[Criterion]
    threshold: float
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Rubric:
        return cls(list(data["subjects"]), [Criterion(**c) for c in data["criteria"]],
                   float(data["threshold"]), list(data.get("notes", [])))


def rubric_prompt(rubric: Rubric, hints: dict[str, list[str]]) -> str:
    """The task text: what to compare and which points to cover (clues, never the values)."""
    first, second = (s["title"] for s in rubric.subjects)
    lines = [f"Compare {first} and {second} using the search tools. For each, report what "
             "its page says on these points, with the exact values:"]
    for subject in rubric.subjects:
        lines.append(f"- {subject['title']}: " + "; ".join(hints[subject["id"]]) + ".")
    lines.append("Then say how the two are connected, and cite the page ids you used.")
    return "\n".join(lines)


def construct_rubric(agent: ScriptedQuestionAgent, entity_id: str, per_subject: int,
                     threshold: float, rng: random.Random,
                     caller: Caller) -> tuple[Rubric, str]:
    """A rubric over an entity and a page it names; raises Rejected."""
    first = agent.read(caller, entity_id)
    options = agent.links(caller, first, rng)
    if not options:
        raise Rejected("no_link_to_follow")
    _, other_id = rng.choice(options)
    second = agent.read(caller, other_id)
    criteria: list[Criterion] = []
    hints: dict[str, list[str]] = {}
    for page in (first, second):
        facts = [f for f in extract_facts(page.text, agent.patterns, rng)
                 if f.kind != "link" or contains_phrase(page.text, f.value)]
        if len(facts) < per_subject:
            raise Rejected("too_few_facts")
        chosen = rng.sample(facts, per_subject)
        hints[page.doc_id] = [_hint(f) for f in chosen]
        criteria += [Criterion(f"states, for {page.title}, the exact value behind "
                               f"'{_hint(f)}' ({f.value})", [f.value], 1.0, page.doc_id)
                     for f in chosen]
    criteria.append(Criterion(f"says how {first.title} and {second.title} are connected",
                              [first.title, second.title]))
    subjects = [{"id": p.doc_id, "title": p.title} for p in (first, second)]
    rubric = Rubric(subjects, criteria, threshold)
    return rubric, rubric_prompt(rubric, hints)


def _hint(fact: Fact) -> str:
    """The point to cover, without the value (links name the kind of page they point to)."""
    return fact.clue.replace("{that}", fact.noun)


def rubric_solution(rubric: Rubric) -> Any:
    """The reference: find and read both pages, then report the sentences that carry each
    required value (everything it writes comes from the tool results)."""

    def solve(box: Any) -> str:
        pages: list[Page] = []
        for subject in rubric.subjects:
            box("search", query=quote(subject["title"]), top_k=3)
            opened = box("open_page", doc_id=subject["id"], page=1)
            pages.append(Page(opened["id"], opened["title"], opened["text"]))
        lines = []
        for page in pages:
            needed = [v for c in rubric.criteria if c.subject == page.doc_id
                      for v in c.requires]
            sentences = [s.strip() for s in page.text.replace("\n", " ").split(". ")]
            said = [s for s in sentences if any(contains_phrase(s, v) for v in needed)]
            lines.append(f"{page.title} ({page.doc_id}): " + ". ".join(said).rstrip(".") + ".")
        lines.append(f"{pages[0].title} names {pages[1].title} on its page, which is how the "
                     "two are connected.")
        return "\n".join(lines)

    return solve


class Judge(ABC):
    """Scores an answer against a rubric: (score in [0, 1], a reason per criterion)."""

    @abstractmethod
    def score(self, prompt: str, rubric: Rubric, answer: str) -> tuple[float, list[str]]:
        """Never raises for a bad answer."""


class ScriptedJudge(Judge):
    """Met when the answer contains every required phrase (as whole words)."""

    def score(self, prompt: str, rubric: Rubric, answer: str) -> tuple[float, list[str]]:
        total = sum(c.weight for c in rubric.criteria) or 1.0
        got, reasons = 0.0, []
        for criterion in rubric.criteria:
            missing = [r for r in criterion.requires if not contains_phrase(answer, r)]
            if missing:
                reasons.append(f"not met: {criterion.text} (missing {', '.join(missing)})")
            else:
                got += criterion.weight
                reasons.append(f"met: {criterion.text}")
        return got / total, reasons


def judge(spec: Any, family: Any = None) -> Judge:
    """The judge a spec describes."""
    if getattr(spec, "kind", "scripted") == "model":
        from synth.search.model import ModelJudge

        return ModelJudge(spec, family)
    return ScriptedJudge()
