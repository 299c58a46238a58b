"""The scripted agent's library: category blueprints stored as data in data/synthesis/.

A blueprint is the text the scripted agent writes for one category: db.json, tools.py and per
level task.json, solution.py, verify.py (plus level_N/tools_added.py, code appended to tools.py
when that level needs new tools), each stored as `<name>.tmpl` beside a blueprint.json. `$name`
placeholders are filled with parameters the agent draws from its seed: choices, integers, and
people's names found with search_data.
"""

from __future__ import annotations

import functools
import json
import random
import re
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synth.data import data_dir

LEVEL_FILES = ("task.json", "solution.py", "verify.py")
TOOLS_ADDED = "tools_added.py"
TEMPLATE = ".tmpl"  # blueprint files are templates, not importable code or valid JSON


@dataclass(frozen=True)
class Blueprint:
    """One category's files (templates) and how to fill them."""

    slug: str
    category: str
    keywords: tuple[str, ...]
    search: str
    persons: tuple[str, ...]
    params: dict[str, Any]
    probe: str
    files: dict[str, str]

    @property
    def levels(self) -> int:
        return len({p.split("/")[0] for p in self.files if p.startswith("level_")})

    def level_file(self, level: int, name: str) -> str | None:
        return self.files.get(f"level_{level}/{name}")


def blueprint_root() -> Path:
    return data_dir() / "synthesis"


@functools.cache
def blueprints() -> dict[str, Blueprint]:
    """Every blueprint under data/synthesis/, by slug."""
    found = {}
    root = blueprint_root()
    for meta_path in sorted(root.glob("*/blueprint.json")):
        folder = meta_path.parent
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        files = {p.relative_to(folder).as_posix().removesuffix(TEMPLATE): p.read_text("utf-8")
                 for p in sorted(folder.rglob(f"*{TEMPLATE}")) if p.is_file()}
        found[meta["slug"]] = Blueprint(
            slug=meta["slug"], category=meta["category"], keywords=tuple(meta["keywords"]),
            search=meta["search"], persons=tuple(meta.get("persons", ())),
            params=meta.get("params", {}), probe=meta.get("probe", ""), files=files)
    return found


def find_blueprint(category: str, name: str | None = None) -> Blueprint:
    """The blueprint named `name`, else the one whose keywords best match the category."""
    library = blueprints()
    if not library:
        raise FileNotFoundError(f"no blueprints under {blueprint_root()}")
    if name is not None:
        if name not in library:
            raise KeyError(f"no blueprint {name!r}; known: {sorted(library)}")
        return library[name]
    words = set(re.findall(r"[a-z]+", category.lower()))
    scored = sorted((-len(words & set(b.keywords)), slug) for slug, b in library.items())
    if not scored or scored[0][0] == 0:
        raise KeyError(f"no blueprint matches category {category!r}; name one with "
                       f"'blueprint' (known: {sorted(library)})")
    return library[scored[0][1]]


def names_from_search(text: str) -> tuple[list[str], list[str]]:
    """First and last names from a search_data result (JSON text), in the order listed."""
    try:
        results = json.loads(text).get("results", [])
    except (ValueError, AttributeError):
        return [], []
    found: dict[str, list[str]] = {"first": [], "last": []}
    for row in results:
        for kind in found:
            if str(row.get("path", "")).endswith(f"{kind}_names") and not found[kind]:
                found[kind] = re.findall(r'"([^"\\]{2,40})"', row.get("preview", ""))
    return found["first"], found["last"]


FALLBACK_FIRST = ["Ana", "Kofi", "Mei", "Lars", "Priya", "Tomas", "Yara", "Omar"]
FALLBACK_LAST = ["Silva", "Mensah", "Chen", "Berg", "Nair", "Novak", "Haddad", "Okafor"]


def draw_params(blueprint: Blueprint, rng: random.Random, first: list[str],
                last: list[str]) -> dict[str, str]:
    """Fill every placeholder: persons from the names found, then the declared parameters."""
    first = first if len(first) >= len(blueprint.persons) else FALLBACK_FIRST
    last = last or FALLBACK_LAST
    values: dict[str, Any] = {}
    for key, given in zip(blueprint.persons, rng.sample(first, len(blueprint.persons)),
                          strict=True):
        values[key] = f"{given} {rng.choice(last)}"
    for key, spec in blueprint.params.items():
        if "int" in spec:
            values[key] = rng.randint(*spec["int"])
        else:
            taken = [values[d] for d in spec.get("distinct_from", [])]
            values[key] = rng.choice([c for c in spec["choice"] if c not in taken])
    flat: dict[str, str] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flat.update({f"{key}_{k}": str(v) for k, v in value.items()})
        else:
            flat[key] = str(value)
    return flat


def render(template: str, params: dict[str, str]) -> str:
    """Substitute `$name` placeholders (a missing one is a blueprint bug: KeyError)."""
    return string.Template(template).substitute(params)


def tools_source(blueprint: Blueprint, level: int, params: dict[str, str]) -> str:
    """tools.py as it stands at `level`: the base file plus every tools_added.py so far."""
    text = blueprint.files["tools.py"]
    for n in range(1, level + 1):
        text += blueprint.level_file(n, TOOLS_ADDED) or ""
    return render(text, params)
