"""`synth bench fleet --smoke --json`: both routing modes run on the same workload and the
figures are consistent (the targets themselves are the benchmark's, not a test's)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from synth.cli.main import app


def test_bench_fleet_smoke_json() -> None:
    result = CliRunner().invoke(app, ["bench", "fleet", "--smoke", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output.strip().splitlines()[-1])
    modes = data["modes"]
    assert set(modes) == {"least_outstanding", "affinity"}
    for mode in modes.values():
        assert mode["errors"] == 0 and mode["steps"] == 24 * 4
        assert sum(mode["requests_per_server"]) == mode["steps"]
        assert 0 < mode["reused_tokens"] <= mode["reusable_tokens"]
        assert mode["imbalance"] >= 1.0
    # affinity keeps prefixes where they are cached; load alone scatters them
    assert data["hit_ratio"] == modes["affinity"]["hit_ratio"]
    assert data["hit_ratio"] > data["hit_ratio_least_outstanding"] + 0.2
    assert data["speedup_vs_least_outstanding"] == modes["affinity"]["steps_per_s"] / \
        modes["least_outstanding"]["steps_per_s"]
    assert set(data["meets_targets"]) == {"hit_ratio", "imbalance",
                                          "speedup_vs_least_outstanding"}
