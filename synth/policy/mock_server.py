"""A mock vLLM / SGLang server backed by the scripted model, with fault injection.

It lets the HTTP client, retries, balancing and the whole pipeline run over real sockets with
no GPU, and behaves like the real servers where that matters to a client: `/v1/completions`
(prompt as ids or text, the trajectory id in `user`), SGLang's `/generate`, `/v1/models` with
`max_model_len`, EOS kept in the returned ids, the prompt echoed back with
`return_token_ids`, `abort` answers, 503 with SGLang's flat error body on a full queue, 400
on an over-long request, a BOS added to text prompts unless `add_special_tokens` is false
(vLLM; SGLang always adds one). Latency is drawn from a distribution and faults from a
seeded RNG. With `simulation` it models a prefix cache and prefill/decode time instead of
running the scripted model (`synth bench fleet`). `GET /mock/stats` reports its counters.

Run it: `synth serve-mock`, `MockServer(config)` in-process for tests, or
`MockServerProcess(config)` (in `synth.policy.mock_process`) as a separate process.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import math
import os
import random
import time
from collections import Counter
from typing import Any

from aiohttp import web

from synth.policy.base import Prompt, Sampling
from synth.policy.mock_answers import (
    Answer,
    apply_fault,
    completions_body,
    error_body,
    generate_body,
    model_answer,
    strip_eos_text,
    synthetic_answer,
)
from synth.policy.mock_config import FAULT_KINDS, FaultRates, FleetSimulation, MockServerConfig
from synth.policy.mock_prompts import PromptDecoder, split_body
from synth.policy.prefix_cache import PrefixCache
from synth.policy.scripted import ScriptedModel
from synth.policy.token_ids import cached_tokenizer
from synth.template import BOS

__all__ = ["FaultRates", "FleetSimulation", "MockServer", "MockServerConfig", "run_mock_server"]

HTTP_FAULTS = {"http_500": (500, "injected internal error", "server_error"),
               "http_429": (429, "injected rate limit", "rate_limit_error")}


class _BadRequest(Exception):
    """A request the real server would refuse with 400."""


class MockServer:
    """The aiohttp app plus its state; `await start()` returns the base URL (no /v1)."""

    def __init__(self, config: MockServerConfig | None = None, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        self.config = config or MockServerConfig()
        self.host, self.port = host, port
        self.model = ScriptedModel(self.config.scripted)
        self.tokenizer = cached_tokenizer(self.config.tokenizer)
        self.prompts = PromptDecoder(self.tokenizer)
        self._rng = random.Random(self.config.seed)
        self._auth: str | None = None
        if self.config.api_key_env is not None:
            key = os.environ.get(self.config.api_key_env)
            if not key:
                raise ValueError(f"environment variable {self.config.api_key_env} is not set")
            self._auth = f"Bearer {key}"
        sim = self.config.simulation
        self.cache = PrefixCache(sim.cache_tokens, sim.block_tokens) if sim else None
        self._prefill: asyncio.Lock | None = None
        self.stats: Counter[str] = Counter()
        self.dp_ranks: dict[str, set[int]] = {}  # trajectory -> routed_dp_rank values seen
        self.in_flight = 0
        self.max_in_flight = 0
        self.in_flight_seconds = 0.0  # the time integral of in_flight
        self._changed = time.monotonic()
        self._closing: asyncio.Event | None = None
        self._runner: web.AppRunner | None = None
        self.base_url: str | None = None

    def __repr__(self) -> str:
        return f"MockServer(base_url={self.base_url!r}, model={self.config.model_name!r})"

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/completions", self._completions)
        app.router.add_post("/generate", self._generate)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/mock/stats", self._stats)
        return app

    async def start(self) -> str:
        self._closing = asyncio.Event()
        self._prefill = asyncio.Lock()
        self._runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, backlog=4096)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://{self.host}:{port}"
        return self.base_url

    async def stop(self) -> None:
        if self._closing is not None:
            self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> MockServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def snapshot(self) -> dict[str, Any]:
        self._track(0)
        return {"stats": dict(self.stats), "in_flight": self.in_flight,
                "max_in_flight": self.max_in_flight,
                "in_flight_seconds": self.in_flight_seconds}

    # -- draws ------------------------------------------------------------------------------
    def _draw_fault(self) -> str | None:
        roll = self._rng.random()
        for kind in FAULT_KINDS:
            p = getattr(self.config.faults, kind)
            if roll < p:
                return kind
            roll -= p
        return None

    def _draw_latency(self) -> float:
        c = self.config
        mean, jitter = c.latency_s, c.latency_jitter_s
        if c.latency_distribution == "fixed" or mean <= 0 or jitter <= 0:
            return mean
        if c.latency_distribution == "uniform":
            return self._rng.uniform(max(0.0, mean - jitter), mean + jitter)
        sigma = math.sqrt(math.log1p((jitter / mean) ** 2))
        return self._rng.lognormvariate(math.log(mean) - sigma * sigma / 2, sigma)

    # -- small handlers -----------------------------------------------------------------------
    def _error(self, status: int, message: str, kind: str) -> web.Response:
        return web.Response(status=status, body=error_body(self.config.flavor, status,
                                                           message, kind),
                            content_type="application/json")

    def _authorized(self, request: web.Request) -> bool:
        if self._auth is None:
            return True
        given = request.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode(), self._auth.encode())

    async def _models(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._error(401, "invalid or missing API key", "authentication_error")
        name = self.config.model_name
        card = {"id": name, "object": "model", "created": 0, "owned_by": "synth-mock",
                "root": name, "max_model_len": self.config.max_model_len}
        return web.json_response({"object": "list", "data": [card]})

    async def _stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.snapshot())

    def _track(self, delta: int) -> None:
        now = time.monotonic()
        self.in_flight_seconds += self.in_flight * (now - self._changed)
        self._changed = now
        self.in_flight += delta
        self.max_in_flight = max(self.max_in_flight, self.in_flight)

    # -- completions ------------------------------------------------------------------------
    async def _completions(self, request: web.Request) -> web.Response:
        return await self._serve(request, native=False)

    async def _generate(self, request: web.Request) -> web.Response:
        return await self._serve(request, native=True)

    async def _serve(self, request: web.Request, native: bool) -> web.Response:
        self.stats["requests"] += 1
        self._track(+1)
        try:
            if self.config.max_running is not None and self.in_flight > self.config.max_running:
                response = self._error(503, "The server is busy: too many running requests",
                                       "ServiceUnavailable")
            else:
                response = await self._complete(request, native)
        finally:
            self._track(-1)
        self.stats[f"status_{response.status}"] += 1
        return response

    async def _complete(self, request: web.Request, native: bool) -> web.Response:
        if not self._authorized(request):
            return self._error(401, "invalid or missing API key", "authentication_error")
        try:
            body, raw_ids = split_body(await request.read(), "input_ids" if native else "prompt")
        except ValueError:
            return self._error(400, "body is not JSON", "BadRequestError")
        if not isinstance(body, dict):
            return self._error(400, "body is not a JSON object", "BadRequestError")
        if not native and self.config.check_model and body.get("model") != self.config.model_name:
            return self._error(404, f"The model `{body.get('model')}` does not exist.",
                               "NotFoundError")
        try:
            sampling, tag = self._sampling(body, native)
            text, ids, n_prompt = self._prompt(body, raw_ids, native)
            self._check_length(n_prompt, sampling.max_tokens)
        except (_BadRequest, ValueError, TypeError, OverflowError) as exc:
            return self._error(400, str(exc)[:300] or type(exc).__name__, "BadRequestError")
        rank = body.get("routed_dp_rank")
        if isinstance(rank, int):
            self.dp_ranks.setdefault(tag, set()).add(rank)
            self.stats[f"dp_rank_{rank}"] += 1
        fault = self._draw_fault()
        if fault is not None:
            self.stats[fault] += 1
        if fault == "hang":
            assert self._closing is not None
            try:
                await asyncio.wait_for(self._closing.wait(), self.config.hang_s)
                return self._error(503, "shutting down", "ServiceUnavailable")
            except TimeoutError:
                pass
        delay = self._draw_latency()
        if delay > 0:
            await asyncio.sleep(delay)
        if fault in HTTP_FAULTS:
            return self._error(*HTTP_FAULTS[fault])
        cached = None
        if self.config.simulation is not None:
            answer, cached = await self._simulate(self.config.simulation, raw_ids, ids, tag)
        else:
            done = self.model.complete_now(Prompt(text, None, tag), sampling)
            answer = model_answer(done.text, done.finish_reason, self.tokenizer)
        answer = apply_fault(answer, fault, self._rng, self.tokenizer)
        if self.config.strip_eos:
            answer = strip_eos_text(answer)
        return self._render(answer, body, raw_ids, ids, n_prompt, native, cached)

    def _sampling(self, body: dict[str, Any], native: bool) -> tuple[Sampling, str]:
        if native:
            params = body.get("sampling_params") or {}
            if not isinstance(params, dict):
                raise _BadRequest("sampling_params must be an object")
            rid = str(body.get("rid") or "")
            return Sampling(temperature=params.get("temperature", 1.0),
                            top_p=params.get("top_p", 1.0),
                            max_tokens=params.get("max_new_tokens", 128),
                            seed=params.get("sampling_seed")), rid.rsplit("|", 1)[0]
        return Sampling(temperature=body.get("temperature", 1.0), top_p=body.get("top_p", 1.0),
                        max_tokens=body.get("max_tokens", 16),
                        seed=body.get("seed")), str(body.get("user") or "")

    def _prompt(self, body: dict[str, Any], raw_ids: bytes | None,
                native: bool) -> tuple[str, list[int] | None, int]:
        """(prompt text, its ids when sent as a list, its length in tokens)."""
        key = "input_ids" if native else "prompt"
        prompt = body.get("text") if native and raw_ids is None else body.get(key)
        if raw_ids is not None:
            if self.config.simulation is not None:  # the timing model needs ids, not text
                ids = json.loads(b"[" + raw_ids + b"]")
                return "", ids, len(ids)
            text, n = self.prompts.decode_raw(raw_ids)
            return text, None, n
        if isinstance(prompt, list):  # non-integers make the decode raise TypeError: a 400
            return self.prompts.decode_ids(prompt), prompt, len(prompt)
        if isinstance(prompt, str) and prompt:
            if self.config.flavor == "sglang" or native or body.get("add_special_tokens", True):
                prompt = BOS + prompt  # the server's tokenizer adds a BOS
            return prompt, None, len(self.tokenizer.encode(prompt))
        raise _BadRequest("prompt must be a non-empty string or list of token ids")

    def _check_length(self, n_prompt: int, max_tokens: int) -> None:
        if n_prompt == 0:
            raise _BadRequest("Prompt cannot be empty")
        limit, total = self.config.max_model_len, n_prompt + max_tokens
        too_long = total >= limit if self.config.flavor == "sglang" else total > limit
        if too_long:
            raise _BadRequest(f"This model's maximum context length is {limit} tokens. However, "
                              f"you requested {total} tokens ({n_prompt} in the prompt, "
                              f"{max_tokens} for the completion).")

    async def _simulate(self, sim: FleetSimulation, raw_ids: bytes | None,
                        ids: list[int] | None, tag: str) -> tuple[Answer, int]:
        """Prefill the uncached tokens (one request at a time), then decode."""
        if ids is None:
            ids = json.loads(b"[" + (raw_ids or b"") + b"]")
        assert self.cache is not None and self._prefill is not None
        cached = self.cache.match_and_insert(ids)
        self.stats["prompt_tokens"] += len(ids)
        self.stats["cached_tokens"] += cached
        async with self._prefill:
            await asyncio.sleep((len(ids) - cached) * sim.prefill_s_per_token)
        await asyncio.sleep(sim.completion_tokens * sim.decode_s_per_token)
        return synthetic_answer(tag, len(ids), sim.completion_tokens, self.tokenizer), cached

    def _render(self, answer: Answer, body: dict[str, Any], raw_ids: bytes | None,
                ids: list[int] | None, n_prompt: int, native: bool,
                cached: int | None) -> web.Response:
        if native:
            payload = generate_body(answer, request_id=str(body.get("rid") or "mock"),
                                    prompt_tokens=n_prompt, cached_tokens=cached)
        else:
            with_ids = bool(body.get("return_token_ids")) and self.config.returns_token_ids
            echo = None
            if with_ids and self.config.echo_prompt_ids:
                echo = raw_ids if raw_ids is not None else json.dumps(
                    ids if ids is not None else self.tokenizer.encode(
                        self._echo_text(body)), separators=(",", ":"))[1:-1].encode()
            payload = completions_body(answer, flavor=self.config.flavor,
                                       model=self.config.model_name,
                                       request_no=self.stats["requests"],
                                       prompt_tokens=n_prompt, with_ids=with_ids, echo=echo,
                                       cached_tokens=cached)
        return web.Response(body=payload, content_type="application/json")

    def _echo_text(self, body: dict[str, Any]) -> str:
        text = str(body.get("prompt") or "")
        if self.config.flavor == "sglang" or body.get("add_special_tokens", True):
            text = BOS + text
        return text


def run_mock_server(config: MockServerConfig | None = None, host: str = "127.0.0.1",
                    port: int = 8000) -> None:
    """Serve until SIGINT/SIGTERM (the CLI's `serve-mock`)."""
    from synth.policy.mock_process import run_mock_servers

    run_mock_servers(config or MockServerConfig(), host, port, count=1)


if __name__ == "__main__":
    from synth.policy.mock_process import main

    main()
