"""Rows of the output tables and their fixed Arrow schemas.

One training row per user turn (and context segment) of an accepted trajectory: `input_ids`
and `assistant_masks` (the names TRL's collators read), the exact `messages` list (JSON text,
system message with its tools) that `encode_messages(..., thinking_mode="thinking",
drop_thinking=True)` renders to the row's ids, and the metadata a post-training team filters
on. A second table lists every task.
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

from synth.env import Task
from synth.policy.base import Sampling
from synth.rollout.trajectory import Trajectory
from synth.samples import Sample
from synth.tokenizer import Tokenizer

SAMPLE_SCHEMA = pa.schema([
    ("sample_id", pa.string()),
    ("trajectory_id", pa.string()),
    ("task_id", pa.string()),
    ("family", pa.string()),
    ("difficulty", pa.int32()),
    ("seed", pa.int64()),
    ("job_seed", pa.int64()),
    ("sample_index", pa.int32()),
    ("turn", pa.int32()),
    ("segment", pa.int32()),
    ("input_ids", pa.list_(pa.int32())),
    ("assistant_masks", pa.list_(pa.int8())),
    ("messages", pa.string()),
    ("tools", pa.string()),
    ("reward", pa.float64()),
    ("passed", pa.bool_()),
    ("task_pass_rate", pa.float64()),
    ("k", pa.int32()),
    ("n_turns", pa.int32()),
    ("n_tool_calls", pa.int32()),
    ("n_tokens", pa.int32()),
    ("n_trained_tokens", pa.int32()),
    ("finish_reason", pa.string()),
    ("verdict_reason", pa.string()),
    ("context_strategy", pa.string()),
    ("context_resets", pa.int32()),
    ("model", pa.string()),
    ("sampling", pa.string()),
    ("synth_version", pa.string()),
    ("tokenizer_sha256", pa.string()),
])

TASK_SCHEMA = pa.schema([
    ("task_id", pa.string()),
    ("family", pa.string()),
    ("difficulty", pa.int32()),
    ("seed", pa.int64()),
    ("job_seed", pa.int64()),
    ("k", pa.int32()),
    ("n_passed", pa.int32()),
    ("pass_rate", pa.float64()),
    ("kept", pa.bool_()),
    ("system_prompt", pa.string()),
    ("user_turns", pa.list_(pa.string())),
    ("tools", pa.string()),
    ("initial_state", pa.string()),
    ("reference", pa.string()),
    ("verifier", pa.string()),
    ("metadata", pa.string()),
])


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def sample_id(trajectory_id: str, sample: Sample) -> str:
    """`<trajectory>/t<turn>`, then `/s<segment>` for a context after a cut (segment > 0)."""
    suffix = f"/s{sample.segment}" if sample.segment else ""
    return f"{trajectory_id}/t{sample.turn}{suffix}"


def sample_rows(trajectory: Trajectory, task: Task, samples: list[Sample], tokenizer: Tokenizer,
                *, pass_rate: float, k: int, sampling: Sampling, job_seed: int,
                version: str) -> list[dict[str, Any]]:
    """The training rows of one accepted trajectory (its samples: one per user turn, and per
    context segment when context management cut it)."""
    rows = []
    sampling_json = sampling.model_dump_json()
    for sample in samples:
        rows.append({
            "sample_id": sample_id(trajectory.trajectory_id, sample),
            "trajectory_id": trajectory.trajectory_id,
            "task_id": task.task_id,
            "family": task.family,
            "difficulty": task.difficulty,
            "seed": task.seed,
            "job_seed": job_seed,
            "sample_index": trajectory.sample_index,
            "turn": sample.turn,
            "segment": sample.segment,
            "input_ids": sample.input_ids,
            "assistant_masks": sample.assistant_masks,
            "messages": _json(sample.messages),
            "tools": _json(task.tools),
            "reward": trajectory.reward,
            "passed": trajectory.passed,
            "task_pass_rate": pass_rate,
            "k": k,
            "n_turns": trajectory.n_turns,
            "n_tool_calls": trajectory.n_tool_calls,
            "n_tokens": len(sample.input_ids),
            "n_trained_tokens": sum(sample.assistant_masks),
            "finish_reason": trajectory.finish_reason,
            "verdict_reason": trajectory.verdict_reason,
            "context_strategy": trajectory.context_strategy,
            "context_resets": trajectory.context_resets,
            "model": trajectory.model,
            "sampling": sampling_json,
            "synth_version": version,
            "tokenizer_sha256": tokenizer.sha256,
        })
    return rows


def task_row(task: Task, *, n_passed: int, k: int, kept: bool, job_seed: int) -> dict[str, Any]:
    """One row of the task table (every task, kept or not, with its verifier spec)."""
    return {
        "task_id": task.task_id, "family": task.family, "difficulty": task.difficulty,
        "seed": task.seed, "job_seed": job_seed, "k": k, "n_passed": n_passed,
        "pass_rate": n_passed / k, "kept": kept, "system_prompt": task.system_prompt,
        "user_turns": task.user_turns, "tools": _json(task.tools),
        "initial_state": _json(task.initial_state),
        "reference": _json([t.to_json() for t in task.reference]),
        "verifier": _json(task.check), "metadata": _json(task.metadata),
    }


def samples_table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=SAMPLE_SCHEMA)


def tasks_table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=TASK_SCHEMA)
