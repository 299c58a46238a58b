"""The main job on a real local Ray: dataset contents, determinism, S3 output, resume."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import datasets
import pyarrow as pa
import pyarrow.dataset as ds
import pytest
from conftest import small_job

from synth.infra.storage import Output
from synth.pipeline.config import parse_config
from synth.pipeline.job import run_job
from synth.template import encode_messages, render_completion


def read_table(output: Output, folder: str) -> pa.Table:
    table = ds.dataset(output.path(folder), filesystem=output.fs, format="parquet").to_table()
    return table.sort_by("sample_id" if "sample_id" in table.column_names else "task_id")


@pytest.fixture(scope="module")
def miniature(ray_session, tmp_path_factory):
    out = tmp_path_factory.mktemp("mini") / "out"
    config = parse_config(small_job(str(out)))
    result = run_job(config)
    return config, result, out


def test_dataset_loads_with_datasets(miniature, tmp_path) -> None:
    _config, result, out = miniature
    assert not result.failed and result.committed == result.planned
    cache = str(tmp_path / "hf-cache")  # datasets caches local folders by name and card only
    train = datasets.load_dataset("parquet", data_dir=str(out / "data"), split="train",
                                  cache_dir=cache)
    assert len(train) == result.summary["totals"]["samples"] > 0
    for column in ("input_ids", "assistant_masks", "messages", "tools", "sample_id", "family",
                   "difficulty", "seed", "reward", "passed", "task_pass_rate", "k",
                   "n_turns", "n_tool_calls", "n_tokens", "finish_reason", "model", "sampling",
                   "synth_version", "tokenizer_sha256"):
        assert column in train.column_names, column
    card = datasets.load_dataset(str(out), cache_dir=cache)
    assert set(card) == {"train"} and len(card["train"]) == len(train)
    tasks = datasets.load_dataset(str(out), "tasks", cache_dir=cache)
    assert len(tasks["train"]) == result.summary["totals"]["tasks"]


def test_rows_reencode_and_masks_decode_to_completions(miniature, tokenizer) -> None:
    _, _, out = miniature
    table = read_table(Output(str(out)), "data").to_pylist()
    assert table
    for row in table:
        messages = json.loads(row["messages"])
        # the system message carries the tools, or a search task's developer message does
        carrier = messages[1] if messages[1]["role"] == "developer" else messages[0]
        assert messages[0]["role"] == "system" and carrier["tools"] == json.loads(row["tools"])
        assert messages[-1]["role"] == "assistant"
        text = encode_messages(messages, thinking_mode="thinking", drop_thinking=True)
        assert tokenizer.encode(text) == row["input_ids"]
        assert len(row["assistant_masks"]) == len(row["input_ids"])
        trained = tokenizer.decode(i for i, m in zip(row["input_ids"], row["assistant_masks"],
                                                      strict=True) if m)
        # exactly what the model wrote in this row's user turn
        users = [i for i, m in enumerate(messages) if m["role"] in ("user", "developer")]
        completions = "".join(render_completion(m) for m in messages[users[-1] + 1:]
                              if m["role"] == "assistant")
        assert trained == completions
        assert row["passed"] and row["reward"] == 1.0 and row["task_pass_rate"] > 0


def test_pass_rate_filter_is_visible(miniature) -> None:
    _, _result, out = miniature
    tasks = read_table(Output(str(out)), "tasks").to_pylist()
    dropped = [t for t in tasks if not t["kept"]]
    assert dropped, "some tasks have pass@k = 0 with mistakes on"
    assert all(t["pass_rate"] == 0 for t in dropped)
    kept_ids = {t["task_id"] for t in tasks if t["kept"]}
    samples = read_table(Output(str(out)), "data")
    assert set(samples.column("task_id").to_pylist()) <= kept_ids
    assert all(t["verifier"] for t in tasks)


def test_card_has_tables_and_config(miniature) -> None:
    _, _, out = miniature
    card = (out / "README.md").read_text()
    assert card.startswith("---\n") and "config_name: tasks" in card
    assert "## Per family" in card and "## Per difficulty" in card
    assert "## Sample lengths (tokens)" in card and "## Config" in card
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] is True


def test_same_seed_same_dataset_and_rerun_skips(miniature, tmp_path) -> None:
    config, _, out = miniature
    again = run_job(config.model_copy(update={"output": str(tmp_path / "again")}))
    assert not again.failed
    first = read_table(Output(str(out)), "data")
    second = read_table(Output(str(tmp_path / "again")), "data")
    assert first.equals(second)
    rerun = run_job(config)
    assert rerun.skipped == rerun.planned
    assert read_table(Output(str(out)), "data").equals(first)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_output_to_s3_on_moto(ray_session, tmp_path) -> None:
    boto3 = pytest.importorskip("boto3")
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="test", aws_secret_access_key="test")
        s3.create_bucket(Bucket="synth-test")
        uri = (f"s3://test:test@synth-test/runs/one?endpoint_override=127.0.0.1:{port}"
               "&scheme=http&region=us-east-1")
        config = parse_config(small_job(uri, families=["bank"], tasks=6))
        result = run_job(config)
        assert not result.failed and result.committed == result.planned
        keys = {o["Key"] for o in s3.list_objects_v2(Bucket="synth-test")["Contents"]}
        assert "runs/one/README.md" in keys and "runs/one/manifest.json" in keys
        card = s3.get_object(Bucket="synth-test", Key="runs/one/README.md")["Body"].read()
        assert b"test:test@" not in card, "credentials in a URI are never written out"
        assert {f"runs/one/_commits/{s}.json" for s in ("bank-00000", "bank-00001")} <= keys
        table = read_table(Output(uri), "data")
        assert table.num_rows == result.summary["totals"]["samples"] > 0
        local = run_job(config.model_copy(update={"output": str(tmp_path / "local")}))
        assert read_table(Output(str(tmp_path / "local")), "data").equals(table)
        assert local.summary["totals"] == result.summary["totals"]
    finally:
        server.stop()


def test_uncommitted_shard_files_are_rewritten_not_duplicated(ray_session, tmp_path) -> None:
    out = tmp_path / "out"
    config = parse_config(small_job(str(out), families=["bank"], tasks=8))
    run_job(config)
    reference = read_table(Output(str(out)), "data")
    (out / "_commits" / "bank-00001.json").unlink()  # as if killed after data, before commit
    (out / "_tmp").mkdir(exist_ok=True)
    (out / "_tmp" / "stale.parquet").write_bytes(b"partial")
    result = run_job(config)
    assert result.skipped == 1 and result.committed == 2
    assert read_table(Output(str(out)), "data").equals(reference)
    assert not list(Path(out / "_tmp").glob("*"))


def test_card_has_license_plots_example_and_the_stand_in_notice(miniature, tmp_path) -> None:
    _config, result, out = miniature
    card = (out / "README.md").read_text()
    front = card.split("---")[1]
    assert "license: mit" in front
    body = card.split("---", 2)[2]
    title, first_paragraph = [p for p in body.split("\n\n") if p.strip()][:2]
    assert title.startswith("# ")
    assert "not for training" in first_paragraph and "stand-in" in first_paragraph
    links = [line for line in body.splitlines() if line.startswith("![")]
    assert links
    for link in links:
        path = out / link.split("(", 1)[1].rstrip(")")
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", link
    assert "## An example row" in body and '"input_ids"' in body
    assert "## Difficulty mix" in body
    failed = datasets.load_dataset(str(out), "failed", cache_dir=str(tmp_path / "hf"))["train"]
    assert len(failed) == result.summary["totals"]["failed_samples"] > 0
    assert not any(failed["passed"]) and all(failed["verdict_reason"])
