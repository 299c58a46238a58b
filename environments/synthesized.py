"""The `synthesized:PATH` family source: model-written environments from a synthesis output
(`synth synthesize`), rolled out like any other family."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from synth.env import EnvFamily, FamilyOptionsError, register_source


def load_synthesized(spec: str, options: Mapping[str, Any]) -> EnvFamily:
    """Every accepted environment under `spec` (a synthesis output, or one env file)."""
    if options:
        raise FamilyOptionsError(f"synthesized:{spec}",
                                 [("", "synthesized families take no options")])
    from synth.synthesis.load import load_synthesized_family

    return load_synthesized_family(spec)


register_source("synthesized", load_synthesized)
