"""The generic runner of committed work units: what every Ray job of synth is made of.

A job is a list of units with stable ids and a plain function `work(context, unit)` that
returns the unit's tables and statistics (`UnitOutput`). The runner skips units already
committed, runs the rest as Ray tasks (fractional CPUs, retried when a worker dies), and each
task writes its tables atomically, then its commit marker. An exception inside a unit is caught
there and recorded in `_errors/<unit>.json` (removed once the unit commits); only a committed
unit counts as done, so rerunning the same job completes it.

The driver's cost per unit is flat from a thousand units to a hundred thousand: a bounded number
of units is in flight (backpressure), completions are collected in batches, progress is reported
at a fixed rate, and resuming needs one listing of the markers plus one small index table
(`_index/units.parquet`: every committed unit's record, written once at the end) instead of one
read per marker; only markers committed since the index was written are read.
"""

from __future__ import annotations

import json
import time
import traceback
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from synth.infra.raytools import RaySpec, cluster_cpus, cpus_in_use, init_ray
from synth.infra.storage import Output

INDEX = "_index/units.parquet"
INDEX_SCHEMA = pa.schema([("unit_id", pa.string()), ("record", pa.string())])


class StalledError(RuntimeError):
    """No unit finished for `stall_timeout_s` while none was running."""


class UnitIncomplete(Exception):
    """Raised by a unit's work when it must not be committed yet (e.g. the model endpoint was
    down): recorded like an error, so a rerun of the job completes the unit."""


@dataclass
class UnitOutput:
    """What a unit produces: tables to write (relative path -> table; empty tables are not
    written, since readers reject Parquet files without rows) and JSON-able statistics that
    its commit record keeps for the job's summary."""

    tables: dict[str, pa.Table] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)


WorkFn = Callable[[Any, Any], UnitOutput]


def execute_unit(output_uri: str, unit_id: str, work: WorkFn, context: Any,
                 unit: Any) -> dict[str, Any]:
    """Run, write and commit one unit (inside a Ray worker). Never raises: a failure is returned
    and recorded in `_errors/`, so one bad unit never stops the job."""
    output = Output(output_uri)
    previous = output.read_commit(unit_id)
    if previous is not None:  # a retried task whose first attempt had committed
        return {**previous, "unit_id": unit_id, "status": "committed"}
    try:
        produced = work(context, unit)
        files = []
        for name, table in produced.tables.items():
            if table.num_rows:
                output.write_table(name, table)
                files.append(name)
        record = {"unit_id": unit_id, "files": files, "stats": produced.stats}
        output.commit(unit_id, record)
        return {**record, "status": "committed"}
    except Exception as exc:
        error = {"unit_id": unit_id, "error": f"{type(exc).__name__}: {exc}",
                 "incomplete": isinstance(exc, UnitIncomplete),
                 "traceback": traceback.format_exc()[-4000:]}
        try:
            output.record_error(unit_id, error)
        except Exception as write_exc:  # the error still reaches the driver
            error["record_error"] = f"{type(write_exc).__name__}: {write_exc}"
        return {**error, "status": "failed"}


@dataclass
class RunProgress:
    """Where a run stands; reported to the caller at a fixed rate, not per unit."""

    total: int
    done_before: int
    committed: int = 0
    failed: int = 0
    in_flight: int = 0

    @property
    def finished(self) -> int:
        return self.done_before + self.committed + self.failed


@dataclass
class RunReport:
    """A finished run: every committed unit's record (this run's and earlier ones) and the
    failures of this run."""

    planned: int
    skipped: int
    records: dict[str, dict[str, Any]]
    failed: list[dict[str, Any]]
    wall_s: float
    driver_cpu_s: float = 0.0
    max_in_flight: int = 0

    @property
    def committed(self) -> int:
        return len(self.records)


@dataclass
class JobResult:
    """What a finished (or partly failed) job reports: units planned, skipped because already
    committed, committed in all, the failures of this run, and the job's summary."""

    output: str
    planned: int
    skipped: int
    committed: int
    failed: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    wall_s: float = 0.0


def read_index(output: Output) -> dict[str, dict[str, Any]]:
    """The unit records stored by earlier runs (empty when there is no index yet)."""
    if not output.exists(INDEX):
        return {}
    table = pq.read_table(output.path(INDEX), filesystem=output.fs)
    ids, records = table.column("unit_id").to_pylist(), table.column("record").to_pylist()
    return {unit_id: json.loads(text) for unit_id, text in zip(ids, records, strict=True)}


