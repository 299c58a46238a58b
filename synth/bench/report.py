"""`synth bench report`: build the report of a large synthetic output (target: 100k samples
in < 30 s and < 1 GiB). The output is generated first (not timed); the report is then built
by `synth report` in a fresh process, so wall time and peak RSS are the command's own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from synth.bench.report_data import write_synthetic_output

TARGET_WALL_S = 30.0
TARGET_PEAK_RSS_MB = 1024.0
SMOKE_SAMPLES = 2_000


def _measured_child(folder: str, html: str) -> dict[str, Any]:
    """Run the report command in a child that reports its own peak RSS."""
    code = ("import json, resource, sys\n"
            "from synth.cli.main import app\n"
            "try:\n"
            "    app(['report', sys.argv[1], '--output', sys.argv[2]])\n"
            "except SystemExit as exc:\n"
            "    code = exc.code\n"
            "peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
            "print(json.dumps({'peak_rss_mb': peak, 'exit': code}), file=sys.stderr)\n")
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code, folder, html], capture_output=True,
                          text=True, env={**os.environ, "COLUMNS": "200"})
    wall = time.perf_counter() - started
    try:
        measured = json.loads(done.stderr.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        raise RuntimeError(f"synth report failed: {done.stderr[-2000:]}") from None
    if measured["exit"] not in (0, None):
        raise RuntimeError(f"synth report exited {measured['exit']}: {done.stdout[-2000:]}")
    return {"wall_s": wall, "peak_rss_mb": measured["peak_rss_mb"]}


def bench_report(n_samples: int = 100_000, smoke: bool = False, seed: int = 0) -> dict[str, Any]:
    """Generate a synthetic output of `n_samples` rows, then time `synth report` on it."""
    if smoke:
        n_samples = SMOKE_SAMPLES
    with tempfile.TemporaryDirectory(prefix="synth-bench-report-") as tmp:
        folder = Path(tmp) / "out"
        started = time.perf_counter()
        made = write_synthetic_output(folder, n_samples, seed=seed,
                                      samples_per_file=200 if smoke else 400)
        generate_s = time.perf_counter() - started
        output_mb = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20
        html = Path(tmp) / "report.html"
        measured = _measured_child(str(folder), str(html))
        html_mb = html.stat().st_size / 2**20
    return {
        **measured, "samples": made["samples"], "tasks": made["tasks"],
        "files": made["files"], "output_mb": output_mb, "html_mb": html_mb,
        "generate_s": generate_s, "target_wall_s": TARGET_WALL_S,
        "target_peak_rss_mb": TARGET_PEAK_RSS_MB,
        "meets_target": measured["wall_s"] < TARGET_WALL_S
        and measured["peak_rss_mb"] < TARGET_PEAK_RSS_MB,
    }
