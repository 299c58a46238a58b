"""`synth bench fleet`: prefix-cache affinity against least-outstanding balancing, same run.

Eight mock servers in one separate process model what makes affinity pay on a real fleet
(`FleetSimulation`): each holds an LRU prefix cache of token blocks, prefills the uncached
part of a prompt one request at a time (prefill is compute-bound) and decodes answers side
by side (decode is batched). This process runs the same multi-turn workload through one
`OpenAICompletionsClient` twice, with `routing: least_outstanding` and `routing: affinity`,
against fresh servers each time: `concurrency` trajectories in flight, each `steps` calls
long, prompts made of a prefix shared by a family (the system prompt and tools), the
trajectory's own request, then per step the answer and a tool result (which takes a random
`tool_s` on average: without it, least-outstanding would send each step back to the server
that just freed a slot, an affinity by accident that real fleets do not have).

Figures per mode: `hit_ratio` = prefix tokens the chosen server had cached / prefix tokens
any server had computed before (counted by an unbounded cache over every prompt sent, in
whole blocks as the servers count); `imbalance` = max / mean over servers of the time-
averaged requests in flight; `steps_per_s`. `speedup_vs_least_outstanding` compares the two
modes' steps/s. The time model's defaults keep the ratios of a V3.2 node (decode per token
~50x the prefill cost of a token, a few hundred tokens per step) at a tenth of the scale.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from synth.policy.base import Prompt, Sampling
from synth.policy.mock_config import FleetSimulation, MockServerConfig
from synth.policy.mock_process import MockServerProcess
from synth.policy.openai import OpenAICompletionsClient
from synth.policy.prefix_cache import PrefixCache

TARGET_HIT_RATIO = 0.9
TARGET_IMBALANCE = 1.25
TARGET_SPEEDUP = 1.5
MODES = ("least_outstanding", "affinity")


@dataclass(frozen=True)
class FleetWorkload:
    """The servers, their time model and the trajectories sent to them."""

    servers: int = 8
    trajectories: int = 192
    concurrency: int = 128
    steps: int = 16
    families: int = 4
    family_prefix_tokens: int = 512
    request_tokens: int = 128
    tool_tokens: int = 160
    tool_s: float = 0.1  # mean time between a step's answer and the next request
    simulation: FleetSimulation = field(default_factory=lambda: FleetSimulation(
        prefill_s_per_token=1e-4, decode_s_per_token=5e-3, completion_tokens=96))


SMOKE = FleetWorkload(trajectories=24, concurrency=16, steps=4, family_prefix_tokens=256,
                      tool_s=0.01,
                      simulation=FleetSimulation(prefill_s_per_token=2e-5,
                                                 decode_s_per_token=1e-3, completion_tokens=16))


def _ids(rng: random.Random, n: int) -> list[int]:
    return [rng.randrange(1000, 100000) for _ in range(n)]


@dataclass
class _Tally:
    steps: int = 0
    errors: int = 0
    reusable: int = 0
    reused: int = 0
    latency_s: float = 0.0


async def _drive(client: OpenAICompletionsClient, work: FleetWorkload,
                 ledger: PrefixCache) -> _Tally:
    """Run every trajectory, `concurrency` at a time; count prefix reuse as we go."""
    tally = _Tally()
    prefixes = [_ids(random.Random(f"family-{f}"), work.family_prefix_tokens)
                for f in range(work.families)]
    sampling = Sampling(max_tokens=work.simulation.completion_tokens + 1)
    order = itertools.count()

    async def trajectory(index: int) -> None:
        rng = random.Random(f"trajectory-{index}")
        ids = prefixes[index % work.families] + _ids(rng, work.request_tokens)
        tag = f"fleet-{index}"
        for _ in range(work.steps):
            tally.reusable += ledger.match_and_insert(ids)
            completion = await client.complete(Prompt("", ids, tag), sampling)
            tally.steps += 1
            tally.latency_s += completion.latency_s
            if completion.error is not None or completion.token_ids is None:
                tally.errors += 1
                return
            cached = completion.extra.get("cached_tokens")
            tally.reused += cached if isinstance(cached, int) else 0
            ids = ids + completion.token_ids + _ids(rng, work.tool_tokens)
            await asyncio.sleep(rng.uniform(0.0, 2.0 * work.tool_s))  # the tool runs

    async def worker() -> None:
        while (index := next(order)) < work.trajectories:
            await trajectory(index)

    await asyncio.gather(*(worker() for _ in range(work.concurrency)))
    return tally


def run_mode(routing: str, work: FleetWorkload) -> dict[str, Any]:
    """One pass of the workload against fresh servers."""
    config = MockServerConfig(simulation=work.simulation, max_model_len=1 << 20)
    servers = MockServerProcess(config, count=work.servers)
    servers.start()
    try:
        client = OpenAICompletionsClient({
            "base_urls": servers.base_urls, "model": config.model_name, "routing": routing,
            "max_concurrency_per_endpoint": work.concurrency, "request_timeout_s": 300.0,
            "min_decode_tokens_per_s": None, "max_retries": 2, "backoff_base_s": 0.05,
            "backoff_max_s": 1.0})

        async def run() -> tuple[_Tally, float]:
            started = time.perf_counter()
            try:
                return await _drive(client, work, PrefixCache(None, work.simulation.block_tokens)),\
                    time.perf_counter() - started
            finally:
                await client.close()

        tally, wall_s = asyncio.run(run())
        stats = servers.stats()
    finally:
        servers.stop()
    busy = [s["in_flight_seconds"] for s in stats]
    mean_busy = sum(busy) / len(busy)
    return {"routing": routing, "steps": tally.steps, "errors": tally.errors,
            "wall_s": wall_s, "steps_per_s": tally.steps / wall_s if wall_s else 0.0,
            "mean_latency_s": tally.latency_s / max(tally.steps, 1),
            "hit_ratio": tally.reused / tally.reusable if tally.reusable else 0.0,
            "reused_tokens": tally.reused, "reusable_tokens": tally.reusable,
            "imbalance": max(busy) / mean_busy if mean_busy else 0.0,
            "requests_per_server": [s["stats"].get("requests", 0) for s in stats]}


def bench_fleet(smoke: bool = False, work: FleetWorkload | None = None) -> dict[str, Any]:
    """Both modes on the same workload; the headline figures are affinity's."""
    work = work or (SMOKE if smoke else FleetWorkload())
    modes = {mode: run_mode(mode, work) for mode in MODES}
    base, affinity = modes["least_outstanding"], modes["affinity"]
    speedup = affinity["steps_per_s"] / base["steps_per_s"] if base["steps_per_s"] else 0.0
    result: dict[str, Any] = {
        "hit_ratio": affinity["hit_ratio"], "imbalance": affinity["imbalance"],
        "speedup_vs_least_outstanding": speedup,
        "hit_ratio_least_outstanding": base["hit_ratio"],
        "imbalance_least_outstanding": base["imbalance"],
        "modes": modes, "smoke": smoke,
        "workload": {**asdict(work), "simulation": work.simulation.model_dump()},
        "targets": {"hit_ratio": TARGET_HIT_RATIO, "imbalance": TARGET_IMBALANCE,
                    "speedup_vs_least_outstanding": TARGET_SPEEDUP},
    }
    result["meets_targets"] = {
        "hit_ratio": affinity["hit_ratio"] >= TARGET_HIT_RATIO,
        "imbalance": affinity["imbalance"] <= TARGET_IMBALANCE,
        "speedup_vs_least_outstanding": speedup >= TARGET_SPEEDUP,
    }
    return result
