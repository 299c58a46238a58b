"""Links derived from mentions: a document links to every other document whose title (or
alias) occurs in its text as whole words.

One Aho-Corasick automaton (pyahocorasick) over all normalized titles scans each text once,
so the cost is linear in the corpus size, whatever the number of titles.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import replace

from synth.search.corpus import Document
from synth.search.text import word_key

MIN_TITLE_CHARS = 3


def _names(doc: Document) -> list[str]:
    return [doc.title, *doc.aliases]


def derive_links(documents: Sequence[Document], *, min_title_chars: int = MIN_TITLE_CHARS,
                 overwrite: bool = False) -> list[Document]:
    """Documents with `links` filled from mentions where absent (or everywhere if `overwrite`).

    Titles shorter than `min_title_chars` or made only of digits are not matched (they would
    link almost every page). Links keep the order of first mention."""
    import ahocorasick

    automaton = ahocorasick.Automaton()
    owners: dict[str, str] = {}
    for doc in documents:
        for name in _names(doc):
            key = word_key(name)
            plain = key.strip()
            if len(plain) < min_title_chars or plain.replace(" ", "").isdigit():
                continue
            owners.setdefault(key, doc.id)  # the first document with a name keeps it
    if not owners:
        return list(documents)
    for key, doc_id in owners.items():
        automaton.add_word(key, doc_id)
    automaton.make_automaton()
    out = []
    for doc in documents:
        if doc.links is not None and not overwrite:
            out.append(doc)
            continue
        found: dict[str, None] = {}
        for _, doc_id in automaton.iter(word_key(doc.text)):
            if doc_id != doc.id:
                found.setdefault(doc_id)
        out.append(replace(doc, links=tuple(found)))
    return out


def in_degrees(documents: Iterable[Document]) -> Counter[str]:
    """How many documents link to each document id (ids nobody links to are absent)."""
    counts: Counter[str] = Counter()
    for doc in documents:
        counts.update(set(doc.links or ()))
    return counts
