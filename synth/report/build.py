"""`build_report`: one self-contained HTML file (statistics, plots, a trajectory browser)
for a dataset output, local or on an object store. It loads nothing from the network: plots
are inline PNGs, style and script are inline, and every text from the data is escaped."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from synth.report.browse import (
    TrajectoryView,
    choose_trajectories,
    read_chosen_rows,
    trajectory_locations,
    trajectory_views,
)
from synth.report.config import ReportConfig
from synth.report.files import write_file
from synth.report.plots import inline_plots
from synth.report.source import SAMPLES, TASKS, DatasetSource
from synth.report.stats import compute_stats
from synth.tokenizer import load_tokenizer

STAND_IN_NOTICE = (
    "This dataset was made with the scripted stand-in policy "
    "(synth.policy.scripted.ScriptedModel), not with a language model: it is for testing "
    "the pipeline, not for training.")


def stand_in_notice(stats: dict[str, Any]) -> str | None:
    """The notice to put first when the policy was the scripted stand-in, else None."""
    return STAND_IN_NOTICE if stats.get("stand_in") else None


def _environment() -> Environment:
    return Environment(loader=PackageLoader("synth.report", "templates"), autoescape=True,
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def _tokenizer_note(source: DatasetSource, sha256: str) -> str | None:
    if not source.has_column(SAMPLES, "tokenizer_sha256"):
        return None
    table = source.columns(SAMPLES, ["tokenizer_sha256"])
    others = sorted(set(table.column("tokenizer_sha256").to_pylist()) - {sha256, None})
    if not others:
        return None
    return (f"token views are decoded with tokenizer {sha256[:12]}, but samples were "
            f"tokenized with {', '.join(o[:12] for o in others)}: pass --tokenizer")


def browsed_trajectories(source: DatasetSource, stats: dict[str, Any],
           config: ReportConfig) -> tuple[list[TrajectoryView], str | None]:
    """The sampled trajectories' views and a note when the tokenizer differs."""
    tokenizer = load_tokenizer(config.tokenizer)
    seed = config.seed if config.seed is not None else int(stats.get("job_seed") or 0)
    index = trajectory_locations(source)
    chosen = choose_trajectories(index, config.per_family, seed)
    rows = read_chosen_rows(source, chosen, index)
    views = trajectory_views(rows, chosen, tokenizer.decode,
                             context_shown=config.context_tokens_shown)
    return views, _tokenizer_note(source, tokenizer.sha256)


def render_report(stats: dict[str, Any], views: list[TrajectoryView],
                  plots: list[dict[str, str]], *, note: str | None = None) -> str:
    """The report's HTML text from its parts."""
    template = _environment().get_template("report.html.j2")
    return template.render(
        stats=stats, views=views, plots=plots, note=note, notice=stand_in_notice(stats),
        options={
            "families": sorted({v.family for v in views}),
            "difficulties": sorted({v.difficulty for v in views}),
            "finish_reasons": sorted({v.finish_reason for v in views}),
        })


def build_report(uri: str, output: str | None = None,
                 config: ReportConfig | None = None) -> str:
    """Build the report of the dataset at `uri` and write it to `output` (default:
    `report.html` in the dataset folder). Returns where it was written."""
    config = config or ReportConfig()
    source = DatasetSource(uri)
    if not source.files(SAMPLES) and not source.files(TASKS):
        raise ValueError(f"{uri}: no Parquet files under {SAMPLES}/ or {TASKS}/; "
                         "is this a synth output?")
    stats = compute_stats(source, bins=config.histogram_bins)
    views, note = browsed_trajectories(source, stats, config)
    html = render_report(stats, views, inline_plots(stats), note=note)
    return write_file(output or default_target(uri), html.encode("utf-8"))


def default_target(uri: str) -> str:
    """`report.html` inside the dataset folder (a URI keeps its query parameters)."""
    if "://" in uri and not uri.startswith("file://"):
        base, mark, query = uri.partition("?")
        return f"{base.rstrip('/')}/report.html{mark}{query}"
    return DatasetSource(uri).output.path("report.html")
