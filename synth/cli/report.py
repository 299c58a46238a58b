"""`synth report OUT`: one self-contained HTML file with the dataset's statistics, plots and
a trajectory browser (opens from disk, loads nothing from the network)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

console = Console()
err = Console(stderr=True)


def report(
    path: Annotated[str, typer.Argument(help="dataset folder or URI (s3://bucket/prefix)")],
    output: Annotated[str | None, typer.Option(
        "--output", "-o", help="where to write the HTML, path or URI (default: "
                               "PATH/report.html)")] = None,
    per_family: Annotated[int | None, typer.Option(
        help="trajectories per family in the browser (default 12)")] = None,
    seed: Annotated[int | None, typer.Option(
        help="sampling seed (default: the job seed)")] = None,
    tokenizer: Annotated[str | None, typer.Option(
        help="tokenizer for the token views (default: the V3.2 tokenizer)")] = None,
) -> None:
    """Build the dataset report: counts, pass rates, length histograms, trajectories."""
    from synth.report import ReportConfig, build_report

    try:
        config = ReportConfig.from_options(per_family=per_family, seed=seed,
                                           tokenizer=tokenizer)
        where = build_report(path, output, config)
    except (ValueError, OSError) as exc:
        err.print(f"[bold red]report error:[/] {exc}", highlight=False)
        raise typer.Exit(code=2) from None
    console.print(f"report written to {where}", highlight=False)
