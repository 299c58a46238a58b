"""`synth bench`: speed and memory figures; `--json` prints one JSON object."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks (use --smoke for a tiny run).")
console = Console()

JsonOpt = Annotated[bool, typer.Option("--json", help="print one JSON object")]
SmokeOpt = Annotated[bool, typer.Option("--smoke", help="tiny sizes, for CI")]


def _emit(result: dict[str, Any], as_json: bool, title: str) -> None:
    if as_json:
        typer.echo(json.dumps(result))
        return
    table = Table(title=title)
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key, value in result.items():
        if isinstance(value, dict):
            value = json.dumps(value)[:120]
        elif isinstance(value, float):
            value = f"{value:,.3f}"
        table.add_row(key, str(value))
    console.print(table)


@bench_app.command("envs")
def envs(as_json: JsonOpt = False, smoke: SmokeOpt = False,
         seeds: Annotated[int, typer.Option(help="seeds per level")] = 200) -> None:
    """Validated tasks per second per family (target >= 200/s per core) and discard rates."""
    from synth.bench.envs import bench_envs

    result = bench_envs(seeds_per_level=5 if smoke else seeds,
                        heavy_seeds_per_level=1 if smoke else 3)
    if not as_json:
        table = Table(title="environment generation (procedural: one core, CPU time)")
        for column in ("family", "tasks/s", "discard rate", "discards"):
            table.add_column(column)
        for name, r in [*result["families"].items(), *result["other_families"].items()]:
            clock = "" if r["clock"] == "cpu" else " (wall)"
            table.add_row(name, f"{r['tasks_per_s']:.1f}{clock}", f"{r['discard_rate']:.3f}",
                          json.dumps(r["discards"]))
        console.print(table)
        console.print(f"slowest family: {result['min_tasks_per_s']:.0f} tasks/s "
                      f"(target {result['target_tasks_per_s']:.0f})")
        return
    typer.echo(json.dumps(result))


@bench_app.command("template")
def template(as_json: JsonOpt = False, smoke: SmokeOpt = False,
             trajectories: Annotated[int, typer.Option(help="trajectories")] = 3000) -> None:
    """Token-level samples/s and tokens/s vs raw batched `tokenizers` encoding (same run)."""
    from synth.bench.template import bench_template

    _emit(bench_template(n_trajectories=40 if smoke else trajectories), as_json,
          "token-level samples")


@bench_app.command("rollout")
def rollout(as_json: JsonOpt = False, smoke: SmokeOpt = False,
            concurrency: Annotated[int, typer.Option(help="trajectories in flight")] = 1024,
            latency: Annotated[float, typer.Option(help="mock latency, seconds")] = 2.0,
            duration: Annotated[float, typer.Option(help="measured seconds")] = 30.0) -> None:
    """Model calls/s vs the ideal C/L against the mock server; CPU per step; memory."""
    from synth.bench.rollout import bench_rollout

    if smoke:
        concurrency, latency, duration = 16, 0.05, 2.0
    _emit(bench_rollout(concurrency=concurrency, latency_s=latency, duration_s=duration,
                        smoke=smoke), as_json, "rollout throughput")


@bench_app.command("e2e")
def e2e(as_json: JsonOpt = False, smoke: SmokeOpt = False) -> None:
    """Wall time of the miniature default from a cold start (Ray start included)."""
    from synth.bench.e2e import bench_e2e

    _emit(bench_e2e(smoke=smoke), as_json, "end to end (miniature)")


@bench_app.command("driver")
def driver(as_json: JsonOpt = False, smoke: SmokeOpt = False) -> None:
    """Driver CPU per work unit at 1k and 20k trivial units, and a simulated 100k resume."""
    from synth.bench.driver import bench_driver

    _emit(bench_driver(smoke=smoke), as_json, "driver cost per unit")


@bench_app.command("report")
def report(as_json: JsonOpt = False, smoke: SmokeOpt = False,
           samples: Annotated[int, typer.Option(help="samples in the synthetic output")] = 100_000
           ) -> None:
    """`synth report` on a synthetic output: wall time and peak RSS (target < 30 s, < 1 GiB)."""
    from synth.bench.report import bench_report

    _emit(bench_report(n_samples=samples, smoke=smoke), as_json, "dataset report")


@bench_app.command("sandbox")
def sandbox(as_json: JsonOpt = False, smoke: SmokeOpt = False,
            runs: Annotated[int, typer.Option(help="starts measured per figure")] = 30) -> None:
    """Start-up cost of a sandboxed command vs a plain subprocess (same run); footprint."""
    from synth.bench.sandbox import bench_sandbox

    result = bench_sandbox(runs=3, workspace_files=50) if smoke else bench_sandbox(runs=runs)
    _emit(result, as_json, "sandbox start-up")


@bench_app.command("fleet")
def fleet(as_json: JsonOpt = False, smoke: SmokeOpt = False,
          servers: Annotated[int, typer.Option(help="simulated servers")] = 8,
          trajectories: Annotated[int, typer.Option(help="trajectories in all")] = 192,
          concurrency: Annotated[int, typer.Option(help="trajectories in flight")] = 128,
          steps: Annotated[int, typer.Option(help="model calls per trajectory")] = 16) -> None:
    """Prefix-cache affinity vs least-outstanding over servers with a prefix cache: hit
    ratio, load imbalance and the speedup, both modes in one run."""
    from synth.bench.fleet import SMOKE, FleetWorkload, bench_fleet

    work = SMOKE if smoke else FleetWorkload(servers=servers, trajectories=trajectories,
                                             concurrency=concurrency, steps=steps)
    _emit(bench_fleet(smoke=smoke, work=work), as_json, "fleet routing")


@bench_app.command("search")
def search(as_json: JsonOpt = False, smoke: SmokeOpt = False,
           documents: Annotated[int, typer.Option(help="encyclopedia size")] = 20000,
           concurrency: Annotated[int, typer.Option(help="concurrent rollouts")] = 256) -> None:
    """Index build docs/s, search tool calls/s and CPU per call vs raw tantivy, tasks/s."""
    from synth.bench.search import bench_search

    _emit(bench_search(smoke=smoke, documents=documents, concurrency=concurrency), as_json,
          "search family")
