"""The question-construction agent (scripted): explore a long-tail entity with the search
tools, walk `depth - 1` links outwards, pick `breadth` facts per hop, and keep a combination
only when the solver proves the answer unique and the reference path fits the call budget;
of those it keeps the hardest (the answer's own facts alone leave it ambiguous, and the
reference path needs many calls).

It reads pages the way a model would (`open_page`, `list_links`, `search`), extracts facts with
the corpus's patterns (or, on a generic corpus, years and rare terms) and writes the clues
obfuscated (decades, ranges, descriptions instead of names).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from synth.search.facts import Fact, FactPattern, extract_facts
from synth.search.question import Hop, Question
from synth.search.solver import Budgeted, Caller, OutOfBudget, hop_query, resolve
from synth.search.text import contains_phrase, normalize_answer, quote, words

REFERENCE_TOP_K = 10
MAX_REFERENCE_CALLS = 12
MAX_PAGES_READ = 3
RARE_TERM_MAX_PAGES = 40
RARE_TERM_TRIES = 10
COMBINATIONS = 10
HARD_ENOUGH_CALLS = 6
_STOP = frozenset((  # function words, never a clue
    "about", "above", "after", "again", "against", "also", "among", "another", "because",
    "been", "before", "being", "below", "between", "both", "could", "does", "doing",
    "during", "each", "either", "every", "first", "from", "further", "have", "having",
    "here", "however", "into", "itself", "later", "many", "might", "more", "most", "much",
    "must", "neither", "other", "others", "over", "same", "several", "should", "since",
    "some", "such", "than", "that", "their", "them", "then", "there", "these", "they",
    "this", "those", "through", "under", "until", "upon", "used", "using", "very", "were",
    "what", "when", "where", "which", "while", "whose", "with", "within", "would", "your",
))


class Rejected(Exception):
    """This entity gives no acceptable question; `reason` is counted."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Page:
    """What the agent read of one entity."""

    doc_id: str
    title: str
    text: str
    aliases: tuple[str, ...] = ()


