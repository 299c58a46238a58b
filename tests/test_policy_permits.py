"""Fleet-wide concurrency: the permit broker never lends more than an endpoint's cap, shares it
fairly, takes back the permits of silent holders, and on a real local Ray four workers with a
cap of 16 never put more than 16 requests in flight at one mock server (counted there)."""

from __future__ import annotations

import asyncio
import inspect
import random
from typing import Any

import pytest
from mock_endpoints import run

from synth.policy.mock_config import MockServerConfig
from synth.policy.mock_process import MockServerProcess
from synth.policy.openai_config import OpenAIPolicyConfig
from synth.policy.permits import FleetSlots, PermitBroker, permit_broker_name, start_permit_broker

URL = "http://127.0.0.1:9/v1/completions"


class InProcessHandle:
    """Calls a broker in this event loop the way a Ray actor handle is called
    (`handle.method.remote(*args)` returns something to await)."""

    def __init__(self, broker: PermitBroker) -> None:
        self.broker = broker

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.broker, name)

        class _Remote:
            @staticmethod
            def remote(*args: Any) -> asyncio.Future[Any]:
                async def call() -> Any:
                    result = method(*args)
                    return await result if inspect.isawaitable(result) else result

                return asyncio.ensure_future(call())

        return _Remote


def test_the_broker_never_lends_more_than_the_cap() -> None:
    async def main() -> tuple[int, dict[str, Any]]:
        broker = PermitBroker({URL: 16})
        state = {"in_use": 0, "peak": 0}

        async def holder(name: str, rng: random.Random) -> None:
            for _ in range(40):
                n = await broker.acquire(URL, name, rng.randint(1, 9))
                assert 1 <= n <= 9
                state["in_use"] += n
                state["peak"] = max(state["peak"], state["in_use"])
                await asyncio.sleep(rng.random() * 0.002)
                state["in_use"] -= n
                broker.release(URL, name, n)

        await asyncio.gather(*(holder(f"h{i}", random.Random(i)) for i in range(6)))
        return state["peak"], broker.snapshot()[URL]

    peak, snap = run(main())
    assert peak == 16 and snap["peak"] == 16  # the cap is used, never exceeded
    assert (snap["in_use"], snap["holders"], snap["waiting"]) == (0, 0, 0)


def test_waiting_holders_get_a_fair_share() -> None:
    async def main() -> list[int]:
        broker = PermitBroker({URL: 16})
        got = [await broker.acquire(URL, "a", 16)]
        b = asyncio.ensure_future(broker.acquire(URL, "b", 16))
        await asyncio.sleep(0)
        share = broker.share(URL)  # a holds 16, b waits: each may keep 8
        returned_share = broker.release(URL, "a", 8)
        got += [share, returned_share, await b]
        return got

    assert run(main()) == [16, 8, 16, 8]  # b takes all 8 freed; then nobody waits


def test_permits_of_a_silent_holder_are_reclaimed() -> None:
    now = [0.0]

    async def main() -> int:
        broker = PermitBroker({URL: 16}, lease_s=30.0, clock=lambda: now[0])
        assert await broker.acquire(URL, "dead-worker", 16) == 16
        now[0] = 31.0  # no renewal for longer than the lease
        n = await asyncio.wait_for(broker.acquire(URL, "live-worker", 4), 5)
        assert broker.release(URL, "dead-worker", 16) == 16  # a late return changes nothing
        return n

    assert run(main()) == 4


def test_unknown_endpoints_are_refused() -> None:
    with pytest.raises(KeyError):
        run(PermitBroker({URL: 1}).acquire("http://elsewhere/v1/completions", "h", 1))


