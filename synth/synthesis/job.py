"""The synthesis stage as a Ray job: one work unit per (category, index).

Each environment is a unit of the generic runner (`synth.infra.units`): its Parquet file
(`environments/env-<id>.parquet`, one row) is written atomically, then its commit marker, so a
rerun skips finished environments and a crashed one is retried. The driver then writes
`synthesis.json`: the config, totals and every counted failure reason.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from synth.infra.config import redact_uri
from synth.infra.storage import Output
from synth.infra.units import JobResult, UnitOutput, run_units
from synth.policy.base import Policy
from synth.seeding import derive_seed
from synth.synthesis.config import CategorySpec, ScriptedAgentSpec, SynthesisConfig
from synth.synthesis.loop import environment_row, synthesize_environment
from synth.synthesis.runner import CodeRunner

MANIFEST = "synthesis.json"
ENV_FOLDER = "environments"
ENV_SCHEMA = pa.schema([
    ("env_id", pa.string()), ("category", pa.string()), ("category_key", pa.string()),
    ("index", pa.int32()), ("seed", pa.int64()), ("status", pa.string()),
    ("discard_reason", pa.string()), ("end_reason", pa.string()),
    ("levels", pa.list_(pa.int32())), ("n_tasks", pa.int32()), ("files", pa.string()),
    ("tasks", pa.string()), ("validation_log", pa.string()), ("failure_counts", pa.string()),
    ("transcript", pa.string()), ("steps", pa.int32()), ("submissions", pa.int32()),
    ("model", pa.string()), ("isolation", pa.string()), ("wall_s", pa.float64()),
    ("synth_version", pa.string()),
])


@dataclass(frozen=True)
class EnvSlot:
    """One environment to synthesize."""

    env_id: str
    category: CategorySpec
    index: int
    seed: int
    ordinal: int
    total: int


def plan_environments(config: SynthesisConfig) -> list[EnvSlot]:
    """Every environment of the job in a stable order, with seeds from (seed, category, i)."""
    pairs = [(c, i) for c in config.categories for i in range(config.count(c))]
    return [EnvSlot(f"{c.key}-{i:03d}", c, i, derive_seed(config.seed, c.key, i), n, len(pairs))
            for n, (c, i) in enumerate(pairs)]


def build_agent(config: SynthesisConfig, slot: EnvSlot) -> Policy:
    """The scripted agent for this slot's blueprint, or a client of a real model."""
    spec = config.policy
    if isinstance(spec, ScriptedAgentSpec):
        from synth.synthesis.blueprints import find_blueprint
        from synth.synthesis.scripted_agent import ScriptedSynthesisAgent, assign_faults

        return ScriptedSynthesisAgent(
            find_blueprint(slot.category.name, slot.category.blueprint), seed=slot.seed,
            faults=assign_faults(list(spec.faults), slot.ordinal, slot.total),
            levels=config.levels, max_attempts=config.budgets.max_attempts_per_level,
            model=spec.model)
    from synth.policy.openai import OpenAICompletionsClient

    return OpenAICompletionsClient(spec.client_config())


async def _synthesize(config: SynthesisConfig, slot: EnvSlot) -> dict[str, Any]:
    policy = build_agent(config, slot)
    tokenizer = None
    if policy.wants_token_ids:
        from synth.tokenizer import shared_tokenizer

        tokenizer = shared_tokenizer(config.tokenizer)
    started = time.perf_counter()
    try:
        session = await synthesize_environment(config, slot.env_id, slot.category.name, policy,
                                               CodeRunner(config.sandbox), tokenizer)
    finally:
        await policy.close()
    return environment_row(session, category_key=slot.category.key, index=slot.index,
                           seed=slot.seed, model=policy.model,
                           wall_s=time.perf_counter() - started)


def synthesize_one(config: SynthesisConfig, slot: EnvSlot) -> UnitOutput:
    """Synthesize one environment (the unit runner writes and commits it)."""
    row = asyncio.run(_synthesize(config, slot))
    record = {"category": slot.category.key, "status": row["status"], "levels": row["levels"],
              "end_reason": row["end_reason"], "discard_reason": row["discard_reason"],
              "failure_counts": json.loads(row["failure_counts"]),
              "isolation": row["isolation"], "wall_s": row["wall_s"]}
    return UnitOutput(
        tables={f"{ENV_FOLDER}/env-{slot.env_id}.parquet":
                pa.Table.from_pylist([row], schema=ENV_SCHEMA)},
        stats=record)


def summarize(slots: list[EnvSlot], committed: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Totals, per category counts and every failure reason, summed over environments."""
    reasons: Counter[str] = Counter()
    ends: Counter[str] = Counter()
    levels: Counter[str] = Counter()
    categories: dict[str, Counter[str]] = {}
    for slot in slots:
        if slot.env_id not in committed:
            continue
        record = committed[slot.env_id]["stats"]
        reasons.update(record["failure_counts"])
        ends[record["end_reason"] or "none"] += 1
        levels.update(str(n) for n in record["levels"])
        cat = categories.setdefault(slot.category.key, Counter())
        cat.update({"environments": 1, "accepted": int(record["status"] == "accepted"),
                    "tasks": len(record["levels"])})
    return {
        "totals": {"environments": sum(c["environments"] for c in categories.values()),
                   "accepted": sum(c["accepted"] for c in categories.values()),
                   "tasks": sum(c["tasks"] for c in categories.values())},
        "categories": {k: dict(v) for k, v in sorted(categories.items())},
        "tasks_per_level": dict(sorted(levels.items())),
        "failure_reasons": dict(reasons.most_common()),
        "end_reasons": dict(ends.most_common()),
    }


def run_synthesis(config: SynthesisConfig, on_progress: Any = None) -> JobResult:
    """Synthesize every uncommitted environment on Ray, then write the manifest."""
    started = time.perf_counter()
    slots = plan_environments(config)
    output = Output(config.output)

    finished = len(output.committed_ids() & {s.env_id for s in slots})

    def report(unit: dict[str, Any]) -> None:
        nonlocal finished
        finished += 1
        if on_progress is not None:
            on_progress(unit, finished, len(slots))

    result = run_units(output, slots, lambda s: s.env_id, synthesize_one, config, config.ray,
                       on_unit=report)
    committed = {s.env_id: result.records[s.env_id] for s in slots
                 if s.env_id in result.records}
    summary = summarize(slots, committed)
    public = config.model_dump(mode="json")
    public["output"] = redact_uri(config.output)
    manifest = {"complete": not result.failed and len(committed) >= len(slots),
                "summary": summary, "environments": [s.env_id for s in slots],
                "config": public}
    output.write_text(MANIFEST, json.dumps(manifest, indent=1, sort_keys=True))
    return JobResult(output=config.output, planned=len(slots),
                           skipped=result.skipped, committed=len(committed),
                           failed=result.failed, summary=summary,
                           wall_s=time.perf_counter() - started)
