"""search_data: a read-only keyword search over the project's data/ JSON files (host side).

Every list or scalar in every data file is an entry named by its file and JSON path
("people.json:first_names", "travel.json:cities[2]"); an entry scores by how many query words
occur in its path and text. Results are compact previews, so the agent can copy real values.
The synthesis blueprints under data/synthesis/ are not searchable.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from synth.data import data_dir

_WORD = re.compile(r"[a-z0-9]+")
PREVIEW_CHARS = 600


def _entries(value: Any, path: str, out: list[tuple[str, Any]], depth: int = 0) -> None:
    out.append((path, value))
    if depth >= 3:
        return
    if isinstance(value, dict):
        for key, item in value.items():
            _entries(item, f"{path}.{key}" if ":" in path else f"{path}:{key}", out, depth + 1)
    elif isinstance(value, list) and value and isinstance(value[0], dict | list):
        for i, item in enumerate(value[:200]):
            _entries(item, f"{path}[{i}]", out, depth + 1)


@functools.cache
def _index() -> tuple[tuple[str, str, frozenset[str], str], ...]:
    rows = []
    for file in sorted(data_dir().glob("*.json")):
        entries: list[tuple[str, Any]] = []
        _entries(json.loads(file.read_text(encoding="utf-8")), file.name, entries)
        for path, value in entries:
            text = json.dumps(value, ensure_ascii=False)
            words = frozenset(_WORD.findall(f"{path} {text[:4000]}".lower().replace("_", " ")))
            rows.append((file.name, path, words, text))
    return tuple(rows)


def _stem(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") else word


def search_data(query: str, limit: int = 5) -> list[dict[str, Any]]:
    """The best `limit` entries for `query`: [{file, path, preview}], best first."""
    wanted = {_stem(w) for w in _WORD.findall(query.lower())}
    if not wanted:
        return []
    scored = []
    for order, (file, path, words, text) in enumerate(_index()):
        stems = {_stem(w) for w in words}
        path_words = {_stem(w) for w in _WORD.findall(path.lower().replace("_", " "))}
        score = len(wanted & stems) + len(wanted & path_words)
        if score:
            scored.append((-score, len(text), order, file, path, text))
    scored.sort()
    return [{"file": f, "path": p, "preview": t[:PREVIEW_CHARS] + ("..." if len(t) > PREVIEW_CHARS
                                                                   else "")}
            for _, _, _, f, p, t in scored[:limit]]