def write_index(output: Output, records: dict[str, dict[str, Any]]) -> None:
    ids = sorted(records)
    table = pa.table({"unit_id": ids,
                      "record": [json.dumps(records[i], sort_keys=True) for i in ids]},
                     schema=INDEX_SCHEMA)
    output.write_table(INDEX, table)


def committed_records(output: Output) -> dict[str, dict[str, Any]]:
    """Records of every committed unit: one listing, the index, and the markers written since
    the index (each read once). Entries of the index without a marker are dropped."""
    committed = output.committed_ids()
    known = read_index(output)
    records = {unit_id: known[unit_id] for unit_id in committed if unit_id in known}
    for unit_id in sorted(committed - records.keys()):
        record = output.read_commit(unit_id)
        if record is not None:
            records[unit_id] = record
    return records


def default_max_pending(spec: RaySpec) -> int:
    """Twice what the cluster can run at once, so no CPU waits for the driver."""
    if spec.max_pending is not None:
        return spec.max_pending
    return max(4, int(2 * cluster_cpus() / spec.cpus_per_shard))


def run_units(output: Output, units: Sequence[Any], unit_id: Callable[[Any], str],
              work: WorkFn, context: Any, spec: RaySpec, *,
              on_progress: Callable[[RunProgress], None] | None = None,
              on_unit: Callable[[dict[str, Any]], None] | None = None,
              progress_interval_s: float = 0.5) -> RunReport:
    """Run every uncommitted unit on Ray (starting an embedded Ray if none is connected).
    `on_progress` is called at a fixed rate; `on_unit` with each finished unit's result."""
    import ray

    started, cpu_started = time.perf_counter(), time.process_time()
    output.ensure()
    output.clean_tmp()
    records = committed_records(output)
    todo = deque(u for u in units if unit_id(u) not in records)
    skipped = len(units) - len(todo)
    init_ray(spec)
    remote = ray.remote(execute_unit).options(num_cpus=spec.cpus_per_shard,
                                              max_retries=spec.max_retries)
    context_ref = ray.put(context)
    limit = default_max_pending(spec)
    progress = RunProgress(total=len(units), done_before=skipped)
    in_flight: dict[Any, str] = {}
    failed: list[dict[str, Any]] = []
    peak, new_commits, last_report = 0, 0, 0.0
    last_finish = time.perf_counter()
    while todo or in_flight:
        while todo and len(in_flight) < limit:
            unit = todo.popleft()
            uid = unit_id(unit)
            in_flight[remote.remote(output.uri, uid, work, context_ref, unit)] = uid
        peak = max(peak, len(in_flight))
        refs = list(in_flight)
        ready, _ = ray.wait(refs, num_returns=1, timeout=progress_interval_s, fetch_local=False)
        if ready and len(refs) > 1:  # collect everything else that is done, in one call
            ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0, fetch_local=False)
        for ref in ready:
            uid = in_flight.pop(ref)
            try:
                result = ray.get(ref)
            except Exception as exc:  # the worker died more often than max_retries
                result = {"unit_id": uid, "status": "failed",
                          "error": f"{type(exc).__name__}: {exc}"}
            if result.get("status") == "committed":
                records[uid] = {k: v for k, v in result.items() if k != "status"}
                progress.committed += 1
                new_commits += 1
            else:
                failed.append(result)
                progress.failed += 1
            if on_unit is not None:
                on_unit(result)
        progress.in_flight = len(in_flight)
        now = time.perf_counter()
        if ready:
            last_finish = now
        elif now - last_finish > spec.stall_timeout_s and cpus_in_use() < spec.cpus_per_shard:
            raise StalledError(
                f"no work unit finished in {spec.stall_timeout_s:.0f} s and none is running "
                f"({len(in_flight)} waiting for a worker): the cluster cannot start them "
                f"(is ray.cpus_per_shard={spec.cpus_per_shard} more than a node has? see the "
                "Ray logs); committed units are kept, rerun to resume")
        if on_progress is not None and now - last_report >= progress_interval_s:
            on_progress(progress)
            last_report = now
    if on_progress is not None:
        on_progress(progress)
    if new_commits or not output.exists(INDEX):
        write_index(output, records)
    for stale in output.error_ids() & records.keys():  # failed once, committed since
        output.clear_error(stale)
    output.clean_tmp()  # leave no empty scratch folder beside the data
    return RunReport(planned=len(units), skipped=skipped, records=records, failed=failed,
                     wall_s=time.perf_counter() - started,
                     driver_cpu_s=time.process_time() - cpu_started, max_in_flight=peak)
