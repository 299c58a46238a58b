"""The parts of a dataset card that come from the data itself: the stand-in notice, the
plots as image links, the difficulty mix actually drawn and one example row. The card writer
stores the PNGs of `plot_pngs(stats)` under `plots/` next to README.md and pastes these."""

from __future__ import annotations

import json
import re
from typing import Any

import pyarrow.parquet as pq

from synth.report.build import stand_in_notice
from synth.report.plots import PLOTS
from synth.report.source import SAMPLES, DatasetSource


def read_example_row(source: DatasetSource) -> dict[str, Any] | None:
    """The first row of the first sample file (one small batch read), or None."""
    for path in source.files(SAMPLES):
        with source.output.fs.open_input_file(path) as handle:
            for batch in pq.ParquetFile(handle).iter_batches(batch_size=1):
                if batch.num_rows:
                    return batch.slice(0, 1).to_pylist()[0]
    return None


def shorten(value: Any, *, max_items: int, max_chars: int) -> Any:
    """Long lists keep their first items and say how many more; long text keeps its head."""
    if isinstance(value, list) and len(value) > max_items:
        return [*value[:max_items], f"... {len(value) - max_items} more"]
    if isinstance(value, str) and len(value) > max_chars:
        return f"{value[:max_chars]}... ({len(value)} characters)"
    return value


def format_example_row(row: dict[str, Any], *, max_items: int = 12,
                       max_chars: int = 240) -> str:
    """One row as a fenced JSON block for markdown, long values shortened. The fence is
    longer than any run of backticks in the data, so model text cannot close it."""
    shortened = {key: shorten(value, max_items=max_items, max_chars=max_chars)
                 for key, value in row.items()}
    fields = [f" {json.dumps(key)}: {json.dumps(value, ensure_ascii=False, default=str)}"
              for key, value in shortened.items()]
    text = "{\n" + ",\n".join(fields) + "\n}"  # one line per column, lists inline
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}json\n{text}\n{fence}"


def plots_markdown(names: list[str], folder: str = "plots") -> str:
    """Image links for the card, one per plot file name (as `plot_pngs` names them)."""
    lines = []
    for name in names:
        stem = name.removesuffix(".png")
        title = PLOTS[stem][0] if stem in PLOTS else stem
        lines.append(f"![{title}]({folder}/{name})")
    return "\n\n".join(lines)


def difficulty_mix_markdown(stats: dict[str, Any]) -> str:
    """Tasks per family and level, as drawn (a markdown table)."""
    levels = stats["pass_rate_grid"]["difficulties"]
    lines = ["| family | " + " | ".join(f"level {level}" for level in levels) + " |",
             "|---|" + "---|" * len(levels)]
    for family, mix in stats["difficulty_mix"].items():
        lines.append(f"| {family} | " + " | ".join(str(mix.get(str(level), 0))
                                                     for level in levels) + " |")
    return "\n".join(lines)


def card_sections(stats: dict[str, Any], example: dict[str, Any] | None,
                  plot_names: list[str], folder: str = "plots") -> dict[str, str]:
    """Markdown for the card: `notice` (empty unless the stand-in made the data; goes first),
    `plots`, `difficulty_mix` and `example`."""
    return {"notice": stand_in_notice(stats) or "",
            "plots": plots_markdown(plot_names, folder),
            "difficulty_mix": difficulty_mix_markdown(stats),
            "example": format_example_row(example) if example else ""}
