"""The search family in a real job on local Ray: workers open the shared index, rows carry the
developer-role task, re-encode exactly, and the tasks table holds the question's record."""

from __future__ import annotations

import json

import pyarrow.dataset as ds
from conftest import small_job

from synth.pipeline.config import parse_config
from synth.pipeline.job import run_job
from synth.template import encode_messages, render_completion


def test_search_job_on_ray(ray_session, tmp_path, tokenizer) -> None:
    out = tmp_path / "search"
    result = run_job(parse_config(small_job(str(out), families=["search"], tasks=8)))
    assert not result.failed and result.committed == result.planned
    rows = ds.dataset(str(out / "data"), format="parquet").to_table().to_pylist()
    tasks = ds.dataset(str(out / "tasks"), format="parquet").to_table().to_pylist()
    assert rows and len(tasks) >= 6
    assert len({r["sample_id"] for r in rows}) == len(rows)
    for row in rows:
        messages = json.loads(row["messages"])
        assert [m["role"] for m in messages[:2]] == ["system", "developer"]
        assert messages[1]["tools"] and "tools" not in messages[0]
        assert (row["segment"], row["context_strategy"], row["context_resets"]) == (
            0, "discard_all", 0)
        assert row["sample_id"] == f"{row['trajectory_id']}/t0"  # segment 0: no suffix
        text = encode_messages(messages, thinking_mode="thinking", drop_thinking=True)
        assert tokenizer.encode(text) == row["input_ids"]
        trained = tokenizer.decode(i for i, m in zip(row["input_ids"], row["assistant_masks"],
                                                      strict=True) if m)
        assert trained == "".join(render_completion(m) for m in messages[2:]
                                  if m["role"] == "assistant")
    for task in tasks:
        meta, check = json.loads(task["metadata"]), json.loads(task["verifier"])
        assert meta["prompt_role"] == "developer" and meta["evidence"]
        if check["kind"] == "qa":
            assert {"question", "answer", "aliases", "chain", "hops", "constraints",
                    "candidates"} <= set(meta)
            assert all(c["wrong_because"] for c in meta["candidates"])
        else:
            assert check["rubric"]["criteria"]
