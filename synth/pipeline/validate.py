"""Checks of a config against the catalog, before any work starts (bad config: exit 2)."""

from __future__ import annotations

import logging
import os

from synth.env import EnvFamily, FamilyOptionsError
from synth.pipeline.config import ConfigError, JobConfig
from synth.pipeline.runtime import spec_family
from synth.policy.specs import OpenAIPolicySpec


def check_families(config: JobConfig) -> dict[str, EnvFamily]:
    """Every family exists, accepts its options, and its difficulty mix names only its levels.
    Returns the families by name."""
    families = {}
    for position, spec in enumerate(config.families):
        try:
            family = spec_family(spec)
        except FamilyOptionsError as exc:
            raise ConfigError("; ".join(
                f"families.{position}.options{'.' + where if where else ''}: {message}"
                for where, message in exc.errors)) from None
        except (KeyError, FileNotFoundError, ValueError) as exc:
            message = exc.args[0] if exc.args else str(exc)
            raise ConfigError(f"families.{position}.name: {message}") from None
        try:
            spec.weights(family.levels)
        except ConfigError as exc:
            raise ConfigError(f"families.{position}.difficulties: {exc}") from None
        distinct = getattr(family, "distinct_tasks", None)
        if distinct is not None and spec.tasks > distinct:
            logging.getLogger("synth.job").warning(
                "families.%d: %d tasks asked of %s, which has %d distinct task(s); the others "
                "repeat them", position, spec.tasks, spec.name, distinct)
        families[spec.name] = family
    return families


def check_policy(config: JobConfig) -> None:
    """What the policy needs from this machine is there (a missing key fails now, not inside
    every shard)."""
    name = getattr(config.policy, "api_key_env", None)
    if name and not os.environ.get(name):
        raise ConfigError(f"policy.api_key_env: the environment variable {name} is not set")
    if isinstance(config.policy, OpenAIPolicySpec):
        from synth.policy.probe import EndpointProbeError, check_endpoints

        try:
            check_endpoints(config.policy.client_config(), config.budgets.max_context_tokens)
        except EndpointProbeError as exc:
            raise ConfigError(f"policy.base_urls: {exc}") from None


def check_job(config: JobConfig) -> dict[str, EnvFamily]:
    """Every check that can fail before any work starts; returns the families by name."""
    check_policy(config)
    return check_families(config)
