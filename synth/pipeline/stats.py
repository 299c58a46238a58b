"""Typed statistics of shards that add up into the job's summary (the dataset card's numbers).

A shard's commit record keeps its `ShardStats` as JSON; the job sums them with `merge`, so
the card of a resumed job equals that of a run that never stopped.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from typing import Any

COUNTS = ("tasks", "kept_tasks", "trajectories", "passed", "samples", "trained_tokens",
          "failed_samples")


@dataclass
class LevelStats:
    """Counts of one difficulty level."""

    tasks: int = 0
    kept_tasks: int = 0
    trajectories: int = 0
    passed: int = 0

    def add(self, other: LevelStats) -> LevelStats:
        for name in ("tasks", "kept_tasks", "trajectories", "passed"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        return self


@dataclass
class ShardStats:
    """What one shard (or, merged, a whole job) produced."""

    tasks: int = 0
    kept_tasks: int = 0
    trajectories: int = 0
    passed: int = 0
    samples: int = 0
    trained_tokens: int = 0
    failed_samples: int = 0
    discarded: dict[str, int] = field(default_factory=dict)
    finish_reasons: dict[str, int] = field(default_factory=dict)
    by_difficulty: dict[str, LevelStats] = field(default_factory=dict)
    #: model-written families: counts per environment (from the task's metadata)
    by_environment: dict[str, LevelStats] = field(default_factory=dict)
    sample_tokens: list[int] = field(default_factory=list)
    #: completions whose served token ids were replaced by the text's tokenization, by reason
    retokenized: dict[str, int] = field(default_factory=dict)
    #: warnings logged while the shard ran (e.g. a request that failed after its retries)
    warnings: dict[str, int] = field(default_factory=dict)
    wall_s: float = 0.0

    def merge(self, other: ShardStats) -> ShardStats:
        """Add `other` into this one (and return it)."""
        for name in COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.discarded = dict(Counter(self.discarded) + Counter(other.discarded))
        self.finish_reasons = dict(Counter(self.finish_reasons) + Counter(other.finish_reasons))
        self.warnings = dict(Counter(self.warnings) + Counter(other.warnings))
        self.retokenized = dict(Counter(self.retokenized) + Counter(other.retokenized))
        for mine, theirs in ((self.by_difficulty, other.by_difficulty),
                             (self.by_environment, other.by_environment)):
            for key, stats in theirs.items():
                mine.setdefault(key, LevelStats()).add(stats)
        self.sample_tokens.extend(other.sample_tokens)
        self.wall_s += other.wall_s
        return self

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ShardStats:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for name in ("by_difficulty", "by_environment"):
            values[name] = {key: LevelStats(**stats) for key, stats in data.get(name, {}).items()}
        return cls(**values)
