"""See the data: statistics from column reads, plots, and a trajectory browser in one
self-contained HTML file; the same statistics and plots serve the dataset card."""

from synth.report.build import STAND_IN_NOTICE, build_report, render_report, stand_in_notice
from synth.report.card_content import card_sections, format_example_row, read_example_row
from synth.report.config import ReportConfig
from synth.report.plots import plot_pngs, render_plots
from synth.report.source import DatasetSource
from synth.report.stats import compute_stats

__all__ = ["STAND_IN_NOTICE", "DatasetSource", "ReportConfig", "build_report", "card_sections",
           "compute_stats", "format_example_row", "plot_pngs", "read_example_row",
           "render_plots", "render_report", "stand_in_notice"]
