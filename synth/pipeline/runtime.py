"""Build the run-time objects a shard needs from the config (once per worker process)."""

from __future__ import annotations

from synth.env import EnvFamily, resolve_family
from synth.pipeline.config import FamilySpec, JobConfig
from synth.pipeline.plan import Shard
from synth.policy.base import Policy
from synth.rollout.users import ModelUser, ScriptedUser, UserSimulator
from synth.tokenizer import shared_tokenizer

__all__ = ["build_user", "shard_family", "shared_tokenizer", "spec_family"]


def spec_family(spec: FamilySpec) -> EnvFamily:
    """The family a config entry names, built with its options (cached per process)."""
    return resolve_family(spec.name, spec.options)


def shard_family(config: JobConfig, shard: Shard) -> EnvFamily:
    for spec in config.families:
        if spec.name == shard.family:
            return spec_family(spec)
    raise KeyError(f"shard {shard.shard_id}: family {shard.family!r} is not in the config")


def build_user(config: JobConfig, policy: Policy) -> UserSimulator:
    """Follow-ups from the script, or phrased by the policy itself in chat mode."""
    if config.user_simulator.kind == "model":
        return ModelUser(policy)
    return ScriptedUser()
