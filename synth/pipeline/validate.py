"""Checks of a config against the catalog, before any work starts (bad config: exit 2)."""

from __future__ import annotations

from synth.pipeline.config import ConfigError, JobConfig
from synth.pipeline.runtime import resolve_family


def check_families(config: JobConfig) -> None:
    """Every family exists and its difficulty mix names only its levels."""
    for position, spec in enumerate(config.families):
        try:
            family = resolve_family(spec.name)
        except (KeyError, FileNotFoundError, ValueError) as exc:
            message = exc.args[0] if exc.args else str(exc)
            raise ConfigError(f"families.{position}.name: {message}") from None
        try:
            spec.weights(family.levels)
        except ConfigError as exc:
            raise ConfigError(f"families.{position}.difficulties: {exc}") from None
