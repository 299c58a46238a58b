"""The family's build stage: plain work functions for the unit runner (`synth.infra.units`),
which the job runs as committed Ray units before planning shards (a rerun skips them).

- The index: one unit (`index_work`) builds the corpus's index at `index_location(options)`,
  streaming the corpus, unless it is there already; its commit marker lives beside it, in
  `<location>.build` (so that folder's parent must be writable). An index a search service
  owns (`backend: http`) needs no stage.
- Prepared tasks (`options.prepared`): the job's task slots, grouped into units by a hash of
  the task id, constructed and validated once (`prepare_work`) into
  `<prepared.location>/tasks/<unit>.parquet`. A worker that needs a task reads only its unit's
  file (`PreparedStore`).
"""

from __future__ import annotations

import json
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from synth.env import BuildStage, Task, make_task_id, resolve_family
from synth.infra.units import UnitOutput
from synth.search.engine import ensure_index, index_location
from synth.search.index import read_meta
from synth.search.options import PreparedTasks, SearchOptions
from synth.seeding import derive_seed

FAMILY = "search"
INDEX_UNIT = "index"
PREPARED_SCHEMA = pa.schema([("task_id", pa.string()), ("seed", pa.int64()),
                             ("difficulty", pa.int32()), ("task", pa.string()),
                             ("discard", pa.string())])
OPEN_UNITS = 8  # prepared unit files a worker keeps in memory


@dataclass(frozen=True)
class PrepareUnit:
    """The task slots (seed, difficulty) whose ids hash to one unit."""

    unit_id: str
    slots: tuple[tuple[int, int], ...]


def unit_of(prepared: PreparedTasks, task_id: str) -> str:
    """The unit that holds a task: a stable hash of its id, so a worker finds it directly."""
    return f"tasks-{derive_seed('prepared', task_id) % prepared.units():05d}"


def prepare_units(prepared: PreparedTasks, slots: Sequence[tuple[int, int]]) -> list[PrepareUnit]:
    """The slots grouped by unit, in a stable order."""
    groups: dict[str, list[tuple[int, int]]] = {}
    for seed, difficulty in slots:
        unit = unit_of(prepared, make_task_id(FAMILY, difficulty, seed))
        groups.setdefault(unit, []).append((seed, difficulty))
    return [PrepareUnit(unit, tuple(groups[unit])) for unit in sorted(groups)]


def index_work(options: SearchOptions, unit: Any = None) -> UnitOutput:
    """Build the index these options name, once; its statistics go to the commit record."""
    location = ensure_index(options)
    meta = read_meta(location)
    return UnitOutput(stats={"location": location, "documents": meta["documents"],
                             "build_s": meta.get("build_s")})


def prepare_work(options: SearchOptions, unit: PrepareUnit) -> UnitOutput:
    """Construct and validate a unit's tasks; discards are kept with their reason."""
    constructing = options.model_dump(mode="json", exclude={"prepared"})
    family = resolve_family(FAMILY, constructing)
    rows = []
    for seed, difficulty in unit.slots:
        generated = family.generate(seed, difficulty)
        task = generated.task
        rows.append({"task_id": make_task_id(FAMILY, difficulty, seed), "seed": seed,
                     "difficulty": difficulty,
                     "task": json.dumps(task.to_json(), ensure_ascii=False) if task else None,
                     "discard": generated.discard})
    table = pa.Table.from_pylist(rows, schema=PREPARED_SCHEMA)
    discards = Counter(r["discard"] for r in rows if r["discard"])
    return UnitOutput(tables={f"tasks/{unit.unit_id}.parquet": table},
                      stats={"tasks": len(rows) - sum(discards.values()),
                             "discarded": dict(discards)})


class PreparedStore:
    """Prepared tasks by id, reading a unit's file on first need (a few kept open)."""

    def __init__(self, prepared: PreparedTasks) -> None:
        self.prepared = prepared
        self._units: OrderedDict[str, dict[str, Task]] = OrderedDict()

    def get(self, task_id: str) -> Task | None:
        unit = unit_of(self.prepared, task_id)
        if unit not in self._units:
            self._units[unit] = self._read(unit)
            if len(self._units) > OPEN_UNITS:
                self._units.popitem(last=False)
        return self._units[unit].get(task_id)

    def _read(self, unit: str) -> dict[str, Task]:
        from synth.infra.storage import Output

        output = Output(self.prepared.location)
        name = f"tasks/{unit}.parquet"
        if not output.exists(name):
            return {}
        import pyarrow.parquet as pq

        table = pq.read_table(output.path(name), filesystem=output.fs,
                              columns=["task_id", "task"])
        return {task_id: Task.from_json(json.loads(text))
                for task_id, text in zip(table.column("task_id").to_pylist(),
                                         table.column("task").to_pylist(), strict=True)
                if text is not None}


def index_stage(options: SearchOptions, then: BuildStage | None = None) -> BuildStage | None:
    """The index's build stage followed by `then` (just `then` when a service owns the index).
    A built index is found by `ensure_index`, so its unit commits without building again."""
    if options.backend == "http":
        return then
    location = index_location(options)
    return BuildStage("search-index", f"{location.rstrip('/')}.build", [INDEX_UNIT],
                      lambda unit: unit, index_work, options, then=then)


def build_stage(options: SearchOptions, slots: Sequence[tuple[int, int]] | None
                ) -> BuildStage | None:
    """The index (when not built yet), then the tasks of `slots` when tasks are prepared."""
    tasks = None
    if options.prepared is not None and slots is not None:
        tasks = BuildStage("search-tasks", options.prepared.location,
                           prepare_units(options.prepared, slots), lambda unit: unit.unit_id,
                           prepare_work, options)
    return index_stage(options, then=tasks)
