"""Prefix-cache affinity: consistent homes, the load bound, cool-downs, and over HTTP each
trajectory keeps to one server; the prefix cache model the fleet benchmark relies on."""

from __future__ import annotations

import asyncio
import math
import subprocess
import sys
import time
from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mock_endpoints import SAMPLING, bank_prompt, client, run, with_servers

from synth.policy.mock_server import MockServer, MockServerConfig
from synth.policy.openai import cached_tokenizer
from synth.policy.prefix_cache import PrefixCache
from synth.policy.routing import Endpoint, Router, dp_rank_for, stable_hash


def endpoints(n: int) -> list[Endpoint]:
    return [Endpoint(f"http://10.0.0.{i}:8000/v1/completions", f"http://10.0.0.{i}:8000")
            for i in range(n)]


def test_homes_are_the_same_in_every_process() -> None:
    """No shared state: a fresh process computes the same home for every tag."""
    tags = [f"bank.d3.{i:016d}#{k}" for i in range(20) for k in range(3)]
    here = [Router(endpoints(8)).home_order(t)[0].root for t in tags]
    code = ("import json,sys; from synth.policy.routing import Router, Endpoint; "
            "eps=[Endpoint(f'http://10.0.0.{i}:8000/v1/completions', f'http://10.0.0.{i}:8000')"
            " for i in range(8)]; r=Router(eps); "
            "print(json.dumps([r.home_order(t)[0].root for t in json.loads(sys.argv[1])]))")
    import json

    out = subprocess.run([sys.executable, "-c", code, json.dumps(tags)], capture_output=True,
                         text=True, check=True, env={"PYTHONHASHSEED": "123", "PATH": ""})
    assert json.loads(out.stdout) == here
    assert stable_hash("x") == stable_hash("x") and dp_rank_for("t#0", 8) in range(8)


def test_homes_spread_evenly() -> None:
    router = Router(endpoints(8))
    counts = Counter(router.home_order(f"task-{i}#0")[0].root for i in range(8000))
    assert len(counts) == 8 and max(counts.values()) / min(counts.values()) < 1.3


def test_a_trajectory_stays_placed_whatever_the_load() -> None:
    eps = endpoints(4)
    router = Router(eps)
    home = router.pick("traj#1")
    router.leave("traj#1")
    assert home.trajectories == 1
    for e in eps:
        e.in_flight = 40 if e is home else 0
    for _ in range(5):  # its prefix is cached there: it queues rather than recomputes
        assert router.pick("traj#1") is home
        router.leave("traj#1")
    assert home.trajectories == 1


def test_new_trajectories_go_past_a_full_home() -> None:
    eps = endpoints(4)
    router = Router(eps, slack=0.0)
    tags = [f"t{i}#0" for i in range(40)]
    for tag in tags:
        router.pick(tag)
    assert [e.trajectories for e in eps] == [10, 10, 10, 10]  # bound ceil(mean) holds
    homes = sum(router.pick(t, avoid=None) is router.home_order(t)[0] for t in tags)
    assert homes < 40  # some were placed past their (full) home


def test_a_failed_attempt_is_retried_elsewhere_without_moving() -> None:
    eps = endpoints(3)
    router = Router(eps)
    home = router.pick("traj#2")
    assert router.pick("traj#2", avoid=home) is not home  # the retry
    router.leave("traj#2")
    assert router.pick("traj#2") is home  # the next step goes home


def test_a_cooling_home_is_left() -> None:
    eps = endpoints(3)
    router = Router(eps)
    home = router.pick("traj#2")
    router.leave("traj#2")
    home.cooldown_until = time.monotonic() + 3600
    moved = router.pick("traj#2")
    assert moved is not home and (home.trajectories, moved.trajectories) == (0, 1)


def test_idle_trajectories_are_let_go() -> None:
    now = [0.0]
    eps = endpoints(2)
    router = Router(eps, idle_s=5.0, clock=lambda: now[0])
    router.pick("a#0")
    router.pick("b#0")
    router.leave("a#0")  # b still has a request in flight
    now[0] = 100.0
    router.pick("c#0")
    assert sum(e.trajectories for e in eps) == 2  # a let go; b kept (in flight); c placed


@settings(max_examples=300, deadline=None)
@given(loads=st.lists(st.integers(0, 40), min_size=1, max_size=9),
       cooling=st.lists(st.booleans(), min_size=9, max_size=9),
       slack=st.floats(0.0, 1.0), tag=st.text(min_size=1, max_size=12))
