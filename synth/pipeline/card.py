"""The dataset card (README.md with front matter `datasets` understands) and the manifest.

`datasets.load_dataset(PATH)` reads the `configs` block: the default config's `train` split is
the training samples, the `tasks` config is the task table. The card also carries counts,
per-family and per-difficulty pass rates, token-length statistics and the config used.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import asdict
from typing import Any

import yaml

from synth import __version__
from synth.infra.config import redact_uri
from synth.pipeline.config import JobConfig
from synth.pipeline.plan import Shard
from synth.pipeline.stats import COUNTS, ShardStats
from synth.policy.specs import ScriptedPolicySpec

PLOTS = "plots"
log = logging.getLogger("synth.job")

FRONT_MATTER = {
    "configs": [
        {"config_name": "default", "default": True,
         "data_files": [{"split": "train", "path": "data/train-*.parquet"}]},
        {"config_name": "tasks",
         "data_files": [{"split": "train", "path": "tasks/tasks-*.parquet"}]},
        {"config_name": "failed",
         "data_files": [{"split": "train", "path": "failed/failed-*.parquet"}]},
    ],
    "tags": ["synthetic", "agentic", "tool-use", "deepseek-v3.2"],
    "task_categories": ["text-generation"],
}


def family_label(ref: str) -> str:
    """A short name for the card: `synthesized:s3://b/envs-v1` reads `synthesized:envs-v1`."""
    prefix, sep, spec = ref.partition(":")
    if not sep:
        return ref
    tail = spec.rstrip("/").rsplit("/", 1)[-1].removesuffix(".parquet")
    return f"{prefix}:{tail or spec}"


def public_config(config: JobConfig) -> dict[str, Any]:
    """The config as written into the card and manifest (no secrets)."""
    data = config.model_dump(mode="json")
    data["output"] = redact_uri(config.output)
    return data


def _percentile(values: list[int], q: float) -> int:
    if not values:
        return 0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))]


def summarize(shards: list[Shard], committed: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Add up the committed shards' statistics."""
    total, families = ShardStats(), {}
    for shard in shards:
        record = committed.get(shard.shard_id)
        if record is None:
            continue
        stats = ShardStats.from_json(record["stats"])
        families.setdefault(shard.family, ShardStats()).merge(stats)
        total.merge(stats)
    lengths = total.sample_tokens
    return {
        "totals": {key: getattr(total, key) for key in COUNTS},
        "families": {name: {key: getattr(s, key) for key in COUNTS}
                     for name, s in sorted(families.items())},
        "difficulties": {level: asdict(s) for level, s in sorted(total.by_difficulty.items())},
        "finish_reasons": dict(Counter(total.finish_reasons).most_common()),
        "discarded": dict(Counter(total.discarded).most_common()),
        "warnings": dict(Counter(total.warnings).most_common()),
        "retokenized": dict(Counter(total.retokenized).most_common()),
        "environments": {env: asdict(s) for env, s in sorted(total.by_environment.items())},
        "tokens": {"samples": len(lengths), "min": min(lengths, default=0),
                   "p50": _percentile(lengths, 0.5), "p90": _percentile(lengths, 0.9),
                   "max": max(lengths, default=0), "total": sum(lengths)},
        "shards": {"planned": len(shards), "committed": len(committed)},
    }


def _rate(passed: int, total: int) -> str:
    return f"{passed / total:.3f}" if total else "-"


