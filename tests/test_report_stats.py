"""Report statistics equal the same figures recomputed from whole Parquet rows; the
trajectory sample is seeded, bounded and covers every outcome; bad options name the field."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import small_job
from report_expectations import (
    add_future_columns,
    expected_stats,
    histogram_counts,
    nearest_rank,
    read_samples,
    synthetic_output,
    trajectories,
)

from synth.pipeline.config import parse_config
from synth.pipeline.job import run_job
from synth.report import DatasetSource, ReportConfig, build_report, compute_stats
from synth.report.browse import choose_trajectories, trajectory_locations


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    return synthetic_output(tmp_path_factory, 1200, seed=5, per_file=150)


@pytest.fixture(scope="module")
def future(synthetic, tmp_path_factory):
    """The same output with context resets, developer messages and synthesized tasks."""
    folder = tmp_path_factory.mktemp("report-future") / "out"
    shutil.copytree(synthetic, folder)
    add_future_columns(folder, synthesized_family="bank")
    return folder


@pytest.fixture(scope="module")
def pipeline_output(ray_session, tmp_path_factory):
    """A real job's output (today's schema: passed trajectories, no verdict reason)."""
    folder = tmp_path_factory.mktemp("report-pipeline") / "out"
    run_job(parse_config(small_job(str(folder), families=["bank", "travel"], tasks=4)))
    return folder


def assert_stats_match(stats, folder) -> None:
    expected = expected_stats(folder)
    assert stats["counts"] == expected["counts"]
    for name, figures in expected["families"].items():
        row = stats["families"][name]
        for key, value in figures.items():
            assert row[key] == value, (name, key)
        if figures.get("rollouts"):
            assert row["pass_rate"] == pytest.approx(
                figures["passed_rollouts"] / figures["rollouts"])
    grid = stats["pass_rate_grid"]
    for (family, level), cell in expected["cells"].items():
        i, j = grid["families"].index(family), grid["difficulties"].index(level)
        assert grid["rollouts"][i][j] == cell["rollouts"]
        assert grid["rates"][i][j] == pytest.approx(cell["passed"] / cell["rollouts"])
        assert stats["difficulty_mix"][family][str(level)] == cell["tasks"]
    for key, values in (("tokens_per_sample", expected["lengths"]),
                        ("trained_tokens_per_sample", expected["trained"])):
        summary = stats[key]
        assert summary["count"] == len(values) and summary["total"] == sum(values)
        if not values:
            assert summary["counts"] == []
            continue
        assert (summary["min"], summary["max"]) == (min(values), max(values))
        assert summary["p50"] == nearest_rank(values, 0.5)
        assert summary["p90"] == nearest_rank(values, 0.9)
        assert summary["counts"] == histogram_counts(values, summary["edges"])
        assert summary["edges"][0] <= min(values) and summary["edges"][-1] >= max(values)
    assert stats["tool_calls_per_trajectory"] == expected["tool_calls"]
    assert stats["turns_per_trajectory"] == expected["turns"]
    assert stats["finish_reasons"] == expected["finish_reasons"]
    assert stats["rejected_tasks"] == expected["rejected"]
    assert stats["context_resets"] == expected["context_resets"]
    environments = {(e["family"], e["environment"]): e for e in stats["environments"]}
    assert set(environments) == set(expected["environments"])
    for key, figures in expected["environments"].items():
        for name, value in figures.items():
            assert environments[key][name] == value


def test_statistics_equal_a_direct_computation_over_the_parquet_rows(synthetic) -> None:
    stats = compute_stats(DatasetSource(str(synthetic)))
    assert_stats_match(stats, synthetic)
    assert stats["counts"]["failed_trajectories"] > 0 and stats["has_verdict_reason"]
    assert stats["stand_in"] is True and stats["environments"] == []


def test_context_resets_and_synthesized_environments_appear_when_recorded(future) -> None:
    stats = compute_stats(DatasetSource(str(future)))
    assert_stats_match(stats, future)
    assert stats["context_resets"]["total"] > 0
    assert {e["environment"] for e in stats["environments"]} == {"env-0", "env-1"}


def test_statistics_of_a_real_job_output(pipeline_output) -> None:
    stats = compute_stats(DatasetSource(str(pipeline_output)))
    assert_stats_match(stats, pipeline_output)
    assert stats["has_verdict_reason"] is True
    assert stats["counts"]["failed_trajectories"] > 0  # written to failed/ with reasons
    summary = json.loads((pipeline_output / "manifest.json").read_text())["summary"]
    assert stats["finish_reasons_all_rollouts"] == summary["finish_reasons"]
    assert stats["counts"]["rollouts"] == summary["totals"]["trajectories"]
    assert stats["counts"]["kept_tasks"] == summary["totals"]["kept_tasks"]


def test_the_sample_is_seeded_bounded_and_covers_every_outcome(synthetic) -> None:
    index = trajectory_locations(DatasetSource(str(synthetic)))
    first = choose_trajectories(index, per_family=8, seed=3)
    assert first == choose_trajectories(index, per_family=8, seed=3)
    assert first != choose_trajectories(index, per_family=8, seed=4)
    per_trajectory = trajectories(read_samples(synthetic))
    assert len(first) == len(set(first))
    by_family: dict[str, list[str]] = {}
    for trajectory_id in first:
        by_family.setdefault(per_trajectory[trajectory_id]["family"], []).append(trajectory_id)
    assert set(by_family) == {r["family"] for r in per_trajectory.values()}
    assert all(len(ids) <= 8 for ids in by_family.values())
    # with room for one of each, every (family, outcome, finish reason) group is shown
    groups = {(r["family"], r["passed"], r["finish_reason"]) for r in per_trajectory.values()}
    wide = choose_trajectories(index, per_family=len(groups), seed=3)
    assert {(per_trajectory[i]["family"], per_trajectory[i]["passed"],
             per_trajectory[i]["finish_reason"]) for i in wide} == groups


def test_a_dataset_without_training_rows_still_reports(synthetic, tmp_path) -> None:
    folder = tmp_path / "out"
    shutil.copytree(synthetic, folder)
    shutil.rmtree(folder / "data")  # every task rejected: only the task table
    stats = compute_stats(DatasetSource(str(folder)))
    assert_stats_match(stats, folder)
    assert stats["counts"]["samples"] == 0 and stats["counts"]["tasks"] > 0
    html = build_report(str(folder), str(tmp_path / "report.html"))
    assert Path(html).stat().st_size > 10_000


def test_a_bad_option_names_its_field() -> None:
    with pytest.raises(ValueError, match="per_family"):
        ReportConfig.from_options(per_family=0)
    with pytest.raises(ValueError, match="context_tokens_shown"):
        ReportConfig.from_options(context_tokens_shown=3)
    assert ReportConfig.from_options(per_family=None).per_family == 12
