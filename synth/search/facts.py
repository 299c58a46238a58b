"""Facts: what a question may say about an entity, and how a page is checked against it.

A fact pairs an obfuscated *clue* (dates become decades, numbers become ranges, names become
descriptions of the named entity) with a *check* that every entity the clue describes must
pass: a phrase on the page, a year in a decade, a number in a range, or a mention of the next
entity in the chain. The check is never stricter than the clue, so "only one entity passes
every check" proves the answer unique under the clue's own meaning.

Patterns say where facts are on a page: a regular expression with one group, a kind and a
clue template. A corpus brings its own (the generated encyclopedia's grammar) and the generic
ones (years, mentions of other titles, rare terms) work on any text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from synth.search.text import contains_phrase, words

Kind = Literal["phrase", "decade", "range", "link"]


class FactPattern(BaseModel):
    """Where one kind of fact sits in a page's text, and how a question phrases it.

    `clue` may use {value} or {a_value} (phrase, the latter with its article), {decade}
    (decade), {lo}/{hi} (range) and {that} (link: replaced by `noun` + " that " + the linked
    entity's own clues)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    regex: str = Field(min_length=1, description="a regular expression with one group")
    kind: Kind
    clue: str = Field(min_length=1)
    noun: str = Field("an entry", description="how a linked entity is named (link facts)")

    @field_validator("regex")
    @classmethod
    def _one_group(cls, value: str) -> str:
        try:
            compiled = re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        if compiled.groups != 1:
            raise ValueError(f"needs exactly one group, has {compiled.groups}")
        return value


GENERIC_PATTERNS = (
    FactPattern(regex=r"\b(1[5-9]\d\d|20[0-4]\d)\b", kind="decade",
                clue="mentions a year in the {decade}s"),
)


@dataclass(frozen=True)
class Fact:
    """One clue about one entity and its check. `value` is the phrase (phrase), the year or
    number (decade, range) or the linked title (link); `lo`/`hi` bound decades and ranges."""

    kind: str
    clue: str
    value: str
    regex: str = ""
    lo: int = 0
    hi: int = 0
    noun: str = "an entry"

    @property
    def searchable(self) -> bool:
        """Phrases, and decades stated in a fixed wording ("was born in 1873"), narrow a
        search; ranges and bare years are checked on candidate pages."""
        return self.kind == "phrase" or (self.kind == "decade" and not self.probe.isdigit())

    @property
    def search_terms(self) -> list[str]:
        """Phrases of which a page passing this fact contains at least one (for searching)."""
        if self.kind == "phrase":
            return [self.value]
        if self.searchable:
            return [f"{self.probe} {year}" for year in range(self.lo, self.hi + 1)]
        return []

    @property
    def probe(self) -> str:
        """What to look for with `find_in_page` to check this fact on a page."""
        if self.kind in ("phrase", "link"):
            return self.value
        literal = re.sub(r"\\[bBsSdDwW]|[()\[\]{}+*?^$|\\]", " ", self.regex.split("(")[0])
        head = " ".join(literal.split())
        return head or str(self.lo)[: 3 if self.kind == "decade" else 1]

    def holds(self, text: str, linked: str | None = None) -> bool:
        """Does a page pass this check? Link facts test `linked` (a title) instead of value."""
        if self.kind == "phrase":
            return contains_phrase(text, self.value)
        if self.kind == "link":
            return contains_phrase(text, linked if linked is not None else self.value)
        return any(self.lo <= n <= self.hi for n in numbers_matching(self.regex, text))

    def to_json(self) -> dict[str, Any]:
        data = {"kind": self.kind, "clue": self.clue, "value": self.value}
        if self.kind in ("decade", "range"):
            data.update(regex=self.regex, lo=self.lo, hi=self.hi)
        if self.kind == "link":
            data["noun"] = self.noun
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Fact:
        return cls(**data)


def numbers_matching(regex: str, text: str) -> list[int]:
    """The integers captured by `regex` in `text` (thousands separators allowed)."""
    found = []
    for match in re.finditer(regex, text):
        digits = match.group(1).replace(",", "")
        if digits.isdigit():
            found.append(int(digits))
    return found


def extract_facts(text: str, patterns: tuple[FactPattern, ...], rng: Any) -> list[Fact]:
    """Every fact the patterns find on a page, with obfuscated clues (decades, ranges)."""
    facts: list[Fact] = []
    seen: set[tuple[str, str]] = set()
    for pattern in patterns:
        for match in re.finditer(pattern.regex, text):
            value = " ".join(match.group(1).split())
            if (pattern.regex, value) in seen or not words(value):
                continue
            seen.add((pattern.regex, value))
            fact = _fact(pattern, value, rng)
            if fact is not None:
                facts.append(fact)
    return facts


def _fact(pattern: FactPattern, value: str, rng: Any) -> Fact | None:
    if pattern.kind == "phrase":
        return Fact("phrase", pattern.clue.format(value=value, a_value=with_article(value)),
                    value)
    if pattern.kind == "link":
        return Fact("link", pattern.clue, value, noun=pattern.noun)
    number = value.replace(",", "")
    if not number.isdigit():
        return None
    n = int(number)
    if pattern.kind == "decade":
        lo = n - n % 10
        return Fact("decade", pattern.clue.format(decade=lo), value, pattern.regex, lo, lo + 9)
    lo, hi = obfuscated_range(n, rng)
    return Fact("range", pattern.clue.format(lo=f"{lo:,}", hi=f"{hi:,}"), value,
                pattern.regex, lo, hi)


def obfuscated_range(n: int, rng: Any) -> tuple[int, int]:
    """A round range that holds `n` without giving it away (n is not at a fixed place)."""
    step = 10 ** max(0, len(str(n)) - 1) if n >= 20 else 5
    lo = n // step * step
    choices = [(lo, lo + step), (lo, lo + 2 * step)]
    if lo - step > 0:
        choices.append((lo - step, lo + step))
    return rng.choice(choices)


def with_article(phrase: str) -> str:
    """'a guild', 'an academy'."""
    return ("an " if phrase[:1].lower() in "aeiou" else "a ") + phrase