def render_card(config: JobConfig, summary: dict[str, Any],
                extras: dict[str, str] | None = None) -> str:
    """The README.md text. `extras` are the parts computed from the data (`card_extras`)."""
    extras = extras or {}
    front = {"license": config.license, **FRONT_MATTER}
    lines = ["---", yaml.safe_dump(front, sort_keys=False).rstrip(), "---", "",
             "# Agentic tool-use trajectories for DeepSeek-V3.2", ""]
    if extras.get("notice"):
        lines += [f"**{extras['notice']}**", ""]
    lines += [f"Made by `synth` {__version__}: procedurally generated tool-use environments, "
              "thinking-with-tools rollouts, verified outcomes, tasks kept by pass@k "
              f"(k = {config.k}, keep {config.filter.min_exclusive} < pass rate <= "
              f"{config.filter.max_inclusive}). License: {config.license}.", "",
              "Load with `datasets.load_dataset(PATH)` (training samples, split `train`), "
              "`datasets.load_dataset(PATH, 'tasks')` (every task with its pass rate and "
              "verifier spec) or `datasets.load_dataset(PATH, 'failed')` (trajectories that "
              "failed, with the verifier's reason; for analysis, not for training). "
              "`messages` and `tools` are JSON text: "
              "`encode_messages(json.loads(row['messages']), thinking_mode='thinking', "
              "drop_thinking=True)` renders exactly `input_ids`.", "",
              "## Counts", ""]
    totals = summary["totals"]
    for key in COUNTS:
        lines.append(f"- {key.replace('_', ' ')}: {totals.get(key, 0)}")
    lines += ["", "## Per family", "",
              "| family | tasks | kept | trajectories | passed | pass rate | samples |",
              "|---|---|---|---|---|---|---|"]
    for name, c in summary["families"].items():
        lines.append(f"| {family_label(name)} | {c['tasks']} | {c['kept_tasks']} | "
                     f"{c['trajectories']} | "
                     f"{c['passed']} | {_rate(c['passed'], c['trajectories'])} | "
                     f"{c['samples']} |")
    lines += ["", "## Per difficulty", "",
              "| difficulty | tasks | kept | trajectories | pass rate |", "|---|---|---|---|---|"]
    for level, c in summary["difficulties"].items():
        lines.append(f"| {level} | {c['tasks']} | {c['kept_tasks']} | {c['trajectories']} | "
                     f"{_rate(c['passed'], c['trajectories'])} |")
    if summary.get("environments"):
        lines += ["", "## Per model-written environment", "",
                  "| environment | tasks | kept | trajectories | pass rate |",
                  "|---|---|---|---|---|"]
        for env, c in summary["environments"].items():
            lines.append(f"| {env} | {c['tasks']} | {c['kept_tasks']} | {c['trajectories']} | "
                         f"{_rate(c['passed'], c['trajectories'])} |")
    tok = summary["tokens"]
    lines += ["", "## Sample lengths (tokens)", "",
              f"min {tok['min']}, median {tok['p50']}, p90 {tok['p90']}, max {tok['max']}, "
              f"total {tok['total']}", "", "## How trajectories ended", ""]
    lines += [f"- {reason}: {n}" for reason, n in summary["finish_reasons"].items()]
    if summary.get("retokenized"):
        lines += ["", "## Served token ids replaced by the text's tokenization", ""]
        lines += [f"- {reason}: {n}" for reason, n in summary["retokenized"].items()]
    if summary.get("warnings"):
        lines += ["", "## Warnings logged by the workers", ""]
        lines += [f"- {message} (x{n})" for message, n in summary["warnings"].items()]
    if summary["discarded"]:
        lines += ["", "## Generation discards (never emitted)", ""]
        lines += [f"- {reason}: {n}" for reason, n in summary["discarded"].items()]
    if extras.get("difficulty_mix"):
        lines += ["", "## Difficulty mix (tasks drawn per level)", "", extras["difficulty_mix"]]
    if extras.get("plots"):
        lines += ["", "## Plots", "", extras["plots"]]
    if extras.get("example"):
        lines += ["", "## An example row", "", extras["example"]]
    lines += ["", "## Config", "", "```yaml",
              yaml.safe_dump(public_config(config), sort_keys=False).rstrip(), "```", ""]
    return "\n".join(lines)


def write_card(output: Any, config: JobConfig, shards: list[Shard],
               committed: dict[str, dict[str, Any]],
               fingerprint: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write manifest.json and README.md; return the summary."""
    summary = summarize(shards, committed)
    manifest = {
        "synth_version": __version__,
        "fingerprint": fingerprint,
        "config": public_config(config),
        "complete": len(committed) == len(shards),
        "shards": [{"shard_id": s.shard_id, "family": s.family,
                    "committed": s.shard_id in committed,
                    "files": committed.get(s.shard_id, {}).get("files", [])} for s in shards],
        "summary": summary,
    }
    output.write_text("manifest.json", json.dumps(manifest, indent=1, sort_keys=True))
    output.write_text("README.md", render_card(config, summary, card_extras(output, config)))
    return summary


def card_extras(output: Any, config: JobConfig) -> dict[str, str]:
    """Plots (PNG files under plots/), the difficulty mix, an example row and, for data made
    by the scripted stand-in, the notice that it is test data. Computed from column reads of
    the written tables; a failure here costs the card its pictures, never the job."""
    from synth.report.build import STAND_IN_NOTICE

    notice = STAND_IN_NOTICE if isinstance(config.policy, ScriptedPolicySpec) else ""
    try:
        from synth.report import DatasetSource, compute_stats
        from synth.report.card_content import card_sections, read_example_row
        from synth.report.plots import plot_pngs

        source = DatasetSource(output.uri)
        stats = compute_stats(source)
        pngs = plot_pngs(stats)
        for name, data in pngs:
            output.write_bytes(f"{PLOTS}/{name}", data)
        parts = card_sections(stats, read_example_row(source), [n for n, _ in pngs], PLOTS)
    except Exception as exc:  # the data is written; only the card's pictures are lost
        log.warning("card: no plots or example row (%s: %s)", type(exc).__name__, exc)
        parts = {}
    return {**parts, "notice": notice}
