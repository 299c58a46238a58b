"""The command line: help, environments, rendering, inspecting, benchmarks' JSON shape."""

from __future__ import annotations

import json

import yaml
from conftest import FIXTURES, small_job
from typer.testing import CliRunner

from synth.cli.main import app
from synth.env import family_names, get_family
from synth.pipeline.config import parse_config
from synth.pipeline.job import run_job
from synth.resources import config_path

runner = CliRunner()


def test_help() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("run", "inspect", "render", "envs", "bench", "serve-mock", "synthesize",
                    "serve-search"):
        assert command in result.output


def test_envs_list_json() -> None:
    result = runner.invoke(app, ["envs", "list", "--json"])
    assert result.exit_code == 0
    rows = json.loads(result.output)
    assert [r["name"] for r in rows] == family_names()
    for row in rows:
        family = get_family(row["name"])
        assert row["tools"] == len(family.tools)
        assert row["difficulties"] == list(family.levels)
        assert row["multi_turn"] is family.multi_turn


def test_envs_show_runs_the_reference_and_prints_the_verdict() -> None:
    result = runner.invoke(app, ["envs", "show", "travel", "--seed", "3", "--difficulty", "4"])
    assert result.exit_code == 0, result.output
    assert "submit_result" in result.output and "verdict: score 1.0" in result.output
    assert runner.invoke(app, ["envs", "show", "nope"]).exit_code == 2
    assert runner.invoke(app, ["envs", "show", "bank", "--difficulty", "9"]).exit_code == 2


def test_render_fixture_conversation(tmp_path) -> None:
    data = json.loads((FIXTURES / "dsv32" / "seed_example.json").read_text())
    path = tmp_path / "conversation.json"
    path.write_text(json.dumps({"messages": data["messages"]}))
    result = runner.invoke(app, ["render", str(path)])
    assert result.exit_code == 0, result.output
    text, ids_line = result.output.rstrip("\n").rsplit("\n", 1)
    assert text == data["expected_prompt"]
    assert json.loads(ids_line)["input_ids"] == data["expected_input_ids"]
    path.write_text(json.dumps([{"role": "wizard", "content": "x"}]))
    assert runner.invoke(app, ["render", str(path)]).exit_code == 2


def test_inspect_highlights_trained_spans(ray_session, tmp_path) -> None:
    out = tmp_path / "out"
    run_job(parse_config(small_job(str(out), families=["bank"], tasks=4)))
    result = runner.invoke(app, ["inspect", str(out), "--n", "1"])
    assert result.exit_code == 0, result.output
    assert "trained" in result.output and "<｜Assistant｜>" in result.output


def test_bench_envs_smoke_json() -> None:
    result = runner.invoke(app, ["bench", "envs", "--smoke", "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert set(figures["families"]) | set(figures["other_families"]) == set(family_names())
    assert "bank" in figures["families"]  # procedural families hold the 200/s target
    for family in [*figures["families"].values(), *figures["other_families"].values()]:
        assert family["tasks_per_s"] > 0 and 0 <= family["discard_rate"] <= 1
    assert figures["min_tasks_per_s"] > 0


def test_bench_template_smoke_json() -> None:
    result = runner.invoke(app, ["bench", "template", "--smoke", "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["ids_identical"] is True
    for key in ("tokens_per_s", "raw_tokens_per_s", "speedup_vs_raw", "samples_per_s"):
        assert figures[key] > 0


def test_run_json_prints_the_manifest(ray_session, tmp_path) -> None:
    import json

    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", "--tasks", "1", "--k", "2", "--output", str(out),
                                      "--json"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout.strip().splitlines()[-1])
    assert printed == json.loads((out / "manifest.json").read_text())
    families = yaml.safe_load(config_path("miniature.yaml").read_text())["families"]
    assert printed["complete"] and printed["summary"]["totals"]["tasks"] == len(families)
    assert "dataset at" not in result.stdout  # no table around the JSON


def test_bench_search_smoke_json() -> None:
    result = runner.invoke(app, ["bench", "search", "--smoke", "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["index_build_docs_per_s"] > 0 and figures["construction"]["kept"] > 0
    search = figures["search"]
    assert search["raw_tantivy_ms_per_query"] > 0 and search["overhead_ratio"] > 0
    assert set(figures["rollouts"]) == {"1", "16"}
    assert all(r["calls_per_s"] > 0 for r in figures["rollouts"].values())
