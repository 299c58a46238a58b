"""Asking servers what they serve: the start-up check and the outage probe (`/v1/models`).

Before any rollout, every endpoint must serve the configured model with a context that
covers the context budget; a mismatch found later costs a whole run. vLLM rejects a request
whose prompt + max_tokens exceeds `max_model_len`, SGLang one that reaches it, so SGLang
needs `max_model_len > max_context_tokens`. Both list `max_model_len` in `/v1/models`.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from typing import Any

import aiohttp

from synth.policy.openai_config import SGLANG_SERVERS, OpenAIPolicyConfig, models_url


class EndpointProbeError(ValueError):
    """Some endpoint cannot serve the job; the message names each and the numbers."""


@dataclass
class ModelCard:
    id: str
    max_model_len: int | None


async def fetch_models(session: aiohttp.ClientSession, base_url: str,
                       timeout_s: float) -> list[ModelCard]:
    """The models an endpoint lists; raises aiohttp/timeout errors, or ValueError for a bad
    answer (the message says what was wrong)."""
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    async with session.get(models_url(base_url), timeout=timeout) as resp:
        if resp.status != 200:
            raise ValueError(f"GET /v1/models answered HTTP {resp.status}")
        try:
            data = await resp.json(content_type=None)
            cards = data["data"]
            return [ModelCard(str(c["id"]), c.get("max_model_len")
                              if type(c.get("max_model_len")) is int else None) for c in cards]
        except (ValueError, KeyError, TypeError, AttributeError):
            raise ValueError("GET /v1/models answered an unreadable body") from None


def auth_headers(config: OpenAIPolicyConfig) -> dict[str, str]:
    if config.api_key_env is None:
        return {}
    key = os.environ.get(config.api_key_env)
    if not key:
        raise EndpointProbeError(f"environment variable {config.api_key_env} is not set")
    return {"Authorization": f"Bearer {key}"}


def context_problem(config: OpenAIPolicyConfig, max_model_len: int,
                    max_context_tokens: int) -> str | None:
    """Why this context length cannot take the job's requests (None: it can)."""
    needed = max_context_tokens + 1 if config.server in SGLANG_SERVERS else max_context_tokens
    if max_model_len >= needed:
        return None
    rule = "above" if config.server in SGLANG_SERVERS else "at least"
    return (f"max_model_len {max_model_len} is below budgets.max_context_tokens "
            f"{max_context_tokens} (the server must allow {rule} {max_context_tokens}: lower "
            f"the budget to {max_model_len - (needed - max_context_tokens)} or serve a longer "
            f"context)")


async def probe_endpoints(config: OpenAIPolicyConfig, max_context_tokens: int,
                          timeout_s: float = 10.0) -> list[str]:
    """One line per problem (empty: every endpoint can serve the job)."""
    headers = auth_headers(config)

    async def one(session: aiohttp.ClientSession, base_url: str) -> str | None:
        try:
            cards = await fetch_models(session, base_url, timeout_s)
        except (aiohttp.ClientError, TimeoutError) as exc:
            return f"{base_url}: cannot reach GET /v1/models ({type(exc).__name__})"
        except ValueError as exc:
            return f"{base_url}: {exc}"
        card = next((c for c in cards if c.id == config.model), None)
        if card is None:
            served = ", ".join(repr(c.id) for c in cards) or "nothing"
            return f"{base_url}: serves {served}, not {config.model!r}"
        if card.max_model_len is None:
            return None  # an older server: the context is checked by the requests themselves
        problem = context_problem(config, card.max_model_len, max_context_tokens)
        return f"{base_url}: {problem}" if problem else None

    async with aiohttp.ClientSession(headers=headers) as session:
        found = await asyncio.gather(*(one(session, u) for u in config.base_urls))
    return [p for p in found if p]


def check_endpoints(config: OpenAIPolicyConfig | dict[str, Any], max_context_tokens: int,
                    timeout_s: float = 10.0) -> None:
    """The start-up check (synchronous; call before Ray starts). Raises EndpointProbeError
    with one line per problem, e.g. `http://gpu-0:8000: max_model_len 65536 is below ...`."""
    if not isinstance(config, OpenAIPolicyConfig):
        config = OpenAIPolicyConfig.model_validate(config)
    problems = asyncio.run(probe_endpoints(config, max_context_tokens, timeout_s))
    if problems:
        raise EndpointProbeError("; ".join(problems))
