"""dictd dictionaries as a corpus: the `.index` + `.dict[.dz]` files that Debian's `dict-*`
packages ship (FOLDOC, Jargon File, WordNet, GCIDE, ...).

An index line is `headword TAB offset TAB length` with base64 numbers (dictd's alphabet);
headwords that share one definition become aliases of one document. `.dz` files are dictzip,
a gzip variant that `gzip` reads. `{cross references}` in a definition become links when they
name a headword (FOLDOC writes `{text (url)}` for external ones, which are dropped).
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from pathlib import Path

from synth.search.corpus import CorpusError, Document
from synth.search.text import words

_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_B64_VALUE = {c: i for i, c in enumerate(_B64)}
_CROSS_REF = re.compile(r"\{([^{}]+)\}")
_EXTERNAL = re.compile(r"^(.*?)\s*\(([^()]*(?:://|\.html?|\.txt)[^()]*)\)\s*$", re.DOTALL)


def b64_number(text: str) -> int:
    """A dictd base64 number (most significant digit first)."""
    value = 0
    for char in text:
        if char not in _B64_VALUE:
            raise ValueError(f"not a dictd base64 number: {text!r}")
        value = value * 64 + _B64_VALUE[char]
    return value


# What some dictionaries say in a fixed form (their own fact patterns; see synth.search.facts).
DICTIONARY_PATTERNS: dict[str, list[dict[str, str]]] = {
    "foldoc": [{"regex": r"^<([a-z][a-z -]*)", "kind": "phrase",
                "clue": "is filed under “{value}”"}],
}


def find_dictionaries(folder: str | Path) -> list[tuple[Path, Path]]:
    """(`.index`, `.dict[.dz]`) pairs under `folder` (e.g. an unpacked `dict-foldoc` .deb)."""
    pairs = []
    for index in sorted(Path(folder).rglob("*.index")):
        for suffix in (".dict.dz", ".dict"):
            data = index.with_name(index.name[: -len(".index")] + suffix)
            if data.is_file():
                pairs.append((index, data))
                break
    return pairs


def read_dictd(index_path: str | Path, dict_path: str | Path,
               name: str | None = None) -> Iterator[Document]:
    """The documents of one dictd dictionary, in index order. Raises CorpusError."""
    index_path, dict_path = Path(index_path), Path(dict_path)
    name = name or index_path.name.split(".")[0]
    opener = gzip.open if dict_path.name.endswith(".dz") else open
    try:
        with opener(dict_path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise CorpusError(f"{dict_path}: cannot read dictd data: {exc}") from exc
    entries: dict[tuple[int, int], list[str]] = {}
    for number, line in enumerate(index_path.read_text(encoding="utf-8",
                                                       errors="replace").splitlines(), 1):
        parts = line.split("\t")
        if len(parts) < 3:
            raise CorpusError(f"{index_path}: line {number}: expected 'word TAB offset TAB "
                              f"length', got {line[:80]!r}")
        word = parts[0]
        if word.startswith(("00-database", "00database")):
            continue
        try:
            where = (b64_number(parts[1]), b64_number(parts[2]))
        except ValueError as exc:
            raise CorpusError(f"{index_path}: line {number}: {exc}") from None
        if where[0] + where[1] > len(data):
            raise CorpusError(f"{index_path}: line {number}: {word!r} points past the end of "
                              f"{dict_path.name}")
        entries.setdefault(where, []).append(word)
    headwords = {w.casefold(): where for where, ws in entries.items() for w in ws}
    ids: dict[tuple[int, int], str] = {}
    taken: set[str] = set()
    for where, ws in entries.items():
        doc_id = f"{name}:{ws[0]}"
        suffix = 2
        while doc_id in taken:
            doc_id, suffix = f"{name}:{ws[0]}~{suffix}", suffix + 1
        taken.add(doc_id)
        ids[where] = doc_id
    for where, ws in entries.items():
        raw = data[where[0]: where[0] + where[1]].decode("utf-8", errors="replace")
        title, aliases, body = split_entry(raw, ws[0])
        for word in ws:
            if word.casefold() != title.casefold() and word.casefold() not in (
                    a.casefold() for a in aliases):
                aliases.append(word)
        links = []
        for target in cross_references(body):
            found = headwords.get(target.casefold())
            if found is not None and ids[found] != ids[where] and ids[found] not in links:
                links.append(ids[found])
        yield Document(ids[where], title, body, f"dict://localhost/d:{ws[0]}:{name}",
                       tuple(links), tuple(aliases))


def split_entry(raw: str, headword: str) -> tuple[str, list[str], str]:
    """(title, other names, body) of one definition: the unindented lines before the first
    blank line are its names (FOLDOC), the rest is the body, dedented."""
    lines = raw.strip("\n").split("\n")
    names: list[str] = []
    while lines and lines[0].strip() and not lines[0].startswith((" ", "\t")):
        names.append(lines.pop(0).strip())
    body = "\n".join(line.strip() for line in lines).strip()
    if not names:
        names = [headword]
    if not body:  # a one-line entry: the line is both name and text
        body = names[-1] if len(names) > 1 else raw.strip()
    title, others = names[0], [n for n in names[1:] if words(n)]
    return title, list(dict.fromkeys(others)), body


def cross_references(body: str) -> list[str]:
    """Targets of `{...}` references, whitespace collapsed; external `{text (url)}` dropped."""
    targets = []
    for match in _CROSS_REF.finditer(body):
        inner = " ".join(match.group(1).split())
        if _EXTERNAL.match(inner):
            continue
        targets.append(inner)
    return targets
