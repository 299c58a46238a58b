"""Locate and load the small data files that generators draw from.

`data/` lives at the project root. It is found the same way from a source checkout, an
editable install and a Ray job's working directory (all keep `data/` beside `synth/`);
`SYNTH_DATA_DIR` overrides it for installed wheels or custom catalogs.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any


def data_dir() -> Path:
    """Return the folder holding the generators' data files."""
    override = os.environ.get("SYNTH_DATA_DIR")
    if override:
        return Path(override)
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "data", here / "_data"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        "synth data folder not found: expected data/ beside the synth package "
        "or SYNTH_DATA_DIR set"
    )


@lru_cache(maxsize=256)
def _load_json_text(path: str) -> str:
    return Path(path).read_text(encoding="utf-8")


def load_json(name: str) -> Any:
    """Load `data/<name>` as JSON; a fresh object each call so callers may mutate it."""
    path = data_dir() / name
    if not path.is_file():
        raise FileNotFoundError(f"data file not found: {path}")
    return json.loads(_load_json_text(str(path)))
