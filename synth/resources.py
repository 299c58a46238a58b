"""Where the project's data and default configs are, however synth was installed.

A wheel carries them inside the package (`synth/_data`, `synth/_configs`, copied at build time
by setup.py); a source checkout, an editable install and a Ray job's working directory keep
them beside the package (`data/`, `configs/`). `SYNTH_DATA_DIR` overrides the data folder.
"""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """The folder `data` or `configs`: packaged inside synth, or beside it in a checkout."""
    if name == "data" and os.environ.get("SYNTH_DATA_DIR"):
        return Path(os.environ["SYNTH_DATA_DIR"])
    for candidate in (_PACKAGE / f"_{name}", _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"synth {name} folder not found: expected {_PACKAGE / ('_' + name)} "
                            f"(an installed wheel) or {_PACKAGE.parent / name} (a checkout)"
                            + ("; or set SYNTH_DATA_DIR" if name == "data" else ""))


def config_path(name: str) -> Path:
    """A config shipped with synth, e.g. `miniature.yaml`."""
    return resource_dir("configs") / name