def test_clients_share_one_cap_and_leak_nothing_when_cancelled() -> None:
    async def main() -> tuple[int, int, dict[str, Any]]:
        broker = PermitBroker({URL: 16})
        handle = InProcessHandle(broker)
        clients = [FleetSlots(handle, renew_s=0.01) for _ in range(4)]
        state = {"in_use": 0, "peak": 0, "done": 0}

        async def job(slots: FleetSlots, rng: random.Random) -> None:
            await slots.acquire(URL)
            try:
                state["in_use"] += 1
                state["peak"] = max(state["peak"], state["in_use"])
                await asyncio.sleep(rng.random() * 0.004)
                state["done"] += 1
            finally:
                state["in_use"] -= 1
                slots.release(URL)

        rng = random.Random(0)
        jobs = [asyncio.ensure_future(job(c, rng)) for c in clients for _ in range(60)]
        await asyncio.sleep(0.01)
        for j in jobs[::7]:  # rollouts cancelled while waiting or running
            j.cancel()
        await asyncio.gather(*jobs, return_exceptions=True)
        for c in clients:
            await c.close()
        for _ in range(500):  # the last returns reach the broker (slowly on a busy machine)
            if broker.snapshot()[URL]["in_use"] == 0:
                break
            await asyncio.sleep(0.01)
        return state["peak"], state["done"], broker.snapshot()[URL]

    peak, done, snap = run(main())
    assert peak <= 16 and done >= 200
    assert snap["in_use"] == 0 and snap["peak"] <= 16


# -- four Ray workers, one mock server, cap 16 ----------------------------------------------------
def _fleet_config(url: str, scope: str) -> dict[str, Any]:
    return {"base_urls": [url], "model": "scripted-dsv32", "concurrency_scope": scope,
            "max_concurrency_per_endpoint": 16, "routing": "least_outstanding",
            "request_timeout_s": 60.0, "min_decode_tokens_per_s": None, "max_retries": 3}


def _run_workers(ray: Any, url: str, scope: str, requests: int = 40) -> list[str | None]:
    @ray.remote(num_cpus=0)
    class Barrier:
        def __init__(self, parties: int) -> None:
            self.parties, self.arrived = parties, 0

        async def arrive(self) -> None:
            self.arrived += 1
            while self.arrived < self.parties:
                await asyncio.sleep(0.01)

    @ray.remote(num_cpus=0)
    def worker(index: int, config: dict[str, Any], barrier: Any) -> list[str | None]:
        import asyncio as aio

        import ray as ray_

        from synth.policy.base import Prompt, Sampling
        from synth.policy.openai import OpenAICompletionsClient

        ray_.get(barrier.arrive.remote())  # all four send at once

        async def main() -> list[str | None]:
            client = OpenAICompletionsClient(config)
            prompts = [Prompt("", [0, 4000 + index, 5000 + i], f"w{index}-{i}#0")
                       for i in range(requests)]
            try:
                done = await aio.gather(*(client.complete(p, Sampling(max_tokens=64))
                                          for p in prompts))
            finally:
                await client.close()
            return [c.error for c in done]

        return aio.run(main())

    barrier = Barrier.remote(4)
    config = _fleet_config(url, scope)
    results = ray.get([worker.remote(i, config, barrier) for i in range(4)], timeout=300)
    return [e for r in results for e in r]


def test_four_workers_never_exceed_the_fleet_cap(ray_session: Any) -> None:
    ray = ray_session
    server = MockServerProcess(MockServerConfig(latency_s=0.25))
    url = server.start()
    try:
        broker = start_permit_broker(OpenAIPolicyConfig(**_fleet_config(url, "fleet")))
        try:
            errors = _run_workers(ray, url, "fleet")
            snap = ray.get(broker.snapshot.remote())
        finally:
            ray.kill(broker)
        fleet = server.stats()[0]
        control_server = MockServerProcess(MockServerConfig(latency_s=0.25))
        control_url = control_server.start()
        try:
            control_errors = _run_workers(ray, control_url, "process")
            control = control_server.stats()[0]
        finally:
            control_server.stop()
    finally:
        server.stop()
    assert errors == [None] * 160 and control_errors == [None] * 160
    assert fleet["stats"]["requests"] == 160
    assert fleet["max_in_flight"] <= 16, fleet  # counted by the server itself
    assert snap[url + "/v1/completions"]["peak"] <= 16
    assert control["max_in_flight"] > 16, control  # per-process caps add up


def test_a_missing_broker_is_an_infrastructure_error() -> None:
    from synth.policy.base import Prompt, Sampling
    from synth.policy.openai import OpenAICompletionsClient

    config = _fleet_config("http://127.0.0.1:9", "fleet")
    assert permit_broker_name(OpenAIPolicyConfig(**config)).startswith("synth-endpoint-permits-")
    async def main() -> Any:
        client = OpenAICompletionsClient(config)
        try:
            return await client.complete(Prompt("", [0, 1], "t#0"), Sampling(max_tokens=8))
        finally:
            await client.close()

    c = run(main())
    assert (c.error, c.infrastructure) == ("permits_unavailable", True)
