"""Independent expectations for the report tests: every figure recomputed from whole Parquet
rows with plain Python, and dataset variants with the columns future families add."""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq


def read_rows(folder: Path, table: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for path in sorted((folder / table).glob("*.parquet")):
        rows.extend(pq.read_table(path).to_pylist())
    return rows


def read_samples(folder: Path) -> list[dict[str, Any]]:
    """Training rows and rows of failed trajectories: what the browser samples from."""
    return read_rows(folder, "data") + read_rows(folder, "failed")


def trajectories(samples: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """One row per trajectory id (the first sample of each)."""
    first: dict[str, dict[str, Any]] = {}
    for row in samples:
        first.setdefault(row["trajectory_id"], row)
    return first


def nearest_rank(values: list[int], q: float) -> int:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


def histogram_counts(values: list[int], edges: list[float]) -> list[int]:
    """Counts per bin: [e_i, e_i+1), the last bin closed."""
    counts = [0] * (len(edges) - 1)
    for value in values:
        for i in range(len(counts)):
            last = i == len(counts) - 1
            if edges[i] <= value < edges[i + 1] or (last and value == edges[-1]):
                counts[i] += 1
                break
    return counts


def expected_stats(folder: Path) -> dict[str, Any]:
    samples, tasks = read_rows(folder, "data"), read_rows(folder, "tasks")
    per_trajectory = trajectories(samples)
    families: dict[str, Counter[str]] = defaultdict(Counter)
    cells: dict[tuple[str, int], Counter[str]] = defaultdict(Counter)
    for task in tasks:
        for key in (task["family"],):
            families[key].update(tasks=1, kept_tasks=int(task["kept"]), rollouts=task["k"],
                                 passed_rollouts=task["n_passed"])
        cells[task["family"], task["difficulty"]].update(
            rollouts=task["k"], passed=task["n_passed"], tasks=1)
    for row in samples:
        families[row["family"]].update(samples=1, tokens=len(row["input_ids"]),
                                       trained_tokens=sum(row["assistant_masks"]))
    for row in per_trajectory.values():
        families[row["family"]].update(trajectories=1, passed_trajectories=int(row["passed"]))
    rejected: Counter[str] = Counter()
    for task in tasks:
        if not task["kept"]:
            rejected["no rollout passed" if task["n_passed"] == 0 else
                     "every rollout passed" if task["n_passed"] == task["k"] else
                     "pass rate outside the filter"] += 1
    environments: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for task in tasks:
        metadata = json.loads(task["metadata"])
        if metadata.get("source") == "synthesized":
            environments[task["family"], metadata["environment"]].update(
                tasks=1, kept_tasks=int(task["kept"]), rollouts=task["k"],
                passed_rollouts=task["n_passed"])
    resets = None
    if samples and "context_resets" in samples[0]:
        values = [row["context_resets"] or 0 for row in per_trajectory.values()]
        resets = {"total": sum(values), "trajectories_with_resets": sum(v > 0 for v in values),
                  "per_trajectory": sorted([v, n] for v, n in Counter(values).items())}
    passed = sum(row["passed"] for row in per_trajectory.values())
    return {
        "counts": {
            "samples": len(samples), "trajectories": len(per_trajectory),
            "passed_trajectories": passed,
            "failed_trajectories": len(per_trajectory) - passed + len(
                {row["trajectory_id"] for row in read_rows(folder, "failed")}),
            "tasks": len(tasks), "kept_tasks": sum(t["kept"] for t in tasks),
            "rollouts": sum(t["k"] for t in tasks),
            "passed_rollouts": sum(t["n_passed"] for t in tasks),
            "tokens": sum(len(r["input_ids"]) for r in samples),
            "trained_tokens": sum(sum(r["assistant_masks"]) for r in samples)},
        "families": {name: dict(c) for name, c in families.items()},
        "cells": {key: dict(c) for key, c in cells.items()},
        "lengths": [len(r["input_ids"]) for r in samples],
        "trained": [sum(r["assistant_masks"]) for r in samples],
        "tool_calls": sorted([v, n] for v, n in Counter(
            r["n_tool_calls"] for r in per_trajectory.values()).items()),
        "turns": sorted([v, n] for v, n in Counter(
            r["n_turns"] for r in per_trajectory.values()).items()),
        "finish_reasons": dict(Counter(r["finish_reason"] for r in per_trajectory.values())),
        "rejected": dict(rejected),
        "context_resets": resets,
        "environments": {key: dict(c) for key, c in environments.items()},
    }


def synthetic_output(tmp_path_factory: Any, samples: int, *, seed: int,
                     per_file: int) -> Path:
    """Real scripted rollouts (with failures and verdict reasons) replicated into files."""
    from synth.bench.report_data import write_synthetic_output

    folder = tmp_path_factory.mktemp("report-data") / "out"
    write_synthetic_output(folder, samples, seed=seed, samples_per_file=per_file)
    return folder


def _rewrite(path: Path, table: pa.Table) -> None:
    temp = path.with_suffix(".tmp")
    pq.write_table(table, temp)
    temp.replace(path)


def add_future_columns(folder: Path, synthesized_family: str) -> None:
    """What new families write: `context_resets` per trajectory, a `developer` message after
    the system prompt, and tasks of model-written environments (metadata source)."""
    for path in sorted([*(folder / "data").glob("*.parquet"),
                        *(folder / "failed").glob("*.parquet")]):
        table = pq.read_table(path)
        ids = table.column("trajectory_id").to_pylist()
        resets = [sum(map(ord, i)) % 3 for i in ids]
        messages = []
        for text in table.column("messages").to_pylist():
            parsed = json.loads(text)
            parsed.insert(1, {"role": "developer",
                              "content": "Search results older than the reset are gone."})
            messages.append(json.dumps(parsed))
        table = table.set_column(table.schema.get_field_index("messages"), "messages",
                                 pa.array(messages, pa.string()))
        resets_column = pa.array(resets, pa.int32())
        where = table.schema.get_field_index("context_resets")  # rows written since have it
        _rewrite(path, table.set_column(where, "context_resets", resets_column) if where >= 0
                 else table.append_column("context_resets", resets_column))
    for path in sorted((folder / "tasks").glob("*.parquet")):
        table = pq.read_table(path)
        metadata = [json.dumps({"environment": f"env-{i % 2}", "source": "synthesized"})
                    if family == synthesized_family else text
                    for i, (family, text) in enumerate(zip(
                        table.column("family").to_pylist(), table.column("metadata").to_pylist(),
                        strict=True))]
        _rewrite(path, table.set_column(table.schema.get_field_index("metadata"), "metadata",
                                        pa.array(metadata, pa.string())))
