"""Build the run-time objects a shard needs from the config (per worker process)."""

from __future__ import annotations

from functools import lru_cache

from synth.env import EnvFamily, get_family
from synth.pipeline.config import JobConfig, OpenAIPolicySpec, ScriptedPolicySpec
from synth.policy.base import Policy
from synth.policy.scripted import ScriptedConfig, ScriptedModel
from synth.rollout.users import ModelUser, ScriptedUser, UserSimulator
from synth.tokenizer import Tokenizer, load_tokenizer

SYNTHESIZED_PREFIX = "synthesized:"


@lru_cache(maxsize=4)
def shared_tokenizer(source: str | None) -> Tokenizer:
    """One tokenizer per worker process (its segment cache is shared across shards)."""
    return load_tokenizer(source)


def resolve_family(name: str) -> EnvFamily:
    """A registered family, or model-written ones loaded from a synthesis output."""
    if name.startswith(SYNTHESIZED_PREFIX):
        from synth.synthesis.load import load_synthesized_family

        return load_synthesized_family(name[len(SYNTHESIZED_PREFIX):])
    return get_family(name)


def family_levels(name: str) -> tuple[int, ...]:
    return resolve_family(name).levels


def build_policy(config: JobConfig) -> Policy:
    """The policy a shard rolls out against."""
    spec = config.policy
    if isinstance(spec, ScriptedPolicySpec):
        fields = spec.model_dump(exclude={"kind", "seed"})
        seed = config.seed if spec.seed is None else spec.seed
        return ScriptedModel(ScriptedConfig(seed=seed, **fields))
    if isinstance(spec, OpenAIPolicySpec):
        from synth.policy.openai import OpenAICompletionsClient

        return OpenAICompletionsClient(spec.client_config())
    raise ValueError(f"policy.kind: unsupported policy {spec!r}")


def build_user(config: JobConfig, policy: Policy) -> UserSimulator:
    """Follow-ups from the script, or phrased by the policy itself in chat mode."""
    if config.user_simulator.kind == "model":
        return ModelUser(policy)
    return ScriptedUser()
