"""Loading synthesized environments back as an environment family.

`load_synthesized_family(PATH)` covers every accepted environment of a synthesis output (a
folder or URI); PATH may also name one environment's file,
`PATH/environments/env-<ENV_ID>.parquet`, to cover just that one (a file path needs no
separator that could clash with paths or with the `task_id#sample` trajectory ids). The
family's name is its reference, "synthesized:" + PATH, which the `synthesized` family source
(`environments/synthesized.py`) resolves; it is loaded once per process.
"""

from __future__ import annotations

import functools
import json
import posixpath
from typing import Any

import pyarrow.dataset as ds
from pyarrow import fs

from synth.infra.storage import Output
from synth.sandbox import SandboxLimits
from synth.synthesis.checks import LevelSpec
from synth.synthesis.family import SynthesizedFamily
from synth.synthesis.job import ENV_FOLDER, MANIFEST

SYNTHESIZED_PREFIX = "synthesized:"


def _locate(spec: str) -> tuple[fs.FileSystem, str, str]:
    """(filesystem, output folder, table path: the environments folder or one file)."""
    output = Output(spec)
    if output.root.endswith(".parquet"):
        return output.fs, posixpath.dirname(posixpath.dirname(output.root)), output.root
    return output.fs, output.root, posixpath.join(output.root, ENV_FOLDER)


def read_environments(spec: str) -> list[dict[str, Any]]:
    """Rows of the environment table of a synthesis output (or of one env file), by id."""
    filesystem, _, table_path = _locate(spec)
    if filesystem.get_file_info(table_path).type == fs.FileType.NotFound:
        raise FileNotFoundError(f"no synthesized environments at {spec} "
                                "(run `synth synthesize` first)")
    table = ds.dataset(table_path, filesystem=filesystem, format="parquet").to_table()
    return sorted(table.to_pylist(), key=lambda r: r["env_id"])


def _settings(filesystem: fs.FileSystem, root: str) -> tuple[SandboxLimits | None, int]:
    """The sandbox limits and call budget the environments were checked with."""
    try:
        with filesystem.open_input_stream(posixpath.join(root, MANIFEST)) as stream:
            config = json.loads(stream.read().decode("utf-8")).get("config", {})
    except (FileNotFoundError, OSError):
        return None, 12
    limits = SandboxLimits.model_validate(config["sandbox"]) if "sandbox" in config else None
    return limits, int(config.get("budgets", {}).get("max_calls", 12))


@functools.lru_cache(maxsize=16)
def load_synthesized_family(spec: str) -> SynthesizedFamily:
    """The family of every accepted environment under `spec`, or of one env file."""
    rows = [r for r in read_environments(spec) if r["status"] == "accepted"]
    levels = [LevelSpec.from_json(t) for row in rows for t in json.loads(row["tasks"])]
    if not levels:
        raise ValueError(f"no accepted synthesized tasks at {spec}")
    filesystem, root, _ = _locate(spec)
    limits, max_calls = _settings(filesystem, root)
    categories = sorted({r["category"] for r in rows})
    family = SynthesizedFamily(
        f"{SYNTHESIZED_PREFIX}{spec}", levels, limits=limits, max_calls=max_calls,
        description=f"Model-written environments ({', '.join(categories)}): {len(rows)} "
                    f"environment(s), {len(levels)} task(s).")
    return family
