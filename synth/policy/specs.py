"""Which policy a job rolls out against, as config: the scripted stand-in or OpenAI-compatible
servers; `build_policy` turns a spec into the client a worker uses."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from synth.policy.base import Policy
from synth.policy.openai import OpenAIPolicyConfig
from synth.policy.scripted import ScriptedConfig, ScriptedModel


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


def build_policy(spec: ScriptedPolicySpec | OpenAIPolicySpec, job_seed: int = 0) -> Policy:
    """The client a worker rolls out against (the scripted model defaults to the job seed)."""
    if isinstance(spec, ScriptedPolicySpec):
        fields = spec.model_dump(exclude={"kind", "seed"})
        seed = job_seed if spec.seed is None else spec.seed
        return ScriptedModel(ScriptedConfig(seed=seed, **fields))
    if isinstance(spec, OpenAIPolicySpec):
        from synth.policy.openai import OpenAICompletionsClient

        return OpenAICompletionsClient(spec.client_config())
    raise ValueError(f"policy.kind: unsupported policy {spec!r}")