class ScriptedQuestionAgent:
    """Builds obfuscated multi-hop questions over any corpus the patterns describe."""

    def __init__(self, patterns: tuple[FactPattern, ...], generic: bool) -> None:
        self.patterns = patterns
        self.generic = generic

    def read(self, caller: Caller, doc_id: str) -> Page:
        first = caller("open_page", doc_id=doc_id, page=1)
        texts = [first["text"]]
        for page in range(2, min(first["pages"], MAX_PAGES_READ) + 1):
            texts.append(caller("open_page", doc_id=doc_id, page=page)["text"])
        return Page(doc_id, first["title"], "".join(texts), tuple(first.get("aliases", ())))

    def facts(self, caller: Caller, page: Page, rng: random.Random) -> list[Fact]:
        """Non-link facts of a page that do not give its own name away (on a generic corpus:
        years, rare terms and the other pages it names)."""
        found = [f for f in extract_facts(page.text, self.patterns, rng) if f.kind != "link"]
        if self.generic:
            found += self._rare_terms(caller, page, rng)
            found += [Fact("phrase", f"mentions “{link.value}”", link.value)
                      for link, _ in self.links(caller, page, rng)]
        names = [page.title, *page.aliases]
        return [f for f in found if not any(contains_phrase(f.clue, n) for n in names)]

    def _rare_terms(self, caller: Caller, page: Page, rng: random.Random) -> list[Fact]:
        """Words few pages use, checked with the search tool's match count."""
        title_words = set(words(page.title))
        pool = sorted({w for w in words(page.text) if len(w) >= 6 and w.isalpha()
                       and w not in _STOP and w not in title_words})
        rng.shuffle(pool)
        terms = []
        for word in pool[:RARE_TERM_TRIES]:
            total = caller("search", query=quote(word), top_k=1)["total"]
            if 1 <= total <= RARE_TERM_MAX_PAGES:
                terms.append(Fact("phrase", f"uses the term “{word}”", word))
        return terms

    def links(self, caller: Caller, page: Page, rng: random.Random) -> list[tuple[Fact, str]]:
        """(link fact, target id) for the pages this page names in its text."""
        targets = {normalize_answer(t["title"]): t
                   for t in caller("list_links", doc_id=page.doc_id)["links"]}
        found = [(fact, targets[normalize_answer(fact.value)]["id"])
                 for fact in extract_facts(page.text, self.patterns, rng)
                 if fact.kind == "link" and normalize_answer(fact.value) in targets]
        if found or not self.generic:
            return found
        return [(Fact("link", "refers to {that}", t["title"]), t["id"])
                for t in targets.values() if contains_phrase(page.text, t["title"])]

    def construct(self, entity_id: str, depth: int, breadth: int, rng: random.Random,
                  caller: Caller) -> Question:
        """A question whose unique answer is `entity_id`; raises Rejected."""
        pages = [self.read(caller, entity_id)]
        links: list[Fact] = []
        for hop in range(1, depth):
            seen = {p.doc_id for p in pages}
            options = [(f, t) for f, t in self.links(caller, pages[-1], rng) if t not in seen]
            if hop < depth - 1:  # the chain goes on from this page: it must name another
                options = [(f, t) for f, t in options
                           if any(x["id"] not in seen | {t} for x in
                                  caller("list_links", doc_id=t)["links"])]
            if not options:
                raise Rejected("no_link_to_follow")
            fact, target = rng.choice(options)
            page = self.read(caller, target)
            links.append(Fact("link", fact.clue, page.title, noun=fact.noun))
            pages.append(page)
        pools = [self.facts(caller, p, rng) for p in pages]
        names = [n for p in pages for n in (p.title, *p.aliases)]
        pools = [[f for f in pool if not any(contains_phrase(f.clue, n) for n in names)]
                 for pool in pools]
        if any(len(pool) < breadth for pool in pools):
            raise Rejected("too_few_facts")
        if not any(f.searchable for f in pools[-1]):
            raise Rejected("no_searchable_fact")
        best: tuple[tuple[bool, int], Question] | None = None
        last_reason = "not_unique"
        for _ in range(COMBINATIONS):
            hops = [Hop(p.doc_id, p.title, self._pick(pool, breadth, rng, p is pages[-1]),
                        links[i] if i < len(links) else None)
                    for i, (p, pool) in enumerate(zip(pages, pools, strict=True))]
            counter = Budgeted(lambda name, args: caller(name, **args), MAX_REFERENCE_CALLS)
            try:
                resolution = resolve(hops, counter, top_k=REFERENCE_TOP_K)
            except OutOfBudget:  # the reference path would not fit the budget
                last_reason = "reference_too_long"
                continue
            if not resolution.complete:
                last_reason = "too_many_matches"
                continue
            if [a["id"] for a in resolution.answers] != [entity_id]:
                last_reason = "not_unique" if resolution.answers else "answer_not_found"
                continue
            hardness = (self._ambiguous_alone(hops[0], entity_id, caller), counter.used)
            if best is None or hardness > best[0]:
                best = (hardness, Question(hops, list(pages[0].aliases)))
            if hardness >= (True, HARD_ENOUGH_CALLS):
                break
        if best is None:
            raise Rejected(last_reason)
        return best[1]

    @staticmethod
    def _ambiguous_alone(hop: Hop, entity_id: str, caller: Caller) -> bool:
        """True when the answer's own searchable facts do not single it out on top."""
        query = hop_query(hop, None)
        if not query:
            return True
        hits = caller("search", query=query, top_k=2)["hits"]
        return not hits or hits[0]["id"] != entity_id or len(hits) > 1

    @staticmethod
    def _pick(pool: list[Fact], breadth: int, rng: random.Random, innermost: bool) -> list[Fact]:
        """`breadth` facts; the innermost hop gets at least one phrase to search for."""
        chosen = rng.sample(pool, breadth)
        if innermost and not any(f.searchable for f in chosen):
            phrase = rng.choice([f for f in pool if f.searchable])
            chosen[rng.randrange(breadth)] = phrase
        return chosen


def reference_solution(question: Question) -> Any:
    """The reference: resolve the chain through the tools, answer with the one title left."""

    def solve(box: Any) -> str:
        resolution = resolve(question.hops, box, top_k=REFERENCE_TOP_K)
        titles = [a["title"] for a in resolution.answers]
        if len(titles) != 1:
            raise ValueError(f"the reference resolves to {len(titles)} pages")
        return f"Answer: {titles[0]}"

    return solve
