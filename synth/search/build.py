"""The family's build stage as plain, idempotent functions `(options, unit) -> artifact`, for a
runner of committed work units (a Ray task per unit) or a plain loop:

- `index_unit(options)`: the corpus's index at `index_location(options)`;
- `prepare_unit(options, unit)`: construct and validate the tasks of a unit's slots (with model
  agents at scale, slow) into `<options.prepared>/<unit_id>.jsonl`; a family with `prepared`
  set then takes its tasks from there instead of constructing them during rollouts.
Re-running a finished unit does nothing; a unit killed half-way leaves no partial file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synth.env.task import Task
from synth.search.engine import ensure_index
from synth.search.options import SearchOptions


@dataclass(frozen=True)
class PrepareUnit:
    """A batch of task slots (seed, difficulty) to construct together."""

    unit_id: str
    slots: tuple[tuple[int, int], ...]


def index_unit(options: SearchOptions, unit: Any = None) -> str:
    """Build the index these options name (once); return its location."""
    return ensure_index(options)


def _target(options: SearchOptions, unit: PrepareUnit) -> str:
    if not options.prepared:
        raise ValueError("prepared: set a folder or URI for prepared tasks")
    return f"{options.prepared.rstrip('/')}/{unit.unit_id}.jsonl"


def prepare_unit(options: SearchOptions, unit: PrepareUnit) -> str:
    """Construct the unit's tasks (discards are recorded too) unless already done."""
    from environments.search.family import SearchFamily
    from synth.search.index import is_uri

    target = _target(options, unit)
    if _exists(target):
        return target
    family = SearchFamily(options.model_copy(update={"prepared": None}))
    lines = []
    for seed, difficulty in unit.slots:
        generated = family.generate(seed, difficulty)
        record: dict[str, Any] = {"seed": seed, "difficulty": difficulty}
        if generated.task is not None:
            record["task"] = generated.task.to_json()
        else:
            record["discard"] = generated.discard
        lines.append(json.dumps(record, ensure_ascii=False))
    text = "\n".join(lines) + "\n"
    if is_uri(target):
        import pyarrow.fs as pafs

        fs, path = pafs.FileSystem.from_uri(target)
        with fs.open_output_stream(path) as out:  # one PUT: atomic on object stores
            out.write(text.encode())
    else:
        from synth.search.corpus import write_atomically

        write_atomically(target, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return target


def _exists(target: str) -> bool:
    from synth.search.index import is_uri

    if is_uri(target):
        import pyarrow.fs as pafs

        fs, path = pafs.FileSystem.from_uri(target)
        return fs.get_file_info(path).type == pafs.FileType.File
    return Path(target).is_file()


def _prepared_lines(location: str) -> Iterator[str]:
    from synth.search.index import is_uri

    if is_uri(location):
        import pyarrow.fs as pafs

        fs, path = pafs.FileSystem.from_uri(location)
        for info in fs.get_file_info(pafs.FileSelector(path)):
            if info.path.endswith(".jsonl"):
                with fs.open_input_stream(info.path) as handle:
                    yield from handle.read().decode("utf-8").splitlines()
        return
    for file in sorted(Path(location).glob("*.jsonl")):
        yield from file.read_text(encoding="utf-8").splitlines()


def load_prepared(location: str) -> dict[str, Task]:
    """Every prepared task under `location`, by task id."""
    tasks: dict[str, Task] = {}
    for line in _prepared_lines(location):
        if line.strip():
            record = json.loads(line)
            if "task" in record:
                task = Task.from_json(record["task"])
                tasks[task.task_id] = task
    return tasks
