"""Which endpoint takes a request: prefix-cache affinity with bounded load, or least outstanding.

A trajectory's steps share their whole prefix, and a server that saw the previous step holds
it in its KV cache (vLLM's prefix caching, SGLang's radix cache). Spreading steps by load
alone sends each one to a server that must recompute the prefix with probability (N-1)/N.
`Router` gives every trajectory (the prompt's tag) a home by consistent hashing and keeps it
on the endpoint that served its last step, moving only when that endpoint is cooling down or
over its load bound: `ceil((1 + slack) x mean in flight)` (consistent hashing with bounded
loads, Mirrokni et al. 2018). The hash is deterministic, so every process agrees on homes
with no shared state; loads are this process's own. Requests without a tag, and the
`least_outstanding` mode, go to the endpoint with the fewest requests in flight.
"""

from __future__ import annotations

import bisect
import hashlib
import math
import time
from collections import OrderedDict
from dataclasses import dataclass

VIRTUAL_NODES = 160  # ring points per endpoint: shares within a few percent of 1/N


@dataclass(eq=False)  # compared by identity
class Endpoint:
    """One server as this process sees it."""

    url: str  # where requests go
    root: str  # the server's base URL (probes go to root + /v1/models)
    in_flight: int = 0
    failures: int = 0  # consecutive
    cooldown_until: float = 0.0
    requests: int = 0


def stable_hash(text: str) -> int:
    """64-bit hash, the same in every process (unlike `hash`)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def dp_rank_for(tag: str, dp_size: int) -> int:
    """The SGLang data-parallel rank a trajectory is pinned to."""
    return stable_hash(tag + "\x00dp") % dp_size


class Router:
    """Picks endpoints; `affinity=False` is plain least-outstanding."""

    def __init__(self, endpoints: list[Endpoint], *, affinity: bool = True,
                 slack: float = 0.1, max_tags: int = 65536) -> None:
        self.endpoints = endpoints
        self.affinity = affinity
        self.slack = slack
        self.max_tags = max_tags
        self._rr = 0
        self._last: OrderedDict[str, Endpoint] = OrderedDict()
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
        """The endpoint for the next request of `tag` (`avoid`: the one that just failed)."""
        now = time.monotonic()
        ready = [e for e in self.endpoints if e.cooldown_until <= now] or self.endpoints
        if avoid is not None and len(ready) > 1:
            ready = [e for e in ready if e is not avoid]
        if not self.affinity or not tag:
            return self._least_outstanding(ready)
        total = sum(e.in_flight for e in self.endpoints) + 1
        bound = math.ceil((1.0 + self.slack) * total / len(ready))
        last = self._last.get(tag)
        chosen = None
        if last is not None and last in ready and last.in_flight < bound:
            chosen = last
        else:
            for endpoint in self.home_order(tag):
                if endpoint in ready and endpoint.in_flight < bound:
                    chosen = endpoint
                    break
        if chosen is None:
            chosen = self._least_outstanding(ready)
        self._remember(tag, chosen)
        return chosen

    def forget(self, tag: str) -> None:
        """The trajectory is over (optional: the table is an LRU anyway)."""
        self._last.pop(tag, None)

    def _remember(self, tag: str, endpoint: Endpoint) -> None:
        self._last[tag] = endpoint
        self._last.move_to_end(tag)
        if len(self._last) > self.max_tags:
            self._last.popitem(last=False)

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