def test_placement_respects_the_load_bound(loads: list[int], cooling: list[bool],
                                           slack: float, tag: str) -> None:
    eps = endpoints(len(loads))
    now = time.monotonic()
    for e, load, cool in zip(eps, loads, cooling, strict=False):
        e.trajectories = load
        e.cooldown_until = now + 3600 if cool else 0.0
    router = Router(eps, slack=slack)
    ready = [e for e in eps if e.cooldown_until <= now] or eps
    bound = math.ceil((1 + slack) * (sum(loads) + 1) / len(ready))
    before = {id(e): e.trajectories for e in eps}
    chosen = router.pick(tag)
    assert chosen in ready and chosen.trajectories == before[id(chosen)] + 1
    if any(before[id(e)] < bound for e in ready):
        assert before[id(chosen)] < bound
    else:
        assert before[id(chosen)] == min(before[id(e)] for e in ready)
    assert all(router.pick(tag, avoid=None) is chosen for _ in range(3))


def test_least_outstanding_ignores_tags() -> None:
    eps = endpoints(3)
    router = Router(eps, affinity=False)
    eps[0].in_flight, eps[1].in_flight, eps[2].in_flight = 5, 1, 3
    assert router.pick("traj#3") is eps[1]


@pytest.mark.parametrize("routing", ["affinity", "least_outstanding"])
def test_over_http_each_trajectory_keeps_to_one_server(routing: str) -> None:
    tokenizer = cached_tokenizer()
    prompts = [bank_prompt(tokenizer, sample=i) for i in range(16)]

    async def body(urls: list[str], servers: list[MockServer]) -> dict[str, set[str]]:
        policy = client(urls, routing=routing)
        seen: dict[str, set[str]] = {p.tag: set() for p in prompts}

        async def trajectory(prompt: Any) -> None:
            for _ in range(4):
                c = await policy.complete(prompt, SAMPLING)
                assert c.error is None and c.endpoint is not None
                seen[prompt.tag].add(c.endpoint)
                await asyncio.sleep(0.01 * (hash(prompt.tag) % 5))  # the tool runs

        try:
            await asyncio.gather(*(trajectory(p) for p in prompts))
        finally:
            await policy.close()
        assert sum(s.stats["requests"] for s in servers) == 64
        return seen

    seen = run(with_servers([MockServerConfig(latency_s=0.02)] * 4, body))
    moved = sum(len(s) > 1 for s in seen.values())
    used = set().union(*seen.values())
    assert len(used) == 4
    if routing == "affinity":
        assert moved == 0
    else:
        assert moved >= 8, moved  # load alone scatters steps


# -- the prefix cache model ---------------------------------------------------------------------
def test_prefix_cache_counts_whole_blocks_of_the_shared_prefix() -> None:
    cache = PrefixCache(None, block_tokens=4)
    first = list(range(10))
    assert cache.match_and_insert(first) == 0
    assert cache.match(first) == 8  # two whole blocks
    assert cache.match([*first[:6], 99, 98, 97, 96]) == 4  # diverges inside block 2
    assert cache.match([7, *first]) == 0  # same tokens, other prefix: no match


def test_prefix_cache_evicts_least_recently_used_blocks() -> None:
    cache = PrefixCache(capacity_tokens=8, block_tokens=4)
    a, b = [1, 2, 3, 4, 5, 6, 7, 8], [9, 10, 11, 12, 13, 14, 15, 16]
    cache.match_and_insert(a)
    cache.match_and_insert(b)
    assert len(cache) == 2 and cache.match(a) == 0 and cache.match(b) == 8


@settings(max_examples=200, deadline=None)
@given(seqs=st.lists(st.lists(st.integers(0, 5), max_size=30), min_size=1, max_size=6),
       block=st.integers(1, 5), capacity=st.one_of(st.none(), st.integers(1, 40)))
def test_prefix_cache_properties(seqs: list[list[int]], block: int,
                                 capacity: int | None) -> None:
    cache = PrefixCache(capacity, block)
    for seq in seqs:
        hit = cache.match_and_insert(seq)
        assert 0 <= hit <= len(seq) and hit % block == 0
        if capacity is None or capacity >= len(seq):
            assert cache.match(seq) == len(seq) // block * block  # just inserted: held
        if capacity is not None:
            assert len(cache) <= max(1, capacity // block)
