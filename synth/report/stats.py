"""Dataset statistics computed from column reads of the Parquet tables.

Only small scalar columns are read (never `input_ids`, `messages` or `tools`), so a
100k-sample dataset costs a few megabytes. Every figure is plain JSON (lists and dicts with
string keys): the report embeds it, plots draw from it and tests recompute it from the files.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from synth import __version__
from synth.infra.config import redact_uri
from synth.report.source import FAILED, SAMPLES, TASKS, DatasetSource

SAMPLE_TYPES = pa.schema([
    ("trajectory_id", pa.string()), ("task_id", pa.string()), ("family", pa.string()),
    ("difficulty", pa.int32()), ("turn", pa.int32()), ("passed", pa.bool_()),
    ("reward", pa.float64()), ("finish_reason", pa.string()), ("n_turns", pa.int32()),
    ("n_tool_calls", pa.int32()), ("n_tokens", pa.int32()), ("n_trained_tokens", pa.int32()),
    ("model", pa.string())])
TASK_TYPES = pa.schema([
    ("task_id", pa.string()), ("family", pa.string()), ("difficulty", pa.int32()),
    ("k", pa.int32()), ("n_passed", pa.int32()), ("kept", pa.bool_())])
SAMPLE_COLUMNS = [*SAMPLE_TYPES.names, "context_resets"]
TASK_COLUMNS = TASK_TYPES.names
TRAJECTORY_KEYS = ["trajectory_id", "task_id", "family", "difficulty", "passed",
                   "finish_reason"]
SYNTHESIZED = "synthesized"


def nearest_rank(ordered: np.ndarray, q: float) -> int:
    """The q-quantile of sorted values by nearest rank (an element of the data)."""
    if len(ordered) == 0:
        return 0
    rank = max(1, int(np.ceil(q * len(ordered))))
    return int(ordered[rank - 1])


def length_summary(values: np.ndarray, bins: int) -> dict[str, Any]:
    """Count, quantiles, total and an equal-width histogram (numpy's bin convention)."""
    if len(values) == 0:
        return {"count": 0, "min": 0, "p50": 0, "p90": 0, "max": 0, "mean": 0.0, "total": 0,
                "edges": [], "counts": []}
    ordered = np.sort(values.astype(np.int64))
    counts, edges = np.histogram(ordered, bins=bins)
    return {"count": len(ordered), "min": int(ordered[0]),
            "p50": nearest_rank(ordered, 0.5), "p90": nearest_rank(ordered, 0.9),
            "max": int(ordered[-1]), "mean": float(ordered.mean()), "total": int(ordered.sum()),
            "edges": [float(e) for e in edges], "counts": [int(c) for c in counts]}


def value_counts(values: np.ndarray) -> list[list[int]]:
    """[[value, how many], ...] sorted by value."""
    if len(values) == 0:
        return []
    unique, counts = np.unique(values, return_counts=True)
    return [[int(u), int(c)] for u, c in zip(unique, counts, strict=True)]


def _numpy(table: pa.Table, name: str) -> np.ndarray:
    return table.column(name).fill_null(0).to_numpy(zero_copy_only=False)


def trajectory_table(samples: pa.Table) -> pa.Table:
    """One row per trajectory (its samples repeat the trajectory's fields)."""
    per_trajectory = [("n_tool_calls", "max"), ("n_turns", "max"), ("reward", "max")]
    if "context_resets" in samples.column_names:
        per_trajectory.append(("context_resets", "max"))
    keys = [k for k in TRAJECTORY_KEYS if k in samples.column_names]
    grouped = samples.group_by(keys, use_threads=False).aggregate(per_trajectory)
    return grouped.rename_columns([n.removesuffix("_max") for n in grouped.column_names])


def _rate(passed: int, total: int) -> float | None:
    return passed / total if total else None


def _task_groups(tasks: pa.Table, keys: list[str]) -> list[dict[str, Any]]:
    table = tasks.append_column("kept_int", pc.cast(tasks.column("kept"), pa.int64()))
    grouped = table.group_by(keys, use_threads=False).aggregate(
        [("task_id", "count"), ("kept_int", "sum"), ("k", "sum"), ("n_passed", "sum")])
    rows = grouped.to_pylist()
    for row in rows:
        row["tasks"] = row.pop("task_id_count")
        row["kept_tasks"] = row.pop("kept_int_sum")
        row["rollouts"] = row.pop("k_sum")
        row["passed_rollouts"] = row.pop("n_passed_sum")
        row["pass_rate"] = _rate(row["passed_rollouts"], row["rollouts"])
    return sorted(rows, key=lambda r: [r[k] for k in keys])


def rejected_reasons(tasks: pa.Table) -> dict[str, int]:
    """Why tasks were not kept, read off their pass counts."""
    rejected = tasks.filter(pc.invert(tasks.column("kept")))
    none = pc.equal(rejected.column("n_passed"), 0)
    every = pc.equal(rejected.column("n_passed"), rejected.column("k"))
    counts = {"no rollout passed": pc.sum(none).as_py() or 0,
              "every rollout passed": pc.sum(every).as_py() or 0}
    counts["pass rate outside the filter"] = rejected.num_rows - sum(counts.values())
    return {reason: n for reason, n in counts.items() if n}


def environment_rows(source: DatasetSource) -> list[dict[str, Any]]:
    """Per synthesized environment: tasks, kept, rollouts, pass rate (empty otherwise)."""
    if not source.has_column(TASKS, "metadata"):
        return []
    marked = pc.match_substring(pc.field("metadata"), SYNTHESIZED)
    table = source.columns(TASKS, ["family", "metadata", "kept", "k", "n_passed"],
                           filter=marked)
    groups: dict[tuple[str, str], Counter[str]] = {}
    for row in table.to_pylist():
        try:
            metadata = json.loads(row["metadata"])
        except json.JSONDecodeError:
            continue
        if not isinstance(metadata, dict) or metadata.get("source") != SYNTHESIZED:
            continue
        environment = str(metadata.get("environment", "?"))
        group = groups.setdefault((row["family"], environment), Counter())
        group.update(tasks=1, kept_tasks=int(bool(row["kept"])), rollouts=row["k"],
                     passed_rollouts=row["n_passed"])
    return [{"family": family, "environment": environment, **counts,
             "pass_rate": _rate(counts["passed_rollouts"], counts["rollouts"])}
            for (family, environment), counts in sorted(groups.items())]


def _pass_rate_grid(cells: list[dict[str, Any]]) -> dict[str, Any]:
    families = sorted({c["family"] for c in cells})
    levels = sorted({c["difficulty"] for c in cells})
    by_cell = {(c["family"], c["difficulty"]): c for c in cells}
    return {"families": families, "difficulties": levels,
            "rates": [[by_cell[f, d]["pass_rate"] if (f, d) in by_cell else None
                       for d in levels] for f in families],
            "rollouts": [[by_cell[f, d]["rollouts"] if (f, d) in by_cell else 0
                          for d in levels] for f in families]}


def _family_rows(task_groups: list[dict[str, Any]], samples: pa.Table,
                 trajectories: pa.Table) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {
        g["family"]: {k: g[k] for k in ("tasks", "kept_tasks", "rollouts", "passed_rollouts",
                                        "pass_rate")} for g in task_groups}
    empty = {"tasks": 0, "kept_tasks": 0, "rollouts": 0, "passed_rollouts": 0,
             "pass_rate": None}
    by_samples = samples.group_by("family", use_threads=False).aggregate(
        [("turn", "count"), ("n_tokens", "sum"), ("n_trained_tokens", "sum")])
    for g in by_samples.to_pylist():
        row = rows.setdefault(g["family"], dict(empty))
        row.update(samples=g["turn_count"], tokens=g["n_tokens_sum"],
                   trained_tokens=g["n_trained_tokens_sum"])
    passed = pc.cast(trajectories.column("passed"), pa.int64())
    by_trajectories = trajectories.append_column("passed_int", passed).group_by(
        "family", use_threads=False).aggregate([("passed_int", "sum"), ("passed_int", "count")])
    for g in by_trajectories.to_pylist():
        row = rows.setdefault(g["family"], dict(empty))
        row.update(trajectories=g["passed_int_count"], passed_trajectories=g["passed_int_sum"])
    for row in rows.values():
        for key in ("samples", "tokens", "trained_tokens", "trajectories",
                    "passed_trajectories"):
            row.setdefault(key, 0)
    return dict(sorted(rows.items()))


def _stand_in(manifest: dict[str, Any] | None, models: list[str]) -> bool:
    """Whether the policy was the scripted stand-in (the data is then test data)."""
    if manifest is not None:
        policy = (manifest.get("config") or {}).get("policy") or {}
        if "kind" in policy:
            return policy["kind"] == "scripted"
    return bool(models) and all(m.startswith("scripted") for m in models)


def compute_stats(source: DatasetSource, *, bins: int = 30) -> dict[str, Any]:
    """Every statistic the report shows, from column reads only."""
    samples = source.columns(SAMPLES, SAMPLE_COLUMNS, empty=SAMPLE_TYPES)
    tasks = source.columns(TASKS, TASK_COLUMNS, empty=TASK_TYPES)
    trajectories = trajectory_table(samples)
    manifest = source.manifest()
    summary = (manifest or {}).get("summary") or {}
    config = (manifest or {}).get("config") or {}
    if tasks.num_rows:
        cells = _task_groups(tasks, ["family", "difficulty"])
        grid_from = "every rollout (tasks table)"
    else:
        cells = _trajectory_cells(trajectories)
        grid_from = "training trajectories only (no tasks table)"
    family_groups = _task_groups(tasks, ["family"]) if tasks.num_rows else []
    passed = int(pc.sum(pc.cast(trajectories.column("passed"), pa.int64())).as_py() or 0)
    failed_ids = source.columns(FAILED, ["trajectory_id"],
                                empty=pa.schema([("trajectory_id", pa.string())]))
    written_failures = len(pc.unique(failed_ids.column("trajectory_id"))) \
        if failed_ids.num_rows else 0
    models = sorted(set(samples.column("model").to_pylist())) \
        if "model" in samples.column_names else []
    stats: dict[str, Any] = {
        "source": redact_uri(source.uri),
        "synth_version": __version__,
        "dataset_version": (manifest or {}).get("synth_version"),
        "job_seed": config.get("seed"),
        "license": config.get("license"),
        "stand_in": _stand_in(manifest, models),
        "models": models,
        "counts": {
            "samples": samples.num_rows,
            "trajectories": trajectories.num_rows,
            "passed_trajectories": passed,
            "failed_trajectories": trajectories.num_rows - passed + written_failures,
            "tasks": tasks.num_rows,
            "kept_tasks": sum(g["kept_tasks"] for g in family_groups),
            "rollouts": sum(g["rollouts"] for g in family_groups),
            "passed_rollouts": sum(g["passed_rollouts"] for g in family_groups),
            "tokens": int(pc.sum(samples.column("n_tokens")).as_py() or 0),
            "trained_tokens": int(pc.sum(samples.column("n_trained_tokens")).as_py() or 0),
        },
        "families": _family_rows(family_groups, samples, trajectories),
        "pass_rate_grid": {**_pass_rate_grid(cells), "from": grid_from},
        "difficulty_mix": _difficulty_mix(cells),
        "tokens_per_sample": length_summary(_numpy(samples, "n_tokens"), bins),
        "trained_tokens_per_sample": length_summary(_numpy(samples, "n_trained_tokens"), bins),
        "tool_calls_per_trajectory": value_counts(_numpy(trajectories, "n_tool_calls")),
        "turns_per_trajectory": value_counts(_numpy(trajectories, "n_turns")),
        "finish_reasons": _reason_counts(trajectories.column("finish_reason").to_pylist()),
        "finish_reasons_all_rollouts": summary.get("finish_reasons"),
        "rejected_tasks": rejected_reasons(tasks) if tasks.num_rows else {},
        "generation_discards": summary.get("discarded") or {},
        "context_resets": _context_resets(trajectories),
        "environments": environment_rows(source),
        "has_verdict_reason": source.has_column(SAMPLES, "verdict_reason"),
    }
    return stats


def _trajectory_cells(trajectories: pa.Table) -> list[dict[str, Any]]:
    passed = pc.cast(trajectories.column("passed"), pa.int64())
    grouped = trajectories.append_column("passed_int", passed).group_by(
        ["family", "difficulty"], use_threads=False).aggregate(
        [("passed_int", "sum"), ("passed_int", "count")])
    return [{"family": g["family"], "difficulty": g["difficulty"],
             "rollouts": g["passed_int_count"], "passed_rollouts": g["passed_int_sum"],
             "pass_rate": _rate(g["passed_int_sum"], g["passed_int_count"]),
             "tasks": 0, "kept_tasks": 0} for g in grouped.to_pylist()]


def _difficulty_mix(cells: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Tasks per level per family: the mix actually drawn."""
    mix: dict[str, dict[str, int]] = {}
    for cell in cells:
        mix.setdefault(cell["family"], {})[str(cell["difficulty"])] = cell["tasks"]
    return dict(sorted(mix.items()))


def _reason_counts(reasons: list[str | None]) -> dict[str, int]:
    return dict(Counter(r or "" for r in reasons).most_common())


def _context_resets(trajectories: pa.Table) -> dict[str, Any] | None:
    """Context resets per trajectory (families with context management record them)."""
    if "context_resets" not in trajectories.column_names:
        return None
    values = _numpy(trajectories, "context_resets")
    return {"total": int(values.sum()), "trajectories_with_resets": int((values > 0).sum()),
            "per_trajectory": value_counts(values)}
