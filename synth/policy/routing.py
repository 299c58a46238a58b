"""Which endpoint takes a request: prefix-cache affinity with bounded load, or least outstanding.

A trajectory's steps share their whole prefix, and a server that saw the previous step holds
it in its KV cache (vLLM's prefix caching, SGLang's radix cache). Spreading steps by load
alone sends each one to a server that must recompute the prefix with probability (N-1)/N.
`Router` places every trajectory (the prompt's tag) by consistent hashing with bounded loads
(Mirrokni et al. 2018): the first endpoint clockwise from the tag's hash on a ring whose
trajectories number below `ceil((1 + slack) x mean)`. A placed trajectory stays until its
endpoint cools down; a single failed attempt is retried elsewhere without moving it. Load is
counted in trajectories, not requests: a trajectory between steps (its tool running) still
owns its cache, and requests in flight would swing with every tool call. A trajectory is let
go `idle_s` after its last request ended (it finished, or it will be placed again, by the
same hash, usually on the same endpoint). The hash is deterministic, so every process agrees
on homes with no shared state; counts are this process's own. Requests without a tag, and the
`least_outstanding` mode, go to the endpoint with the fewest requests in flight.
"""

from __future__ import annotations

import bisect
import hashlib
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

VIRTUAL_NODES = 160  # ring points per endpoint: shares within a few percent of 1/N


@dataclass(eq=False)  # compared by identity
class Endpoint:
    """One server as this process sees it."""

    url: str  # where requests go
    root: str  # the server's base URL (probes go to root + /v1/models)
    in_flight: int = 0
    trajectories: int = 0  # placed here by affinity
    failures: int = 0  # consecutive
    cooldown_until: float = 0.0
    requests: int = 0


def stable_hash(text: str) -> int:
    """64-bit hash, the same in every process (unlike `hash`)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def dp_rank_for(tag: str, dp_size: int) -> int:
    """The SGLang data-parallel rank a trajectory is pinned to."""
    return stable_hash(tag + "\x00dp") % dp_size


@dataclass
class _Placement:
    endpoint: Endpoint
    active: int = 0  # requests of the trajectory in flight


class Router:
    """Picks endpoints; `affinity=False` is plain least-outstanding."""

    def __init__(self, endpoints: list[Endpoint], *, affinity: bool = True,
                 slack: float = 0.1, idle_s: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.endpoints = endpoints
        self.affinity = affinity
        self.slack = slack
        self.idle_s = idle_s
        self.clock = clock
        self._rr = 0
        self._placed: dict[str, _Placement] = {}
        self._idle: OrderedDict[str, float] = OrderedDict()  # tag -> when its last request ended
        self._ring = sorted((stable_hash(f"{e.root}#{v}"), i)
                            for i, e in enumerate(endpoints) for v in range(VIRTUAL_NODES))
        self._points = [p for p, _ in self._ring]

    def home_order(self, tag: str) -> list[Endpoint]:
        """Every endpoint in the order the ring offers them to `tag` (its home first)."""
        start = bisect.bisect(self._points, stable_hash(tag))
        order: list[Endpoint] = []
        seen: set[int] = set()
        n = len(self._ring)
        for k in range(n):
            index = self._ring[(start + k) % n][1]
            if index not in seen:
                seen.add(index)
                order.append(self.endpoints[index])
                if len(order) == len(self.endpoints):
                    break
        return order

    def pick(self, tag: str, avoid: Endpoint | None = None) -> Endpoint:
        """The endpoint for a request of `tag`. `avoid` marks a retry (the endpoint that just
        failed); without it the call starts a request, which `leave(tag)` must end."""
        now = self.clock()
        ready = [e for e in self.endpoints if e.cooldown_until <= now] or self.endpoints
        if not self.affinity or not tag:
            if avoid is not None and len(ready) > 1:
                ready = [e for e in ready if e is not avoid]
            return self._least_outstanding(ready)
        self._expire(now)
        placement = self._placed.get(tag)
        if placement is None or placement.endpoint not in ready:
            placement = self._place(tag, placement, ready)
        if avoid is None:
            placement.active += 1
            self._idle.pop(tag, None)
        elif placement.endpoint is avoid and len(ready) > 1:
            return self._least_outstanding([e for e in ready if e is not avoid])
        return placement.endpoint

    def leave(self, tag: str) -> None:
        """A request of `tag` ended (answered or given up)."""
        placement = self._placed.get(tag) if self.affinity and tag else None
        if placement is None:
            return
        placement.active = max(0, placement.active - 1)
        if placement.active == 0:
            self._idle[tag] = self.clock()
            self._idle.move_to_end(tag)

    def _place(self, tag: str, old: _Placement | None, ready: list[Endpoint]) -> _Placement:
        if old is not None:
            old.endpoint.trajectories -= 1
        total = sum(e.trajectories for e in self.endpoints) + 1
        bound = math.ceil((1.0 + self.slack) * total / len(ready))
        chosen = next((e for e in self.home_order(tag) if e in ready and e.trajectories < bound),
                      None) or min(ready, key=lambda e: e.trajectories)
        chosen.trajectories += 1
        placement = _Placement(chosen, old.active if old is not None else 0)
        self._placed[tag] = placement
        return placement

    def _expire(self, now: float) -> None:
        """Let go of trajectories idle for `idle_s`."""
        cutoff = now - self.idle_s
        while self._idle:
            tag, ended = next(iter(self._idle.items()))
            if ended > cutoff:
                break
            del self._idle[tag]
            placement = self._placed.pop(tag, None)
            if placement is not None:
                placement.endpoint.trajectories -= 1

    def _least_outstanding(self, ready: list[Endpoint]) -> Endpoint:
        """Fewest requests in flight; ties round-robin."""
        n = len(ready)
        start = self._rr % n
        self._rr += 1
        best = ready[start]
        for i in range(1, n):
            candidate = ready[(start + i) % n]
            if candidate.in_flight < best.in_flight:
                best = candidate
        return best
