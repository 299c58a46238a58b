"""Locate and load the small data files that generators draw from.

Found the same way from a source checkout, an editable install, a Ray job's working directory
and an installed wheel (see `synth.resources`); `SYNTH_DATA_DIR` overrides it.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from synth.resources import resource_dir


def data_dir() -> Path:
    """Return the folder holding the generators' data files."""
    return resource_dir("data")


@lru_cache(maxsize=256)
def _load_json_text(path: str) -> str:
    return Path(path).read_text(encoding="utf-8")


def load_json(name: str) -> Any:
    """Load `data/<name>` as JSON; a fresh object each call so callers may mutate it."""
    path = data_dir() / name
    if not path.is_file():
        raise FileNotFoundError(f"data file not found: {path}")
    return json.loads(_load_json_text(str(path)))
