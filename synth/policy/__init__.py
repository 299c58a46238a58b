"""Policies: model-server clients and the scripted stand-in, behind one small contract."""

from synth.policy.base import Completion, Policy, Prompt, Sampling, is_infrastructure_error

__all__ = ["Completion", "Policy", "Prompt", "Sampling", "is_infrastructure_error"]
