"""The synthesis stage end to end on a real local Ray: the miniature config's environments,
every planted fault caught with its counted reason, the procedural conformance checks on the
loaded families, and a rollout job over them that passes the dataset checks."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path

import pyarrow.dataset as ds
import pytest
import test_env_conformance as conformance
import test_pipeline_e2e as pipeline_e2e
from conftest import small_job

from synth.env import registry
from synth.infra.storage import Output
from synth.pipeline.config import parse_config
from synth.pipeline.job import run_job
from synth.sandbox import Sandbox, SandboxLimits, SandboxUnavailable, isolation_required
from synth.synthesis.config import load_synthesis_config
from synth.synthesis.job import ENV_SCHEMA, _synthesize, plan_environments, run_synthesis
from synth.synthesis.load import load_synthesized_family
from synth.template import encode_messages

ROOT = Path(__file__).resolve().parent.parent
PLANTED = {"syntax_error", "verifier_accepts_corruption", "solution_reads_db",
           "solution_timeout", "tools_file_access", "write_outside_folder",
           "attempts_exhausted"}


@pytest.fixture(scope="module")
def synthesized(ray_session, tmp_path_factory):
    try:
        Sandbox(SandboxLimits(), backend="bwrap")
    except SandboxUnavailable as exc:
        if isolation_required():
            pytest.fail(f"SYNTH_SANDBOX_REQUIRED is set but the sandbox is unusable: {exc}")
        pytest.skip(f"bubblewrap sandbox unavailable ({exc}); set SYNTH_SANDBOX_REQUIRED=1")
    out = tmp_path_factory.mktemp("synthesis") / "out"
    config = load_synthesis_config(ROOT / "configs" / "synthesis.yaml", {"output": str(out)})
    result = run_synthesis(config)
    rows = ds.dataset(str(out / "environments"), format="parquet").to_table()
    return config, result, out, rows


@pytest.fixture(scope="module")
def families(synthesized):
    """The all-environments family and one family per environment, loaded from the table."""
    _, _, out, rows = synthesized
    specs = [str(out)] + [str(out / "environments" / f"env-{env}.parquet")
                          for env in sorted(rows.column("env_id").to_pylist())]
    loaded = {f.name: f for f in map(load_synthesized_family, specs)}
    yield loaded
    for name in loaded:  # keep later tests' view of the registry as it was
        registry.unregister(name)


def test_table_has_one_row_per_environment(synthesized) -> None:
    _, result, out, rows = synthesized
    assert not result.failed and result.committed == result.planned == 4
    assert rows.schema.equals(ENV_SCHEMA)
    for row in rows.to_pylist():
        assert row["status"] == "accepted" and row["isolation"] == "bwrap", row["env_id"]
        files = json.loads(row["files"])
        assert {"db.json", "tools.py", "level_1/task.json", "level_1/solution.py",
                "level_1/verify.py"} <= set(files)
        tasks = json.loads(row["tasks"])
        assert [t["level"] for t in tasks] == row["levels"] and row["n_tasks"] == len(tasks)
        assert all(t["calls"] and t["corruptions"] for t in tasks)
        log = json.loads(row["validation_log"])
        assert {"check", "ok", "reason", "detail", "level", "attempt"} <= set(log[0])
        assert sum(e["check"] == "corruptions" and e["ok"] for e in log) == len(tasks)
        transcript = json.loads(row["transcript"])
        assert transcript[0]["role"] == "system" and transcript[0]["tools"]
        assert transcript[2]["tool_calls"][0]["function"]["name"] == "search_data"
        assert "I found 0 first names" not in row["transcript"]  # names came from the search
        encode_messages(transcript, thinking_mode="thinking")  # valid V3.2 conversation
    manifest = json.loads((out / "synthesis.json").read_text())
    assert manifest["complete"] and manifest["summary"]["totals"]["tasks"] == sum(
        len(r) for r in rows.column("levels").to_pylist())


def test_every_planted_fault_is_caught_with_its_reason(synthesized) -> None:
    _, result, _, rows = synthesized
    counts: Counter[str] = Counter()
    for row in rows.to_pylist():
        counts.update(json.loads(row["failure_counts"]))
        assert row["end_reason"] in ("completed", "level_discarded"), row["env_id"]
    assert set(counts) >= PLANTED, counts
    assert counts["verifier_accepts_corruption"] == 4  # one fixed at once, one never (3 tries)
    assert counts == Counter(result.summary["failure_reasons"])
    by_env = {r["env_id"]: r for r in rows.to_pylist()}
    assert by_env["warehouse_restock-000"]["levels"] == [1, 2]  # level 3 ran out of attempts
    assert sorted(len(r["levels"]) for r in by_env.values()) == [2, 3, 3, 3]
    for row in by_env.values():  # the agent added tools when level 3 needed them
        tasks = json.loads(row["tasks"])
        if len(tasks) == 3:
            assert len(tasks[2]["tools"]) > len(tasks[0]["tools"]), row["env_id"]


def test_rerun_skips_and_synthesis_is_deterministic(synthesized) -> None:
    config, _, _, rows = synthesized
    again = run_synthesis(config)
    assert again.skipped == again.planned and not again.failed
    slot = next(s for s in plan_environments(config) if s.env_id == "travel_itinerary-000")
    fresh = asyncio.run(_synthesize(config, slot))
    stored = next(r for r in rows.to_pylist() if r["env_id"] == slot.env_id)
    for key in ("files", "tasks", "failure_counts", "levels", "transcript"):
        assert fresh[key] == stored[key], key


CHECKS = ["same_seed_same_task", "gold_passes_and_corruptions_fail",
          "reference_replays_through_environment", "task_round_trips_through_json"]


@pytest.mark.parametrize("check", CHECKS)
def test_conformance_of_synthesized_families(families, monkeypatch, check: str) -> None:
    monkeypatch.setattr(conformance, "get_family", lambda name: families[name])
    for name, family in families.items():
        for level in family.levels:
            getattr(conformance, f"test_{check}")(name, level)


def test_conformance_per_family_checks(families, monkeypatch) -> None:
    monkeypatch.setattr(conformance, "get_family", lambda name: families[name])
    for name, family in families.items():
        conformance.test_bad_calls_become_error_results(name)
        conformance.test_harder_escalates(name)
        assert any(t.writes for t in family.tools.values())
        assert any(not t.writes for t in family.tools.values())
        for level in family.levels:
            tasks = conformance.first_tasks(name, level, n=1)
            assert tasks[0].metadata["source"] == "synthesized"
    everything = next(f for n, f in families.items() if not n.endswith(".parquet"))
    seeds = range(len(everything.environments))
    tasks = [everything.generate(s, 1).task for s in seeds]
    assert len({t.metadata["environment"] for t in tasks if t}) == len(everything.environments)


@pytest.fixture(scope="module")
def rolled_out(synthesized, families, tmp_path_factory):
    _, _, out, _ = synthesized
    target = tmp_path_factory.mktemp("rollouts") / "out"
    one = out / "environments" / "env-library_loans-000.parquet"
    config = parse_config(small_job(str(target), families=[f"synthesized:{out}",
                                                           f"synthesized:{one}"], tasks=6,
                                    shards={"tasks_per_shard": 6, "max_in_flight": 32}))
    return config, run_job(config), target


def test_rollouts_over_synthesized_families(rolled_out, tokenizer, tmp_path) -> None:
    config, result, out = rolled_out
    assert not result.failed and result.committed == result.planned
    assert result.summary["totals"]["samples"] > 0
    pipeline_e2e.test_dataset_loads_with_datasets(rolled_out, tmp_path)
    pipeline_e2e.test_rows_reencode_and_masks_decode_to_completions(rolled_out, tokenizer)
    tasks = pipeline_e2e.read_table(Output(str(out)), "tasks").to_pylist()
    assert len(tasks) == 12
    for family in config.families:  # the scripted model solves tasks of both families
        assert any(t["n_passed"] for t in tasks if t["family"] == family.name), family.name
    assert all(t["kept"] == (t["pass_rate"] > 0) for t in tasks)
    kept = {t["task_id"] for t in tasks if t["kept"]}
    samples = pipeline_e2e.read_table(Output(str(out)), "data")
    assert set(samples.column("task_id").to_pylist()) <= kept
    assert all(json.loads(t["metadata"])["source"] == "synthesized" for t in tasks)


def test_cli_reports_skips_and_rejects_bad_configs(synthesized, tmp_path) -> None:
    from typer.testing import CliRunner

    from synth.cli.main import app

    _, _, out, _ = synthesized
    runner = CliRunner()
    result = runner.invoke(app, ["synthesize", str(ROOT / "configs" / "synthesis.yaml"),
                                 "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert f"synthesized:{out}" in result.output.replace("\n", "")
    bad = tmp_path / "bad.yaml"
    bad.write_text("output: x\ncategories: []\n")
    assert runner.invoke(app, ["synthesize", str(bad)]).exit_code == 2


def test_card_labels_synthesized_families_and_counts_environments(rolled_out, caplog) -> None:
    config, result, out = rolled_out
    envs = result.summary["environments"]
    assert envs and sum(e["tasks"] for e in envs.values()) == 12
    assert "library_loans-000" in envs and all(e.rsplit("-", 1)[1].isdigit() for e in envs)
    card = (out / "README.md").read_text()
    assert "## Per model-written environment" in card
    assert "| synthesized:out |" in card and "| synthesized:env-library_loans-000 |" in card
    from synth.pipeline.validate import check_families

    family = check_families(config)[config.families[1].name]
    assert family.distinct_tasks < config.families[1].tasks
    with caplog.at_level("WARNING", logger="synth.job"):
        check_families(config)
    assert "distinct task(s)" in caplog.text and "families.1" in caplog.text
    logs = sorted((out / "_logs").glob("run-*.log"))
    assert logs and "start: 2 shard(s) planned" in logs[-1].read_text()
