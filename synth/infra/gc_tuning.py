"""Garbage-collector settings for processes that run many rollouts at once.

A thousand concurrent trajectories keep a large live heap (messages, prompts, ids); with the
default thresholds a full collection walks it every few hundred milliseconds and stalls every
trajectory of the event loop at once. Freezing what is already loaded (modules, data, tasks)
and collecting the young generation less often removes those stalls; reference counting still
frees almost everything a rollout makes.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

ROLLOUT_GC_THRESHOLDS = (100_000, 50, 1000)


@contextmanager
def rollout_gc() -> Iterator[None]:
    """Apply the rollout settings for the duration of the block, then restore them."""
    previous = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*ROLLOUT_GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*previous)
        gc.unfreeze()
