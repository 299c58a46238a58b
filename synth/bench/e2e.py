"""Wall time of the miniature default from a cold start, Ray start included."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from synth.resources import config_path

TARGET_WALL_S = 60.0
MINIATURE = config_path("miniature.yaml")


def bench_e2e(smoke: bool = False, config: Path = MINIATURE) -> dict[str, Any]:
    """Run `synth run` in a fresh process (a cold start) into a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="synth-e2e-") as tmp:
        command = [sys.executable, "-m", "synth.cli.main", "run", str(config),
                   "--output", str(Path(tmp) / "out"), "--quiet"]
        if smoke:
            command += ["--tasks", "2"]
        env = {**os.environ, "RAY_AUTH_MODE": os.environ.get("RAY_AUTH_MODE", "disabled")}
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, env=env)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise RuntimeError(f"synth run failed ({done.returncode}): {done.stderr[-2000:]}")
        manifest = json.loads((Path(tmp) / "out" / "manifest.json").read_text())
    totals = manifest["summary"]["totals"]
    return {"wall_s": wall, "trajectories": totals.get("trajectories", 0),
            "trajectories_per_s": totals.get("trajectories", 0) / wall,
            "samples": totals.get("samples", 0), "tasks": totals.get("tasks", 0),
            "target_wall_s": TARGET_WALL_S, "meets_target": wall < TARGET_WALL_S}
