"""A constructed question: a chain of hops from the answer entity outwards, each described
only by its facts, and the rendering of the chain as obfuscated question text.

`hops[0]` is the answer; `hops[i]`'s page mentions `hops[i + 1]`'s title (its `link` fact), so
a solver resolves the innermost hop first and walks back to the answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from synth.search.facts import Fact

ANSWER_FORMAT = "End your reply with a final line of the form `Answer: <exact page title>`."


@dataclass
class Hop:
    """One entity of the chain: its page, the facts the question gives, and its link."""

    doc_id: str
    title: str
    facts: list[Fact]
    link: Fact | None = None

    def to_json(self) -> dict[str, Any]:
        return {"doc_id": self.doc_id, "title": self.title,
                "facts": [f.to_json() for f in self.facts],
                "link": self.link.to_json() if self.link else None}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Hop:
        link = data.get("link")
        return cls(data["doc_id"], data["title"], [Fact.from_json(f) for f in data["facts"]],
                   Fact.from_json(link) if link else None)


@dataclass
class Question:
    """A QA pair with its evidence: the answer is `hops[0].title` (or one of `aliases`)."""

    hops: list[Hop]
    aliases: list[str] = field(default_factory=list)
    text: str = ""

    def __post_init__(self) -> None:
        if not self.text:
            self.text = render_question(self.hops)

    @property
    def answer(self) -> str:
        return self.hops[0].title

    @property
    def answer_id(self) -> str:
        return self.hops[0].doc_id

    @property
    def evidence(self) -> list[str]:
        return [h.doc_id for h in self.hops]

    @property
    def n_constraints(self) -> int:
        return sum(len(h.facts) + (h.link is not None) for h in self.hops)

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "answer": self.answer, "aliases": self.aliases,
                "evidence": self.evidence, "hops": [h.to_json() for h in self.hops]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Question:
        return cls([Hop.from_json(h) for h in data["hops"]], list(data.get("aliases", [])),
                   data.get("text", ""))


def describe(hops: list[Hop], at: int = 0) -> str:
    """The clauses that describe `hops[at]`, with every deeper hop nested as a description."""
    hop = hops[at]
    clauses = [f.clue for f in hop.facts]
    if hop.link is not None and at + 1 < len(hops):
        inner = f"{hop.link.noun} that {describe(hops, at + 1)}"
        clauses.append(hop.link.clue.replace("{that}", f"({inner})"))
    if len(clauses) == 1:
        return clauses[0]
    return ", ".join(clauses[:-1]) + " and " + clauses[-1]


def render_question(hops: list[Hop]) -> str:
    """The question text: obfuscated clauses only, never a name from the chain."""
    return f"Find the page about the subject that {describe(hops)}. {ANSWER_FORMAT}"
