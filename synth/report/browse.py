"""The trajectories the browser shows: a seeded, bounded sample per family, read row by row
only from the files that hold them.

Within a family the sample goes round the (passed, finish reason) groups, so failures and
rare endings are represented even when most trajectories passed.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds

from synth.report.conversation import (
    MessageView,
    TokenRun,
    ToolSchemaView,
    message_views,
    parse_messages,
    token_runs,
    tool_schemas,
)
from synth.report.source import DatasetSource
from synth.seeding import derive_seed

INDEX_COLUMNS = ["trajectory_id", "family", "passed", "finish_reason"]
ROW_COLUMNS = ["trajectory_id", "task_id", "family", "difficulty", "seed", "turn",
               "input_ids", "assistant_masks", "messages", "tools", "reward", "passed",
               "task_pass_rate", "n_turns", "n_tool_calls", "n_tokens", "n_trained_tokens",
               "finish_reason", "model", "verdict_reason", "context_resets"]


@dataclass
class SampleView:
    """One training sample (one user turn) of a trajectory, as tokens."""

    turn: int
    n_tokens: int
    n_trained_tokens: int
    runs: list[TokenRun]


@dataclass
class TrajectoryView:
    """Everything the browser shows of one trajectory."""

    index: int
    trajectory_id: str
    task_id: str
    family: str
    difficulty: int
    seed: int | None
    passed: bool
    reward: float | None
    task_pass_rate: float | None
    finish_reason: str
    verdict_reason: str | None
    n_turns: int
    n_tool_calls: int
    context_resets: int | None
    model: str
    system: MessageView | None
    messages: list[MessageView]
    tools: list[ToolSchemaView]
    samples: list[SampleView] = field(default_factory=list)


def trajectory_locations(source: DatasetSource) -> pa.Table:
    """Per sample row: trajectory id, family, outcome, finish reason and the file holding it
    (small columns only)."""
    tables = []
    for number, path in enumerate(source.sample_files()):
        table = source.read_columns(path, INDEX_COLUMNS)
        tables.append(table.append_column("file", pa.array([number] * table.num_rows,
                                                           pa.int32())))
    return pa.concat_tables(tables) if tables else pa.table(
        {n: pa.array([], pa.string()) for n in [*INDEX_COLUMNS, "file"]})


def choose_trajectories(index: pa.Table, per_family: int, seed: int) -> list[str]:
    """Up to `per_family` trajectory ids per family, drawn with a seed derived from (seed,
    family) and spread round-robin over (passed, finish reason) groups. A draw prefers a
    trajectory in a file already drawn from, so the rows come from few files."""
    groups: dict[str, dict[tuple[bool, str], set[str]]] = defaultdict(lambda: defaultdict(set))
    file_of: dict[str, int] = {}
    for trajectory_id, family, passed, finish, number in zip(
            *(index.column(n).to_pylist() for n in [*INDEX_COLUMNS, "file"]), strict=True):
        groups[family][(bool(passed), finish or "")].add(trajectory_id)
        file_of[trajectory_id] = number
    chosen: list[str] = []
    for family in sorted(groups):
        rng = random.Random(derive_seed(seed, "report", family))
        queues = []
        for key in sorted(groups[family]):
            ids = sorted(groups[family][key])
            rng.shuffle(ids)
            queues.append(ids)
        opened: set[int] = set()
        taken = 0
        while taken < per_family and any(queues):
            for queue in queues:
                if queue and taken < per_family:
                    near = next((i for i in range(len(queue) - 1, -1, -1)
                                 if file_of[queue[i]] in opened), len(queue) - 1)
                    trajectory_id = queue.pop(near)
                    opened.add(file_of[trajectory_id])
                    chosen.append(trajectory_id)
                    taken += 1
    return chosen


def read_chosen_rows(source: DatasetSource, chosen: list[str],
                     index: pa.Table) -> list[dict[str, Any]]:
    """The sample rows of the chosen trajectories, reading only the files that hold them."""
    wanted = set(chosen)
    paths = source.sample_files()
    numbers = sorted({number for trajectory_id, number in zip(
        index.column("trajectory_id").to_pylist(), index.column("file").to_pylist(),
        strict=True) if trajectory_id in wanted})
    keep = ds.field("trajectory_id").isin(pa.array(sorted(wanted), pa.string()))
    rows: list[dict[str, Any]] = []
    for number in numbers:
        rows.extend(source.read_rows(paths[number], ROW_COLUMNS, keep).to_pylist())
    return rows


def trajectory_views(rows: list[dict[str, Any]], order: list[str],
                     decode: Callable[[list[int]], str], *,
                     context_shown: int) -> list[TrajectoryView]:
    """Group sample rows by trajectory (in `order`) and build their views."""
    by_trajectory: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_trajectory[row["trajectory_id"]].append(row)
    views = []
    for trajectory_id in order:
        samples = sorted(by_trajectory.get(trajectory_id, []), key=lambda r: r.get("turn") or 0)
        if samples:
            views.append(_view(len(views), samples, decode, context_shown))
    return views


def _view(index: int, samples: list[dict[str, Any]], decode: Callable[[list[int]], str],
          context_shown: int) -> TrajectoryView:
    last = samples[-1]
    items = message_views(parse_messages(last.get("messages")))
    system = next((m for m in items if m.kind == "system"), None)
    return TrajectoryView(
        index=index, trajectory_id=last["trajectory_id"], task_id=last.get("task_id") or "",
        family=last.get("family") or "", difficulty=last.get("difficulty") or 0,
        seed=last.get("seed"), passed=bool(last.get("passed")), reward=last.get("reward"),
        task_pass_rate=last.get("task_pass_rate"),
        finish_reason=last.get("finish_reason") or "",
        verdict_reason=last.get("verdict_reason"), n_turns=last.get("n_turns") or 0,
        n_tool_calls=last.get("n_tool_calls") or 0,
        context_resets=last.get("context_resets"), model=last.get("model") or "",
        system=system, messages=[m for m in items if m.kind != "system"],
        tools=tool_schemas(parse_messages(last.get("tools"))),
        samples=[SampleView(
            turn=row.get("turn") or 0, n_tokens=len(row.get("input_ids") or []),
            n_trained_tokens=sum(row.get("assistant_masks") or []),
            runs=token_runs(row.get("input_ids") or [], row.get("assistant_masks") or [],
                            decode, context_shown=context_shown)) for row in samples])
