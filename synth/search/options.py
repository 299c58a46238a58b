"""Options of the search family: the corpus, where its index lives, how searches run, and the
agents that construct, answer and verify questions. Validated at construction; every error
names its field."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from synth.env import FamilyOptions
from synth.infra.config import StrictModel
from synth.policy.base import Sampling
from synth.resources import config_path
from synth.search.facts import FactPattern

PROMPTS = "prompts/search"  # under the configs shipped with synth (synth.resources)
LEVELS = {1: (2, 2), 2: (2, 3), 3: (3, 2), 4: (3, 3), 5: (4, 3)}  # level -> (depth, breadth)


class ModelEndpoint(StrictModel):
    """A model-backed agent: OpenAI-compatible endpoints (see `policy` in job configs), its
    sampling and its prompt (a file; `{...}` placeholders are filled per question)."""

    policy: dict[str, Any] = Field(description="OpenAIPolicyConfig fields: base_urls, model, ...")
    sampling: Sampling = Sampling(temperature=1.0, top_p=0.95, max_tokens=8192)
    prompt: str = Field(min_length=1, description="prompt file (relative: configs/prompts/search)")

    @field_validator("policy")
    @classmethod
    def _policy(cls, value: dict[str, Any]) -> dict[str, Any]:
        from synth.policy.openai import OpenAIPolicyConfig

        OpenAIPolicyConfig.model_validate(value)
        return value

    def prompt_text(self) -> str:
        path = Path(self.prompt)
        path = path if path.is_absolute() else config_path(PROMPTS) / path
        if not path.is_file():
            raise ValueError(f"prompt file not found: {path}")
        return path.read_text(encoding="utf-8")


class AgentSpec(StrictModel):
    """The question-construction or verification agent (or the rubric judge)."""

    kind: Literal["scripted", "model"] = "scripted"
    model: ModelEndpoint | None = None

    @model_validator(mode="after")
    def _model(self) -> AgentSpec:
        if self.kind == "model" and self.model is None:
            raise ValueError("a model agent needs 'model'")
        return self


class AnswerAgentSpec(AgentSpec):
    """One answer agent. Scripted strategies: `lookup` (one search with the question text),
    `shallow` (the answer's own keywords only), `solver` (the whole chain, within its
    budget)."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    strategy: Literal["lookup", "shallow", "solver"] = "solver"
    tool_budget: int = Field(4, ge=1, le=200)
    temperature: float = Field(0.0, ge=0.0, le=2.0)


DEFAULT_ANSWER_AGENTS = (
    AnswerAgentSpec(name="lookup", strategy="lookup", tool_budget=1),
    AnswerAgentSpec(name="shallow", strategy="shallow", tool_budget=2, temperature=0.5),
    AnswerAgentSpec(name="solver-4", strategy="solver", tool_budget=4),
)


class PreparedTasks(StrictModel):
    """Tasks constructed by the build stage, before rollouts (with model agents, construction
    is the slow part): the slots of a job, given by the job's `seed` and this family's `tasks`
    and `difficulties` exactly as in the job config, are constructed in units and committed
    under `location`; a task the job asks for that is not there is discarded as
    `not_prepared`."""

    location: str = Field(min_length=1, description="a folder or URI every worker can read")
    seed: int = Field(description="the job's seed")
    tasks: int = Field(ge=1, description="the family's task count in the job")
    difficulties: dict[int, float] | list[int] | None = Field(
        None, description="the family's difficulty mix in the job")
    tasks_per_unit: int = Field(32, ge=1, le=10_000)

    @field_validator("difficulties")
    @classmethod
    def _levels(cls, value: dict[int, float] | list[int] | None
                ) -> dict[int, float] | list[int] | None:
        mix = dict.fromkeys(value, 1.0) if isinstance(value, list) else value
        if mix is not None:
            if set(mix) - set(LEVELS):
                raise ValueError(f"levels {sorted(set(mix) - set(LEVELS))} not in "
                                 f"{tuple(LEVELS)}")
            if sum(mix.values()) <= 0 or min(mix.values()) < 0:
                raise ValueError("weights must be >= 0, sum > 0")
        return value

    def units(self) -> int:
        """How many work units the build stage cuts the slots into."""
        return -(-self.tasks // self.tasks_per_unit)


class SearchOptions(FamilyOptions):
    """What a search-family job runs on and how tasks are made."""

    corpus: str = Field("generated", min_length=1, description=(
        "'generated' (the embedded encyclopedia), a Parquet file/folder or .jsonl path/URI "
        "in the wikimedia/wikipedia columns, or 'dictd:PATH' (a folder of .index/.dict.dz)"))
    corpus_seed: int = Field(0, description="seed of the generated encyclopedia")
    corpus_size: int = Field(1200, ge=40, le=2_000_000)
    index: str | None = Field(None, description="index folder or URI; default: the cache")
    cache_dir: str | None = Field(None, description="default $SYNTH_CACHE_DIR or ~/.cache/synth")
    backend: Literal["embedded", "http"] = "embedded"
    service_url: str | None = Field(None, validate_default=True,
                                    description="a serve-search URL (backend: http)")
    patterns: list[FactPattern] = Field(default_factory=list,
                                        description="fact patterns of a custom corpus")
    depth: int | None = Field(None, ge=1, le=4, description="hops; default: by level")
    breadth: int | None = Field(None, ge=1, le=5, description="facts per hop; default: by level")
    attempts: int = Field(4, ge=1, le=64, description="entities tried per task")
    answer_agents: list[AnswerAgentSpec] = Field(
        default_factory=lambda: list(DEFAULT_ANSWER_AGENTS))
    question_agent: AgentSpec = AgentSpec()
    verifier: AgentSpec = AgentSpec()
    verification_passes: int = Field(2, ge=1, le=8)
    rubric_fraction: float = Field(0.2, ge=0.0, le=1.0)
    rubric_threshold: float = Field(0.75, gt=0.0, le=1.0)
    judge: AgentSpec = AgentSpec()
    prepared: PreparedTasks | None = Field(None, description="tasks the build stage constructs")
    tools_in: Literal["system", "developer"] = Field("developer", description=(
        "where the tools are rendered: inside the developer turn that carries the task (the "
        "template's search-agent format), or on the system message"))

    @field_validator("service_url")
    @classmethod
    def _service_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("backend") == "http" and not value:
            raise ValueError("required when backend is 'http'")
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value

    @field_validator("answer_agents")
    @classmethod
    def _distinct_agents(cls, value: list[AnswerAgentSpec]) -> list[AnswerAgentSpec]:
        names = [a.name for a in value]
        if len(set(names)) != len(names):
            raise ValueError("names must be unique")
        return value

    def shape(self, level: int) -> tuple[int, int]:
        """(depth, breadth) at a level: the ladder, or a fixed depth with breadth growing by
        level, or a fixed breadth with the ladder's depth."""
        depth, breadth = LEVELS[level]
        if self.depth is not None and self.breadth is None:
            return self.depth, min(5, level + 1)
        return self.depth or depth, self.breadth or breadth

    def cache_root(self) -> Path:
        root = self.cache_dir or os.environ.get("SYNTH_CACHE_DIR") or \
            os.path.join(os.path.expanduser("~"), ".cache", "synth")
        return Path(root) / "search"
