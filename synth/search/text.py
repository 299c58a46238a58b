"""Text primitives shared by the tools, the agents and the verifier.

Words are what the index's default tokenizer sees (runs of letters and digits, lowercased), so
a phrase check here agrees with a tantivy phrase query. Answers are compared after one
normalization (Unicode NFKC, case-folded, punctuation and leading articles removed).
"""

from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"[^\W_]+")
_ANSWER_LINE = re.compile(r"^\s*(?:final\s+)?answer\s*[:：]\s*(.*)$", re.IGNORECASE | re.MULTILINE)
_ARTICLES = ("the ", "a ", "an ")
PAGE_CHARS = 2000
SNIPPET_CHARS = 240


def words(text: str) -> list[str]:
    """Lowercased words, as the index tokenizes them."""
    return _WORD.findall(text.lower())


def word_key(text: str) -> str:
    """`text` as space-joined words with a space on each side (for whole-word containment)."""
    return " " + " ".join(words(text)) + " "


def contains_phrase(text: str, phrase: str) -> bool:
    """True when the words of `phrase` occur consecutively in `text` (never for no words)."""
    needle = word_key(phrase)
    return needle.strip() != "" and needle in word_key(text)


def normalize_answer(text: str) -> str:
    """Case, width, punctuation and a leading article do not change an answer."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    plain = " ".join(_WORD.findall(folded.replace("_", " ")))
    for article in _ARTICLES:
        if plain.startswith(article):
            plain = plain[len(article):]
            break
    return plain


def extract_answer(content: str) -> str:
    """The final answer in a reply: the last `Answer: ...` line, else the whole reply."""
    found = _ANSWER_LINE.findall(content or "")
    return (found[-1] if found else content or "").strip()


def quote(phrase: str) -> str:
    """A phrase query for the index: its words, quoted (no query syntax can leak in)."""
    return '"' + " ".join(words(phrase)) + '"'


def page_windows(text: str, size: int = PAGE_CHARS) -> list[str]:
    """Cut `text` into windows of at most `size` characters, at whitespace where possible."""
    if not text:
        return [""]
    pages, start = [], 0
    while start < len(text):
        end = min(start + size, len(text))
        if end < len(text):
            cut = text.rfind(" ", start + size // 2, end)
            cut = max(cut, text.rfind("\n", start + size // 2, end))
            end = cut + 1 if cut > start else end
        pages.append(text[start:end])
        start = end
    return pages


_SNIPPET_SKIP = frozenset(("and", "or", "not", "the", "of", "in", "a", "an", "to", "is"))
_ASCII_PUNCTUATION = str.maketrans({c: " " for c in map(chr, range(128))
                                    if not c.isalnum()})


SNIPPET_ANCHORS = 3


def query_words(query: str) -> tuple[str, ...]:
    """The few words of a query a snippet is placed on: its longest (the most specific),
    operators and short function words left out unless nothing else is left. Split at ASCII
    punctuation only: a cheap approximation, good enough to place a snippet."""
    found = dict.fromkeys(query.lower().translate(_ASCII_PUNCTUATION).split())
    kept = [w for w in found if w not in _SNIPPET_SKIP] or list(found)
    return tuple(sorted(kept, key=len, reverse=True)[:SNIPPET_ANCHORS])


def _first_word(text: str, wanted: tuple[str, ...]) -> int:
    """Offset of the earliest whole-word occurrence of any of `wanted` in `text` (else 0)."""
    lowered, best = text.lower(), -1
    for word in wanted:
        at = lowered.find(word, 0, best if best >= 0 else len(lowered))
        while at >= 0 and (best < 0 or at < best):
            before = lowered[at - 1] if at else " "
            after = lowered[at + len(word)] if at + len(word) < len(lowered) else " "
            if not (before.isalnum() or after.isalnum()):
                best = at
                break
            at = lowered.find(word, at + 1)
    return max(best, 0)


def snippet(text: str, query: str | tuple[str, ...], size: int = SNIPPET_CHARS) -> str:
    """A window of `text` around the first word of `query` it contains (else its start);
    pass `query_words(query)` to reuse the words across hits."""
    at = _first_word(text, query_words(query) if isinstance(query, str) else query)
    start = max(0, at - size // 4)
    if start:
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < at else start
    end = min(len(text), start + size)
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > at else end
    body = " ".join(text[start:end].split())
    return ("…" if start else "") + body + ("…" if end < len(text) else "")


def find_all(text: str, pattern: str, context: int = 80, limit: int = 20) -> list[tuple[int, str]]:
    """Occurrences of `pattern`, ignoring case and how whitespace is spaced or broken across
    lines: (offset, surrounding text), at most `limit`."""
    parts = pattern.split()
    if not parts:
        return []
    found = []
    regex = r"\s+".join(re.escape(p) for p in parts)
    for match in re.finditer(regex, text, re.IGNORECASE):
        found.append((match.start(),
                      text[max(0, match.start() - context): match.end() + context]))
        if len(found) == limit:
            break
    return found
