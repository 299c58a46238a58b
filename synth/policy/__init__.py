"""Policies: model-server clients and the scripted stand-in, behind one small contract."""

from synth.policy.base import Completion, Policy, Prompt, Sampling

__all__ = ["Completion", "Policy", "Prompt", "Sampling"]
