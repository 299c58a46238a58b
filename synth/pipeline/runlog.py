"""The run's log: what the driver saw, in the driver's log and in a file in the output.

Workers' warnings (a request that failed after its retries, an endpoint cooling down) come back
with each shard's statistics; the driver logs them once per shard as they arrive and writes the
whole run's account to `_logs/run-<UTC time>.log` at the end, next to the data it describes.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

from synth.infra.config import redact_uri
from synth.infra.storage import Output
from synth.pipeline.config import JobConfig
from synth.pipeline.guard import LOGS

log = logging.getLogger("synth.job")


class RunLog:
    """Collects the lines of one run of a job."""

    def __init__(self, config: JobConfig, planned: int) -> None:
        self.started = dt.datetime.now(dt.UTC)
        self.lines = [f"{self._now()} start: {planned} shard(s) planned, output "
                      f"{redact_uri(config.output)}, seed {config.seed}, k {config.k}"]

    @staticmethod
    def _now() -> str:
        return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def add(self, line: str, level: int = logging.INFO) -> None:
        self.lines.append(f"{self._now()} {line}")
        log.log(level, line)

    def unit_finished(self, unit: dict[str, Any]) -> None:
        """Called by the runner with each finished shard's result."""
        if unit.get("status") != "committed":
            self.add(f"shard {unit['unit_id']} failed: {unit.get('error')}", logging.WARNING)
            return
        for message, count in unit.get("stats", {}).get("warnings", {}).items():
            self.add(f"shard {unit['unit_id']}: {message} (x{count})", logging.WARNING)

    def finish(self, output: Output, skipped: int, committed: int,
               failed: list[dict[str, Any]], summary: dict[str, Any]) -> str:
        """Close the account and write it into the output; returns the file's name."""
        totals = json.dumps(summary.get("totals", {}), sort_keys=True)
        self.add(f"end: {committed} shard(s) committed ({skipped} before this run), "
                 f"{len(failed)} failed; totals {totals}")
        name = f"{LOGS}/run-{self.started.strftime('%Y%m%dT%H%M%S%fZ')}.log"
        output.write_text(name, "\n".join(self.lines) + "\n")
        return name
