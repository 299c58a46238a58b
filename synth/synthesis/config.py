"""The synthesis stage's configuration: one YAML file, validated at construction.

Categories are free-text task categories ("managing a library's loans"); each yields
`environments` environments. The agent is a policy (the scripted stand-in or an
OpenAI-compatible server), checked by sandboxed runs with the given limits.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from synth.infra.config import OutputURI, StrictModel, load_config_file, validate_config
from synth.infra.raytools import RaySpec
from synth.policy.base import Sampling
from synth.policy.specs import OpenAIPolicySpec
from synth.sandbox import SandboxLimits

FAULTS = ("syntax_error", "verifier_accepts_all", "solution_reads_db", "endless_loop",
          "tool_writes_outside", "path_escape", "exhaust_budget")
"""Faulty attempts the scripted agent can plant (each must be caught by a check)."""


def slugify(text: str) -> str:
    """A file- and id-safe form of a category name."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:48] or "category"


class CategorySpec(StrictModel):
    """One task category and how many environments to synthesize for it."""

    name: str = Field(min_length=3, description="the category, as told to the agent")
    environments: int | None = Field(None, ge=1, description="default: environments_per_category")
    slug: str | None = Field(None, description="id prefix; default: from the name")
    blueprint: str | None = Field(None, description="scripted agent only: which blueprint")

    @field_validator("slug")
    @classmethod
    def _slug(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[a-z0-9_]{1,48}", value):
            raise ValueError("slug must match [a-z0-9_]{1,48}")
        return value

    @property
    def key(self) -> str:
        return self.slug or slugify(self.name)


class SynthesisBudgets(StrictModel):
    """How much the agent may try: submissions per level and steps per environment."""

    max_attempts_per_level: int = Field(3, ge=1)
    max_steps: int = Field(80, ge=1, description="assistant messages per environment")
    max_calls: int = Field(12, ge=1, le=64, description="tool calls of a reference solution")
    max_context_tokens: int = Field(131072, ge=1024, description="the agent's prompt + reply")
    max_file_kb: int = Field(256, ge=1, description="largest file the agent may write")
    max_files: int = Field(64, ge=4, description="files in an environment folder")


class ScriptedAgentSpec(StrictModel):
    """The scripted synthesis agent: writes environments from blueprints in data/synthesis/,
    planting the listed faulty attempts (spread round-robin over the environments)."""

    kind: Literal["scripted"] = "scripted"
    faults: list[Literal[FAULTS]] = Field(default_factory=lambda: list(FAULTS))  # type: ignore[valid-type]
    model: str = "scripted-synthesis-agent"


SynthesisPolicySpec = Annotated[ScriptedAgentSpec | OpenAIPolicySpec, Field(discriminator="kind")]


class SynthesisConfig(StrictModel):
    """A whole synthesis run."""

    seed: int = 0
    output: OutputURI
    categories: list[CategorySpec] = Field(min_length=1)
    environments_per_category: int = Field(1, ge=1)
    levels: int = Field(3, ge=1, le=10, description="difficulty levels to reach per environment")
    budgets: SynthesisBudgets = SynthesisBudgets()
    policy: SynthesisPolicySpec = ScriptedAgentSpec()
    sampling: Sampling = Sampling(max_tokens=16384)
    sandbox: SandboxLimits = SandboxLimits(cpu_s=5, wall_s=10)
    ray: RaySpec = RaySpec()
    tokenizer: str | None = Field(None, description="only for policies that take token ids")

    @model_validator(mode="after")
    def _check(self) -> SynthesisConfig:
        keys = [c.key for c in self.categories]
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise ValueError(f"categories: ids listed twice: {dupes}")
        if isinstance(self.policy, ScriptedAgentSpec):
            from synth.synthesis.blueprints import find_blueprint

            for position, category in enumerate(self.categories):
                try:
                    find_blueprint(category.name, category.blueprint)
                except (KeyError, FileNotFoundError) as exc:
                    raise ValueError(f"categories.{position}: {exc.args[0]}") from None
        return self

    def count(self, category: CategorySpec) -> int:
        return category.environments or self.environments_per_category


def parse_synthesis_config(data: dict[str, Any],
                           overrides: dict[str, Any] | None = None) -> SynthesisConfig:
    """Validate a mapping (CLI overrides are dotted fields); ConfigError names the field."""
    return validate_config(SynthesisConfig, data, overrides)


def load_synthesis_config(path: str | Path,
                          overrides: dict[str, Any] | None = None) -> SynthesisConfig:
    """Read and validate a synthesis YAML file."""
    return load_config_file(SynthesisConfig, path, overrides)
