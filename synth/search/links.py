"""Links derived from mentions: a document links to every other document whose title (or
alias) occurs in its text as whole words.

One Aho-Corasick automaton (pyahocorasick) over all normalized titles scans each text once,
so the cost is linear in the corpus size, whatever the number of titles. The automaton needs
only the names, so a large corpus is linked in two streaming passes (names, then texts).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import replace

from synth.search.corpus import Document
from synth.search.text import word_key

MIN_TITLE_CHARS = 3


class MentionLinker:
    """An Aho-Corasick automaton over every document's names (title and aliases), built from
    the names alone so that a corpus too large for memory can be linked as a stream.

    Names shorter than `min_title_chars` or made only of digits are not matched (they would
    link almost every page); the first document with a name keeps it."""

    def __init__(self, names: Iterable[tuple[str, Sequence[str]]], *,
                 min_title_chars: int = MIN_TITLE_CHARS) -> None:
        import ahocorasick

        owners: dict[str, str] = {}
        for doc_id, doc_names in names:
            for name in doc_names:
                key = word_key(name)
                plain = key.strip()
                if len(plain) < min_title_chars or plain.replace(" ", "").isdigit():
                    continue
                owners.setdefault(key, doc_id)
        self.automaton = ahocorasick.Automaton() if owners else None
        for key, doc_id in owners.items():
            self.automaton.add_word(key, doc_id)
        if self.automaton is not None:
            self.automaton.make_automaton()

    def fill(self, doc: Document, *, overwrite: bool = False) -> Document:
        """`doc` with `links` from its mentions (in order of first mention) where absent, or
        always when `overwrite`."""
        if self.automaton is None or (doc.links is not None and not overwrite):
            return doc
        found: dict[str, None] = {}
        for _, doc_id in self.automaton.iter(word_key(doc.text)):
            if doc_id != doc.id:
                found.setdefault(doc_id)
        return replace(doc, links=tuple(found))


def names_of(doc: Document) -> tuple[str, list[str]]:
    """What `MentionLinker` needs of a document: its id and names."""
    return doc.id, [doc.title, *doc.aliases]


def derive_links(documents: Sequence[Document], *, min_title_chars: int = MIN_TITLE_CHARS,
                 overwrite: bool = False) -> list[Document]:
    """Documents with `links` filled from whole-word mentions of other documents' names where
    absent (or everywhere if `overwrite`); see `MentionLinker`."""
    linker = MentionLinker(map(names_of, documents), min_title_chars=min_title_chars)
    return [linker.fill(doc, overwrite=overwrite) for doc in documents]


def in_degrees(documents: Iterable[Document]) -> Counter[str]:
    """How many documents link to each document id (ids nobody links to are absent)."""
    counts: Counter[str] = Counter()
    for doc in documents:
        counts.update(set(doc.links or ()))
    return counts
