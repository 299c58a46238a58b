"""`synth report`, `synth --version`, `synth envs list` at 80 columns, `synth bench report`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import version

import pytest
from typer.testing import CliRunner

from synth import __version__
from synth.bench.report_data import write_synthetic_output
from synth.cli.main import app
from synth.env import family_names, get_family

runner = CliRunner()


def _synth(*args: str, columns: int) -> str:
    done = subprocess.run([sys.executable, "-m", "synth.cli.main", *args], capture_output=True,
                          text=True, env={**os.environ, "COLUMNS": str(columns)}, check=True)
    return done.stdout


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"synth {__version__}" == f"synth {version('synth')}"


@pytest.mark.parametrize("columns", [80, 160])
def test_envs_list_is_readable_at_the_terminal_width(columns) -> None:
    output = _synth("envs", "list", columns=columns)
    assert all(len(line) <= columns for line in output.splitlines())
    assert "…" not in output, "nothing is cut off"
    flat = " ".join(output.replace("│", " ").split())
    for name in family_names():
        assert " ".join(get_family(name).description.split()) in flat, name
        assert name in flat


def test_report_command_writes_the_file_and_rejects_bad_input(tmp_path) -> None:
    out = tmp_path / "out"
    write_synthetic_output(out, 200, seed=1, samples_per_file=100)
    html = tmp_path / "site" / "index.html"
    result = runner.invoke(app, ["report", str(out), "--output", str(html),
                                 "--per-family", "2"])
    assert result.exit_code == 0, result.output
    assert html.stat().st_size > 50_000 and str(html) in " ".join(result.output.split())
    assert not [p for p in html.parent.iterdir() if p.name != "index.html"], "no temp files"
    bad = runner.invoke(app, ["report", str(out), "--per-family", "0"])
    assert bad.exit_code == 2 and "per_family" in bad.output
    empty = runner.invoke(app, ["report", str(tmp_path / "nothing")])
    assert empty.exit_code == 2 and "no Parquet files" in " ".join(empty.output.split())


def test_bench_report_smoke_json() -> None:
    result = runner.invoke(app, ["bench", "report", "--smoke", "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["samples"] >= 2000 and figures["files"] >= 10
    assert figures["wall_s"] > 0 and 0 < figures["peak_rss_mb"] < 4096
    assert figures["html_mb"] > 0 and isinstance(figures["meets_target"], bool)
