"""Plots of the statistics with matplotlib's Agg canvas (no display, no global pyplot state):
PNG files for the dataset card, base64 PNG data URIs for the self-contained report."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from synth.report.files import write_local_atomic

COLOR = "#3b6ea8"
ACCENT = "#c8553d"


def _figure(width: float = 6.4, height: float = 3.4) -> Figure:
    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def pass_rate_heatmap(stats: dict[str, Any]) -> Figure | None:
    grid = stats["pass_rate_grid"]
    if not grid["families"]:
        return None
    rates = np.array([[np.nan if r is None else r for r in row] for row in grid["rates"]],
                     dtype=float)
    figure = _figure(6.4, 1.2 + 0.38 * len(grid["families"]))
    axes = figure.add_subplot()
    image = axes.imshow(rates, vmin=0, vmax=1, cmap="viridis", aspect="auto")
    axes.set_xticks(range(len(grid["difficulties"])), [str(d) for d in grid["difficulties"]])
    axes.set_yticks(range(len(grid["families"])), grid["families"])
    axes.set_xlabel("difficulty")
    axes.set_title("pass rate per family and difficulty")
    for (row, column), value in np.ndenumerate(rates):
        if not np.isnan(value):
            axes.text(column, row, f"{value:.2f}", ha="center", va="center", fontsize=8,
                      color="white" if value < 0.6 else "black")
    figure.colorbar(image, ax=axes, fraction=0.05)
    return figure


def _histogram(summary: dict[str, Any], title: str, xlabel: str) -> Figure | None:
    if not summary["count"]:
        return None
    figure = _figure()
    axes = figure.add_subplot()
    edges = summary["edges"]
    axes.stairs(summary["counts"], edges, fill=True, color=COLOR)
    axes.axvline(summary["p50"], color=ACCENT, linestyle="--", label=f"median {summary['p50']}")
    axes.set_title(title)
    axes.set_xlabel(xlabel)
    axes.set_ylabel("samples")
    axes.legend()
    return figure


def _bars(pairs: list[tuple[str, int]], title: str, xlabel: str, ylabel: str,
          horizontal: bool = False) -> Figure | None:
    if not pairs:
        return None
    labels, counts = [p[0] for p in pairs], [p[1] for p in pairs]
    figure = _figure(6.4, 1.2 + 0.3 * len(pairs)) if horizontal else _figure()
    axes = figure.add_subplot()
    if horizontal:
        axes.barh(labels[::-1], counts[::-1], color=COLOR)
        axes.set_xlabel(ylabel)
    else:
        axes.bar(labels, counts, color=COLOR)
        axes.set_xlabel(xlabel)
        axes.set_ylabel(ylabel)
    axes.set_title(title)
    return figure


PLOTS: dict[str, tuple[str, Callable[[dict[str, Any]], Figure | None]]] = {
    "pass_rate": ("pass rate per family and difficulty", pass_rate_heatmap),
    "tokens_per_sample": ("tokens per sample", lambda s: _histogram(
        s["tokens_per_sample"], "tokens per sample", "tokens")),
    "trained_tokens_per_sample": ("trained tokens per sample", lambda s: _histogram(
        s["trained_tokens_per_sample"], "trained (mask = 1) tokens per sample", "tokens")),
    "tool_calls": ("tool calls per trajectory", lambda s: _bars(
        [(str(v), n) for v, n in s["tool_calls_per_trajectory"]],
        "tool calls per trajectory", "tool calls", "trajectories")),
    "turns": ("user turns per trajectory", lambda s: _bars(
        [(str(v), n) for v, n in s["turns_per_trajectory"]],
        "user turns per trajectory", "turns", "trajectories")),
    "finish_reasons": ("how trajectories ended", lambda s: _bars(
        list(s["finish_reasons"].items()), "finish reasons (trajectories in the dataset)",
        "", "trajectories", horizontal=True)),
    "rejected_tasks": ("rejected tasks by reason", lambda s: _bars(
        list(s["rejected_tasks"].items()) +
        [(f"discarded: {r}", n) for r, n in s["generation_discards"].items()],
        "tasks not in the dataset, by reason", "", "tasks", horizontal=True)),
    "context_resets": ("context resets per trajectory", lambda s: _bars(
        [(str(v), n) for v, n in s["context_resets"]["per_trajectory"]],
        "context resets per trajectory", "resets", "trajectories")
        if s.get("context_resets") else None),
}


def figures(stats: dict[str, Any]) -> list[tuple[str, str, Figure]]:
    """(name, title, figure) of every plot that has data."""
    drawn = []
    for name, (title, draw) in PLOTS.items():
        figure = draw(stats)
        if figure is not None:
            drawn.append((name, title, figure))
    return drawn


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def plot_pngs(stats: dict[str, Any]) -> list[tuple[str, bytes]]:
    """[(file name, PNG bytes)] of every plot, for writers that store files themselves."""
    return [(f"{name}.png", _png(figure)) for name, _, figure in figures(stats)]


def render_plots(stats: dict[str, Any], folder: str | Path) -> list[Path]:
    """Write one PNG per plot into a local `folder` (for the dataset card), each file whole
    or not at all; returns their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, data in plot_pngs(stats):
        paths.append(write_local_atomic(folder / name, data))
    return paths


def inline_plots(stats: dict[str, Any]) -> list[dict[str, str]]:
    """[{name, title, uri}] with each plot as a data: URI (the report loads nothing else)."""
    return [{"name": name, "title": title,
             "uri": "data:image/png;base64," + base64.b64encode(_png(figure)).decode("ascii")}
            for name, title, figure in figures(stats)]
