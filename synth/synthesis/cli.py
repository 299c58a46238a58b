"""`synth synthesize`: run the synthesis stage, then say what was written and what failed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from synth.infra.config import ConfigError
from synth.infra.units import JobResult
from synth.resources import config_path
from synth.synthesis.config import load_synthesis_config
from synth.synthesis.job import run_synthesis

DEFAULT_CONFIG = config_path("synthesis.yaml")


def run_synthesis_command(config: Path | None, output: str | None, *, console: Console,
                          err: Console) -> JobResult:
    """Load the config (exit 2 if invalid), run the job, print a summary (exit 1 on failures)."""
    overrides: dict[str, Any] = {} if output is None else {"output": output}
    try:
        settings = load_synthesis_config(config or DEFAULT_CONFIG, overrides)
    except ConfigError as exc:
        err.print(f"[bold red]config error:[/] {exc}", highlight=False)
        raise typer.Exit(code=2) from None

    def progress(unit: dict[str, Any], finished: int, total: int) -> None:
        stats = unit.get("stats", {})
        what = unit.get("error") or (
            f"{stats.get('status', 'skipped')} levels={stats.get('levels', '-')}")
        console.print(f"[{finished}/{total}] {unit['unit_id']}: {what}", highlight=False)

    result = run_synthesis(settings, on_progress=progress)
    print_summary(result, console)
    if result.failed:
        err.print(f"[red]{len(result.failed)} environment(s) failed; rerun to retry them[/]")
        raise typer.Exit(code=1)
    return result


def print_summary(result: JobResult, console: Console) -> None:
    summary = result.summary
    table = Table(title=f"synthesized environments at {result.output}")
    for column in ("category", "environments", "accepted", "tasks"):
        table.add_column(column, justify="left" if column == "category" else "right")
    for name, counts in summary.get("categories", {}).items():
        table.add_row(name, *(str(counts.get(k, 0)) for k in ("environments", "accepted",
                                                               "tasks")))
    console.print(table)
    reasons = summary.get("failure_reasons", {})
    if reasons:
        console.print("caught failures: " + ", ".join(f"{k}={v}" for k, v in reasons.items()),
                      highlight=False)
    totals = summary.get("totals", {})
    console.print(f"{totals.get('tasks', 0)} task(s) in {totals.get('accepted', 0)} "
                  f"environment(s); wall time {result.wall_s:.1f} s. Roll them out with "
                  f"families: [{{name: \"synthesized:{result.output}\", tasks: N}}]",
                  highlight=False)
