"""A family's build stage: work that must exist before any task of it is generated (an index
over a corpus, validated bugs of a repository), run by the job as committed work units.

A family returns a `BuildStage` from `build_stage()`; the job runs its units through the
generic unit runner (`synth.infra.units`) before planning shards, so they run as Ray tasks,
commit exactly once under `output`, and a rerun skips what is built. The units' work is a plain
function; a family built with the same options in any worker finds the artifacts at the same
deterministic place.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from synth.infra.units import UnitOutput

BuildWork = Callable[[Any, Any], UnitOutput]


@dataclass(frozen=True)
class BuildStage:
    """Units to run before rollouts: `work(context, unit)` for each, committed under `output`
    (a local path or URI every worker can read). `then`: a stage that needs these artifacts
    (e.g. tasks constructed over a built index), run once this one has committed."""

    name: str
    output: str
    units: Sequence[Any]
    unit_id: Callable[[Any], str]
    work: BuildWork
    context: Any = None
    then: BuildStage | None = None
