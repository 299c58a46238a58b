"""A large synthetic dataset output for the report benchmark, made quickly.

Real prototypes first: a few tasks per family and level, rolled out k times against the
scripted policy with mistakes, verified and turned into token-level rows exactly as a shard
does. Then the prototypes' rows are replicated under fresh task ids (seeded) into files of a
few hundred samples per family, as shards write them, until the wanted number of samples.
As a job does, passed trajectories go to `data/` and failed ones (with the verifier's reason)
to `failed/`, so the browser has failures to show.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from synth import __version__
from synth.bench.envs import procedural_family_names
from synth.env import Task, get_family, make_task_id
from synth.infra.storage import Output
from synth.pipeline.records import SAMPLE_SCHEMA, TASK_SCHEMA, sample_rows, task_row
from synth.policy.base import Sampling
from synth.policy.scripted import MistakeRates, ScriptedConfig, ScriptedModel
from synth.rollout.loop import run_rollout
from synth.rollout.trajectory import Trajectory
from synth.rollout.users import ScriptedUser
from synth.samples import build_samples_many
from synth.seeding import derive_seed
from synth.tokenizer import Tokenizer, load_tokenizer

ROW_SCHEMA = SAMPLE_SCHEMA
MISTAKES = MistakeRates(wrong_argument=0.08, skipped_step=0.06, unknown_tool=0.05,
                        malformed_dsml=0.05, wrong_final_answer=0.08, give_up=0.03)
SAMPLING = Sampling(max_tokens=8192)


@dataclass
class Prototype:
    """One real task, its k rollouts and their sample rows (per trajectory)."""

    task: Task
    trajectories: list[Trajectory]
    rows: list[list[dict[str, Any]]] = field(default_factory=list)

    @property
    def n_passed(self) -> int:
        return sum(t.passed for t in self.trajectories)


async def _rollouts(tasks: list[Task], k: int, seed: int) -> list[list[Trajectory]]:
    policy = ScriptedModel(ScriptedConfig(seed=seed, mistakes=MISTAKES))
    for task in tasks:
        policy.prepare(get_family(task.family), [task])
    return await asyncio.gather(*(asyncio.gather(*(
        run_rollout(task, get_family(task.family), policy, sampling=SAMPLING,
                    user=ScriptedUser(), sample_index=i) for i in range(k))) for task in tasks))


def prototypes(tokenizer: Tokenizer, *, seed: int, k: int = 4,
               families: list[str] | None = None) -> list[Prototype]:
    """Real rollouts of one task per family and level, with their sample rows."""
    tasks = []
    for name in families or procedural_family_names():
        family = get_family(name)
        for level in family.levels:
            generated = family.generate(derive_seed(seed, name, level), level)
            if generated.task is not None:
                tasks.append(generated.task)
    per_task = asyncio.run(_rollouts(tasks, k, seed))
    protos = [Prototype(task, trajectories) for task, trajectories in zip(tasks, per_task,
                                                                         strict=True)]
    flat = [(p, t) for p in protos for t in p.trajectories]
    built = build_samples_many([(t.messages, t.completions) for _, t in flat], tokenizer)
    for (proto, trajectory), samples in zip(flat, built, strict=True):
        rows = sample_rows(trajectory, proto.task, samples, tokenizer,
                           pass_rate=proto.n_passed / k, k=k, sampling=SAMPLING, job_seed=seed,
                           version=__version__)
        proto.rows.append(rows)
    return protos


def _replace(table: pa.Table, name: str, values: list[Any]) -> pa.Table:
    index = table.schema.get_field_index(name)
    return table.set_column(index, table.schema.field(index),
                            pa.array(values, table.schema.field(index).type))


def write_synthetic_output(folder: str | Path, n_samples: int, *, seed: int = 0, k: int = 4,
                           samples_per_file: int = 400) -> dict[str, Any]:
    """Write about `n_samples` training rows (and their tasks) under `folder`."""
    tokenizer = load_tokenizer()
    protos = prototypes(tokenizer, seed=seed, k=k)
    proto_samples = pa.Table.from_pylist(
        [row for p in protos for rows in p.rows for row in rows], schema=ROW_SCHEMA)
    proto_tasks = pa.Table.from_pylist(
        [task_row(p.task, n_passed=p.n_passed, k=k, kept=p.n_passed > 0, job_seed=seed)
         for p in protos], schema=TASK_SCHEMA)
    spans, start = [], 0  # per prototype: (first row, rows) of each trajectory
    for p in protos:
        spans.append([(start + sum(len(r) for r in p.rows[:i]), len(rows))
                      for i, rows in enumerate(p.rows)])
        start += sum(len(r) for r in p.rows)
    by_family: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(protos):
        by_family[p.task.family].append(i)
    families = sorted(by_family)
    output = Output(str(folder))
    output.ensure()
    rng = np.random.default_rng(derive_seed(seed, "bench-report"))
    finishes: Counter[str] = Counter()
    written, n_files, n_tasks = 0, 0, 0
    while written < n_samples:
        family = families[n_files % len(families)]
        picks, take, ids = [], [], []
        while len(take) < samples_per_file and written + len(take) < n_samples:
            proto = int(rng.choice(by_family[family]))
            task = protos[proto].task
            task_id = make_task_id(family, task.difficulty, int(rng.integers(1 << 62)))
            picks.append((proto, task_id))
            finishes.update(t.finish_reason for t in protos[proto].trajectories)
            if protos[proto].n_passed == 0:
                continue  # a rejected task: no training rows
            for i, (first, count) in enumerate(spans[proto]):
                take.extend(range(first, first + count))
                ids.extend([f"{task_id}#{i}"] * count)
        data = proto_samples.take(take)
        turns = data.column("turn").to_pylist()
        data = _replace(data, "trajectory_id", ids)
        data = _replace(data, "task_id", [i.rsplit("#", 1)[0] for i in ids])
        data = _replace(data, "sample_id", [f"{i}/t{t}" for i, t in zip(ids, turns, strict=True)])
        tasks = proto_tasks.take([p for p, _ in picks])
        tasks = _replace(tasks, "task_id", [task_id for _, task_id in picks])
        shard = f"{family}-{n_files:05d}"
        passed = pc.equal(data.column("passed"), True)
        for folder, part in (("data/train", data.filter(passed)),
                             ("failed/failed", data.filter(pc.invert(passed)))):
            if part.num_rows:
                output.write_table(f"{folder}-{shard}.parquet", part)
        output.write_table(f"tasks/tasks-{shard}.parquet", tasks)
        written += data.num_rows
        n_tasks += len(picks)
        n_files += 1
    output.clean_tmp()
    manifest = {"synth_version": __version__,
                "config": {"seed": seed, "k": k, "policy": {"kind": "scripted"}},
                "summary": {"finish_reasons": dict(finishes.most_common()), "discarded": {}}}
    output.write_text("manifest.json", json.dumps(manifest, indent=1))
    return {"samples": written, "tasks": n_tasks, "files": n_files, "prototypes": len(protos)}
