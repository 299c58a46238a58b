"""Shared pieces of the tests that talk to mock servers over loopback HTTP (no HTTP mocking)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from synth.policy.base import Completion, Prompt, Sampling
from synth.policy.mock_server import MockServer, MockServerConfig
from synth.policy.openai import OpenAICompletionsClient, OpenAIPolicyConfig

SAMPLING = Sampling(max_tokens=4096)
FAST = {"backoff_base_s": 0.001, "backoff_max_s": 0.01, "request_timeout_s": 5.0,
        "min_decode_tokens_per_s": None}


def bank_prompt(tokenizer: Any, seed: int = 1, sample: int = 0) -> Prompt:
    """The first prompt of a bank task, as text and ids, tagged like a trajectory."""
    from synth.env import get_family
    from synth.template import encode_messages

    task = get_family("bank").generate(seed, 1).task
    text = encode_messages([task.system_message(),
                            {"role": "user", "content": task.user_turns[0]}])
    return Prompt(text, tokenizer.encode(text), tag=f"{task.task_id}#{sample}")


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(coro)  # type: ignore[arg-type]


async def with_servers(configs: list[MockServerConfig],
                       body: Callable[[list[str], list[MockServer]], Awaitable[Any]]) -> Any:
    servers = [MockServer(c) for c in configs]
    try:
        urls = [await s.start() for s in servers]
        return await body(urls, servers)
    finally:
        for s in servers:
            await s.stop()


def client(urls: list[str], **kw: Any) -> OpenAICompletionsClient:
    return OpenAICompletionsClient(OpenAIPolicyConfig(base_urls=urls, **{**FAST, **kw}))


async def complete_all(policy: OpenAICompletionsClient, prompt: Prompt, n: int,
                       sampling: Sampling = SAMPLING) -> list[Completion]:
    try:
        return list(await asyncio.gather(*(policy.complete(prompt, sampling)
                                           for _ in range(n))))
    finally:
        await policy.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
