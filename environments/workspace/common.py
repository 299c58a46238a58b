"""Shared data, schemas and helpers of the workspace family."""

from __future__ import annotations

import re

from synth.data import load_json

_PATH = {"type": "string", "minLength": 1, "description": "Absolute path, e.g. /finance/x.pdf"}
_PATHS = {"type": "array", "items": _PATH, "minItems": 1}
_TAGS = {"type": "array", "items": {"type": "string", "minLength": 1}}
LARGE = 5_000_000


def parent_of(path: str) -> str:
    return path.rsplit("/", 1)[0] or "/"


def norm(path: str) -> str:
    path = "/" + path.strip().strip("/")
    return re.sub("/+", "/", path)


_DATA = load_json("workspace.json")
_PEOPLE = load_json("people.json")
