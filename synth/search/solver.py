"""Resolve a chain of facts to the set of pages that pass every check, using only the search
tools (through any caller: a recording toolbox, a budgeted one, the verifier's).

Per hop, innermost first: one conjunctive search (every phrase fact, and a mention of any page
the deeper hop resolved to) gives the candidates; decade and range facts are then checked on
each candidate with `find_in_page`. The set is *complete* only when every search returned all
of its matches, which is what a proof of uniqueness needs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from synth.search.facts import Fact
from synth.search.question import Hop
from synth.search.text import quote
from synth.search.tools import MAX_TOP_K


class Caller(Protocol):
    """Calls tools by name (one round) or several at once (one round)."""

    def __call__(self, name: str, /, **arguments: Any) -> Any: ...

    def parallel(self, *calls: tuple[str, dict[str, Any]]) -> list[Any]: ...


class OutOfBudget(Exception):
    """The caller's tool budget is spent."""


class ToolFailed(Exception):
    """A tool answered with an error result (its text is the message)."""


def tool_caller(tools: dict[str, Any], state: Any) -> Callable[[str, dict[str, Any]], Any]:
    """`call(name, arguments)` over a family's tools: the decoded result, or ToolFailed."""
    from synth.env.tools import execute_call

    def call(name: str, arguments: dict[str, Any]) -> Any:
        result = execute_call(tools, state, name, arguments)
        if not result.ok:
            raise ToolFailed(result.text)
        return result.value if result.value is not None else json.loads(result.text)

    return call


class Budgeted:
    """A caller that allows at most `budget` tool calls (`None`: no limit) and counts them."""

    def __init__(self, call: Callable[[str, dict[str, Any]], Any], budget: int | None) -> None:
        self._call, self.budget, self.used = call, budget, 0

    def _spend(self, n: int) -> None:
        if self.budget is not None and self.used + n > self.budget:
            raise OutOfBudget
        self.used += n

    def __call__(self, name: str, /, **arguments: Any) -> Any:
        self._spend(1)
        return self._call(name, arguments)

    def parallel(self, *calls: tuple[str, dict[str, Any]]) -> list[Any]:
        self._spend(len(calls))
        return [self._call(name, args) for name, args in calls]


@dataclass
class Resolution:
    """Pages passing every check, per hop (innermost last), and whether the sets are complete."""

    per_hop: list[list[dict[str, str]]] = field(default_factory=list)
    complete: bool = True

    @property
    def answers(self) -> list[dict[str, str]]:
        return self.per_hop[0] if self.per_hop else []


def any_of(phrases: list[str]) -> str:
    """A query matching pages that contain at least one of `phrases`."""
    quoted = [quote(p) for p in phrases]
    return quoted[0] if len(quoted) == 1 else "(" + " OR ".join(quoted) + ")"


def hop_query(hop: Hop, deeper_titles: list[str] | None) -> str:
    """The conjunctive query for one hop: each searchable fact, and a mention of a page the
    deeper hop resolved to."""
    groups = [f.search_terms for f in hop.facts if f.searchable]
    if deeper_titles:
        groups.append(deeper_titles)
    return " AND ".join(any_of(g) for g in groups)


def passes(fact: Fact, found: dict[str, Any]) -> bool:
    """Does a `find_in_page` result for `fact.probe` show the fact holds?"""
    return any(fact.holds(m["context"]) for m in found.get("matches", []))


def filter_candidates(caller: Caller, hits: list[dict[str, str]],
                      filters: list[Fact]) -> list[dict[str, str]]:
    """The hits whose pages pass every decade/range fact (one round of `find_in_page`)."""
    if not filters or not hits:
        return hits
    calls = [("find_in_page", {"doc_id": h["id"], "pattern": f.probe})
             for h in hits for f in filters]
    found = caller.parallel(*calls)
    kept = []
    for i, hit in enumerate(hits):
        results = found[i * len(filters):(i + 1) * len(filters)]
        if all(passes(f, r) for f, r in zip(filters, results, strict=True)):
            kept.append(hit)
    return kept


def resolve(hops: list[Hop], caller: Caller, top_k: int = MAX_TOP_K,
            stop_at: int = 0) -> Resolution:
    """Resolve hops from the innermost to `hops[stop_at]`; raises OutOfBudget from the caller."""
    resolution = Resolution()
    deeper: list[str] | None = None
    for at in range(len(hops) - 1, stop_at - 1, -1):
        hop = hops[at]
        query = hop_query(hop, deeper)
        if not query:
            resolution.per_hop.insert(0, [])
            resolution.complete = False
            return resolution
        found = caller("search", query=query, top_k=top_k)
        hits = [{"id": h["id"], "title": h["title"]} for h in found["hits"]]
        if found["total"] > len(hits):
            resolution.complete = False
        kept = filter_candidates(caller, hits, [f for f in hop.facts if not f.searchable])
        resolution.per_hop.insert(0, kept)
        deeper = [k["title"] for k in kept]
        if not deeper:
            break
    while len(resolution.per_hop) < len(hops) - stop_at:
        resolution.per_hop.insert(0, [])
    return resolution


def resolve_by_reading(hops: list[Hop], caller: Caller,
                       top_k: int = MAX_TOP_K) -> Resolution:
    """The same sets by another route: the smallest complete single-fact search gives the
    pool, and every other check is read on each candidate's page (`find_in_page`), so a
    disagreement between the index and the text cannot go unnoticed."""
    resolution = Resolution()
    deeper: list[str] | None = None
    for hop in reversed(hops):
        groups = [f.search_terms for f in hop.facts if f.searchable]
        if deeper:
            groups.append(deeper)
        pool: list[dict[str, str]] | None = None
        for group in groups:
            found = caller("search", query=any_of(group), top_k=top_k)
            if found["total"] <= len(found["hits"]) and (pool is None or
                                                         len(found["hits"]) < len(pool)):
                pool = [{"id": h["id"], "title": h["title"]} for h in found["hits"]]
        if pool is None:
            found = caller("search", query=hop_query(hop, deeper), top_k=top_k)
            resolution.complete = resolution.complete and found["total"] <= len(found["hits"])
            pool = [{"id": h["id"], "title": h["title"]} for h in found["hits"]]
        checks = list(hop.facts)
        if deeper:
            checks += [Fact("link", "", title) for title in deeper]
        kept = []
        for hit in pool:
            results = caller.parallel(*(("find_in_page", {"doc_id": hit["id"],
                                                          "pattern": f.probe}) for f in checks))
            facts_ok = all(passes(f, r) for f, r in zip(hop.facts, results[:len(hop.facts)],
                                                        strict=True))
            links = results[len(hop.facts):]
            if facts_ok and (not deeper or any(passes(Fact("link", "", t), r)
                                               for t, r in zip(deeper, links, strict=True))):
                kept.append(hit)
        resolution.per_hop.insert(0, kept)
        deeper = [k["title"] for k in kept]
        if not deeper:
            break
    while len(resolution.per_hop) < len(hops):
        resolution.per_hop.insert(0, [])
    return resolution
