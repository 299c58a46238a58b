"""Live progress (shards, trajectories, accepted) and the closing summary table."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from synth.infra.units import JobResult
from synth.pipeline.config import JobConfig
from synth.pipeline.job import run_job


def interrupted(config: JobConfig | None) -> str:
    """What Ctrl-C leaves: how many shards are committed, and how to resume. Ray goes down
    with the driver, so no worker outlives it."""
    import ray

    ray.shutdown()
    if config is None:
        return "interrupted before the job started"
    from synth.infra.storage import Output

    done = len(Output(config.output).committed_ids())
    return (f"interrupted: {done} shard(s) committed at {config.output}; rerunning the same "
            "command resumes from there")


def run_with_progress(config: JobConfig, console: Console, quiet: bool = False,
                      overwrite: bool = False, summary: bool = True) -> JobResult:
    """Run the job with a progress bar, then print where the data went and what it holds."""
    if quiet:
        result = run_job(config, overwrite=overwrite)
    else:
        columns = (TextColumn("[bold]shards"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[detail]}"), TimeElapsedColumn())
        with Progress(*columns, console=console, transient=False) as bar:
            job = bar.add_task("shards", total=None, detail="starting Ray")

            def update(counts: dict[str, int], finished: int) -> None:
                detail = (f"trajectories {counts.get('trajectories', 0)}  "
                          f"passed {counts.get('passed', 0)}  "
                          f"accepted samples {counts.get('samples', 0)}")
                bar.update(job, completed=finished, detail=detail)

            def start(total: int) -> None:
                bar.update(job, total=total, detail="")

            result = run_job(config, on_progress=update, on_start=start,
                             overwrite=overwrite)
    if summary:
        print_summary(result, console)
    return result


def print_summary(result: JobResult, console: Console) -> None:
    summary = result.summary
    table = Table(title=f"dataset at {result.output}")
    for column in ("family", "tasks", "kept", "trajectories", "passed", "pass rate", "samples"):
        table.add_column(column, justify="right" if column != "family" else "left")
    for name, c in summary.get("families", {}).items():
        rate = f"{c['passed'] / c['trajectories']:.2f}" if c["trajectories"] else "-"
        table.add_row(name, str(c["tasks"]), str(c["kept_tasks"]), str(c["trajectories"]),
                      str(c["passed"]), rate, str(c["samples"]))
    console.print(table)
    tokens = summary.get("tokens", {})
    console.print(f"shards: {result.committed}/{result.planned} committed "
                  f"({result.skipped} already done before this run); "
                  f"samples: {tokens.get('samples', 0)}, tokens: {tokens.get('total', 0)}; "
                  f"wall time {result.wall_s:.1f} s", highlight=False)
