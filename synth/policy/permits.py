"""Concurrency caps per endpoint: per process, or for a whole Ray job (`concurrency_scope`).

A per-process cap multiplies with the number of shard workers on a cluster, and a server
past its capacity queues (or rejects) what it cannot run. With `concurrency_scope: fleet`
one `PermitBroker` actor holds every endpoint's cap for the job; clients borrow permits in
batches and keep them while they have work queued, so the broker is asked only when a
process needs more or has some to spare. Fairness: while others wait, the broker tells each
holder its share (`cap // active holders`) and holders above it return permits as requests
finish. A holder renews its lease every `renew_s`; the permits of one silent for `lease_s`
(a dead worker) go back to the pool.

Driver, once before the shards start: `start_permit_broker(policy_config)`; clients with
`concurrency_scope: fleet` find the broker by its name.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import socket
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from synth.policy.openai_config import OpenAIPolicyConfig, request_url

logger = logging.getLogger(__name__)


class PermitsUnavailable(Exception):
    """The permit broker could not be reached."""


class LocalSlots:
    """Per-process caps: one semaphore per endpoint (made inside the running loop)."""

    def __init__(self, urls: list[str], cap: int) -> None:
        self._semaphores = {url: asyncio.Semaphore(cap) for url in urls}

    async def acquire(self, url: str) -> None:
        await self._semaphores[url].acquire()

    def release(self, url: str) -> None:
        self._semaphores[url].release()

    async def close(self) -> None:
        return None


# -- the broker (one Ray actor per job) -------------------------------------------------------
class PermitBroker:
    """Every endpoint's cap, lent to holders (one per client process). Runs in one event loop
    (an async Ray actor), so its state needs no locks."""

    def __init__(self, caps: dict[str, int], lease_s: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.caps = dict(caps)
        self.free = dict(caps)
        self.held: dict[str, dict[str, int]] = {url: {} for url in caps}
        self.waiting: dict[str, deque[tuple[str, int, asyncio.Future[int]]]] = {
            url: deque() for url in caps}
        self.peak = dict.fromkeys(caps, 0)
        self.seen: dict[str, float] = {}
        self.lease_s, self.clock = lease_s, clock

    async def acquire(self, url: str, holder: str, want: int) -> int:
        """Permits for `holder` (1..want), waiting until at least one is free."""
        self._check(url)
        self._touch(holder)
        self._reclaim()
        want = max(1, int(want))
        if self.free[url] > 0 and not self._live_waiters(url):
            return self._grant(url, holder, want)
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.waiting[url].append((holder, want, future))
        return await future

    def release(self, url: str, holder: str, count: int) -> int:
        """Give back permits; returns the holder's current share."""
        self._check(url)
        self._touch(holder)
        have = self.held[url].get(holder, 0)
        count = max(0, min(int(count), have))  # a reclaimed holder returns nothing twice
        if count:
            self._set_held(url, holder, have - count)
            self.free[url] += count
        self._serve(url)
        return self.share(url)

    def renew(self, url: str, holder: str) -> int:
        """A holder's heartbeat; returns its current share."""
        self._check(url)
        self._touch(holder)
        self._reclaim()
        return self.share(url)

    def share(self, url: str) -> int:
        """What each holder may keep: the whole cap unless someone waits."""
        if not self._live_waiters(url):
            return self.caps[url]
        active = set(self.held[url]) | {h for h, _, f in self.waiting[url] if not f.done()}
        return max(1, self.caps[url] // max(1, len(active)))

    def snapshot(self) -> dict[str, dict[str, int]]:
        return {url: {"cap": cap, "in_use": cap - self.free[url], "peak": self.peak[url],
                      "holders": len(self.held[url]),
                      "waiting": self._live_waiters(url)} for url, cap in self.caps.items()}

    # -- internals -----------------------------------------------------------------------------
    def _check(self, url: str) -> None:
        if url not in self.caps:
            raise KeyError(f"no cap for endpoint {url}")

    def _touch(self, holder: str) -> None:
        self.seen[holder] = self.clock()

    def _live_waiters(self, url: str) -> int:
        return sum(1 for _, _, f in self.waiting[url] if not f.done())

    def _set_held(self, url: str, holder: str, count: int) -> None:
        if count > 0:
            self.held[url][holder] = count
        else:
            self.held[url].pop(holder, None)

    def _grant(self, url: str, holder: str, want: int) -> int:
        n = min(want, self.free[url], self.share(url))
        self.free[url] -= n
        self._set_held(url, holder, self.held[url].get(holder, 0) + n)
        self.peak[url] = max(self.peak[url], self.caps[url] - self.free[url])
        return n

    def _serve(self, url: str) -> None:
        queue = self.waiting[url]
        while queue and self.free[url] > 0:
            holder, want, future = queue.popleft()
            if not future.done():
                future.set_result(self._grant(url, holder, want))

    def _reclaim(self) -> None:
        """Permits of holders silent for `lease_s` (their process is gone) go back."""
        cutoff = self.clock() - self.lease_s
        for holder in [h for h, t in self.seen.items() if t < cutoff]:
            del self.seen[holder]
            for url, holders in self.held.items():
                count = holders.pop(holder, 0)
                if count:
                    logger.warning("reclaimed %d permit(s) of silent holder %s", count, holder)
                    self.free[url] += count
                    self._serve(url)


def permit_broker_name(config: OpenAIPolicyConfig) -> str:
    """The broker's actor name: one per set of endpoints and cap."""
    key = json.dumps([sorted(broker_caps(config).items())])
    return "synth-endpoint-permits-" + hashlib.sha256(key.encode()).hexdigest()[:12]


def broker_caps(config: OpenAIPolicyConfig) -> dict[str, int]:
    return {request_url(u, config.server): config.max_concurrency_per_endpoint
            for u in config.base_urls}


def start_permit_broker(config: OpenAIPolicyConfig, lease_s: float = 30.0) -> Any:
    """Start (or find) the job's permit broker; call once in the Ray driver. Returns its
    handle (keep it referenced for the job's lifetime)."""
    import ray

    actor = ray.remote(num_cpus=0, max_concurrency=100_000)(PermitBroker)
    return actor.options(name=permit_broker_name(config), get_if_exists=True).remote(
        broker_caps(config), lease_s)


def find_permit_broker(config: OpenAIPolicyConfig) -> Any:
    """The broker started by the driver (PermitsUnavailable if there is none)."""
    import ray

    try:
        if not ray.is_initialized():  # get_actor would start a local Ray of its own
            raise LookupError("this process is not connected to Ray")
        return ray.get_actor(permit_broker_name(config))
    except Exception as exc:  # not started, or Ray not initialized in this process
        raise PermitsUnavailable(
            "concurrency_scope: fleet needs the driver to call "
            "synth.policy.permits.start_permit_broker(config) before the shards start") from exc


# -- the client side ----------------------------------------------------------------------------
@dataclass
class _Pool:
    held: int = 0  # borrowed from the broker
    busy: int = 0  # of those, in use
    share: int = 1 << 30
    returning: int = 0
    waiters: deque[asyncio.Future[None]] = field(default_factory=deque)
    fetcher: asyncio.Task[None] | None = None
    flusher: asyncio.Task[None] | None = None


class FleetSlots:
    """Per-endpoint slots backed by a `PermitBroker` (made inside the running loop)."""

    def __init__(self, broker: Any, renew_s: float = 2.0) -> None:
        self.broker = broker
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.renew_s = renew_s
        self.pools: dict[str, _Pool] = {}
        self._renewer: asyncio.Task[None] | None = None

    async def acquire(self, url: str) -> None:
        pool = self.pools.setdefault(url, _Pool())
        if pool.busy < pool.held and not pool.waiters:
            pool.busy += 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        pool.waiters.append(future)
        if pool.fetcher is None or pool.fetcher.done():
            pool.fetcher = asyncio.create_task(self._fetch(url, pool))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled() and future.exception() is None:
                self.release(url)  # granted just as the caller went away
            raise

    def release(self, url: str) -> None:
        pool = self.pools[url]
        pool.busy -= 1
        self._drop_cancelled(pool)
        if pool.waiters and pool.held <= pool.share:
            pool.busy += 1
            pool.waiters.popleft().set_result(None)
            return
        self._give_back(url, pool, 1)

    async def close(self) -> None:
        tasks = [t for p in self.pools.values() for t in (p.fetcher, p.flusher) if t]
        if self._renewer is not None:
            tasks.append(self._renewer)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for url, pool in self.pools.items():
            if pool.held - pool.busy > 0:
                self._safe_release(url, pool.held - pool.busy)

    # -- internals ------------------------------------------------------------------------------
    @staticmethod
    def _drop_cancelled(pool: _Pool) -> None:
        while pool.waiters and pool.waiters[0].done():
            pool.waiters.popleft()

    def _give_back(self, url: str, pool: _Pool, count: int) -> None:
        pool.held -= count
        pool.returning += count
        if pool.flusher is None or pool.flusher.done():
            pool.flusher = asyncio.create_task(self._flush(url, pool))

    async def _fetch(self, url: str, pool: _Pool) -> None:
        try:
            while True:
                self._drop_cancelled(pool)
                want = sum(1 for f in pool.waiters if not f.done())
                if not want:
                    return
                granted = await self.broker.acquire.remote(url, self.holder, want)
                pool.held += granted
                self._ensure_renewer()
                for _ in range(granted):
                    self._drop_cancelled(pool)
                    if not pool.waiters:
                        self._give_back(url, pool, 1)  # the waiter went away meanwhile
                        continue
                    pool.busy += 1
                    pool.waiters.popleft().set_result(None)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.error("permit broker unavailable: %s", type(exc).__name__)
            while pool.waiters:
                waiter = pool.waiters.popleft()
                if not waiter.done():
                    waiter.set_exception(PermitsUnavailable(type(exc).__name__))

    async def _flush(self, url: str, pool: _Pool) -> None:
        await asyncio.sleep(0)  # gather the releases of this loop turn into one call
        count, pool.returning = pool.returning, 0
        if count:
            try:
                pool.share = await self.broker.release.remote(url, self.holder, count)
            except Exception as exc:
                logger.warning("could not return %d permit(s): %s", count, type(exc).__name__)

    def _safe_release(self, url: str, count: int) -> None:
        try:
            self.broker.release.remote(url, self.holder, count)
        except Exception as exc:
            logger.warning("could not return %d permit(s): %s", count, type(exc).__name__)

    def _ensure_renewer(self) -> None:
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.create_task(self._renew())

    async def _renew(self) -> None:
        """Heartbeat while holding permits; learns the current fair share."""
        while any(p.held for p in self.pools.values()):
            await asyncio.sleep(self.renew_s)
            for url, pool in list(self.pools.items()):
                if pool.held:
                    try:
                        pool.share = await self.broker.renew.remote(url, self.holder)
                    except Exception as exc:
                        logger.warning("permit lease renewal failed: %s", type(exc).__name__)
                    while pool.held > pool.share and pool.busy < pool.held:
                        self._give_back(url, pool, 1)  # idle permits above the share
