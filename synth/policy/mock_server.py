"""A mock OpenAI `/v1/completions` server backed by the scripted model, with fault injection.

It lets the HTTP client, retries, balancing and the whole pipeline run over real sockets with
no GPU: prompts arrive as token ids (decoded with the V3.2 tokenizer) or text, the trajectory
id arrives in `user`, and answers come back shaped like vLLM's. Latency is drawn from a
distribution and faults (500, 429, hangs, truncation, garbage) from a seeded RNG, so client
robustness can be tested and benchmarked. Per-request CPU is kept low (the benchmark drives one
process at ~512 requests/s): prompt ids are cut from the raw request bytes into cached pieces,
so a growing conversation only parses and decodes (in Rust) its new tail.

Run it: `python -m synth.policy.mock_server --port 8000 --config-json '{...}'` (prints
`mock server listening on URL` once ready), `MockServer(config)` in-process for tests, or
`MockServerProcess(config)` to spawn it as a separate process (benchmarks).
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import json
import math
import os
import random
import re
import select
import signal
import subprocess
import sys
import time
from collections import Counter, OrderedDict
from pathlib import Path
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, model_validator

from synth.infra.gc_tuning import rollout_gc
from synth.policy.base import FINISH_LENGTH, Prompt, Sampling
from synth.policy.openai import cached_tokenizer
from synth.policy.scripted import ScriptedConfig, ScriptedModel
from synth.template import EOS

FAULT_KINDS = ("http_500", "http_429", "hang", "truncate", "garbage")
CHUNK = 2048  # bytes of the JSON id array per cached piece (~350 ids)
_GARBAGE_WORDS = ("lorem", "ipsum", "{", "}", "<tool>", "call(", ")", "null", "0x7f", "::",
                  "function", "result", "\n", "##", "invoke", "</", ">", "答案", "ÿ", "...")


class FaultRates(BaseModel):
    """Per-request probabilities of each injected fault (their sum must be <= 1)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    http_500: float = Field(0.0, ge=0, le=1)
    http_429: float = Field(0.0, ge=0, le=1)
    hang: float = Field(0.0, ge=0, le=1, description="sleep far past any client timeout")
    truncate: float = Field(0.0, ge=0, le=1, description="cut the text, finish 'length'")
    garbage: float = Field(0.0, ge=0, le=1, description="random non-DSML text, finish 'stop'")

    @model_validator(mode="after")
    def _total(self) -> FaultRates:
        if sum(getattr(self, k) for k in FAULT_KINDS) > 1.0 + 1e-9:
            raise ValueError("fault rates sum to more than 1")
        return self


class MockServerConfig(BaseModel):
    """How the mock server behaves."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scripted: ScriptedConfig = ScriptedConfig()
    served_model: str | None = Field(None, description="name in /v1/models; scripted.model")
    check_model: bool = Field(False, description="404 when the request names another model")
    latency_s: float = Field(0.0, ge=0, description="mean latency")
    latency_jitter_s: float = Field(0.0, ge=0, description="half-width (uniform) or std")
    latency_distribution: Literal["fixed", "uniform", "lognormal"] = "fixed"
    faults: FaultRates = FaultRates()
    seed: int = Field(0, description="seeds the fault and latency draws")
    hang_s: float = Field(3600.0, gt=0)
    strip_eos: bool = Field(False, description="drop the EOS from the text, like servers do")
    strip_eos_ids: bool = Field(True, description="with strip_eos, drop it from token_ids too "
                                "(SGLang); False keeps it there (vLLM)")
    api_key_env: str | None = Field(None, description="require 'Bearer $VAR' when set")
    tokenizer: str | None = Field(None, description="tokenizer source; None = the default")

    @property
    def model_name(self) -> str:
        return self.served_model or self.scripted.model


class _PromptCache:
    """Prompt ids -> text without parsing or decoding what was seen before.

    The id array is cut, straight from the request bytes, at the first comma after every
    CHUNK bytes; each piece's text is cached by its bytes. A growing conversation re-sends
    its earlier ids byte for byte, so only its new tail is parsed and decoded (Rust decode).
    A cut inside a UTF-8 character shows as U+FFFD at a seam and falls back to one decode.
    """

    def __init__(self, tokenizer: Any, max_pieces: int = 32768) -> None:
        self.hf = tokenizer.hf
        self.cache: OrderedDict[bytes, tuple[str, int]] = OrderedDict()
        self.max_pieces = max_pieces

    def decode_ids(self, ids: list[int]) -> str:
        return self.hf.decode(ids, skip_special_tokens=False)

    def decode_raw(self, arr: bytes) -> tuple[str, int]:
        """(text, number of ids) of the JSON array body `arr` (the bytes between [ and ])."""
        parts: list[str] = []
        count, pos, n = 0, 0, len(arr)
        while pos < n:
            cut = arr.find(b",", pos + CHUNK) if pos + CHUNK < n else -1
            piece = arr[pos:cut] if cut >= 0 else arr[pos:]
            pos = cut + 1 if cut >= 0 else n
            hit = self.cache.get(piece) if cut >= 0 else None
            if hit is None:
                ids = json.loads(b"[" + piece + b"]")  # non-integers: the decode raises
                hit = (self.decode_ids(ids), len(ids))
                if cut >= 0:
                    self.cache[piece] = hit
                    if len(self.cache) > self.max_pieces:
                        self.cache.popitem(last=False)
            parts.append(hit[0])
            count += hit[1]
        if len(parts) > 1 and any(p.startswith("\ufffd") or p.endswith("\ufffd") for p in parts):
            ids = json.loads(b"[" + arr + b"]")
            return self.decode_ids(ids), len(ids)
        return "".join(parts), count


_PROMPT_IDS = re.compile(rb'"prompt"\s*:\s*\[')


def _split_body(raw: bytes) -> tuple[Any, bytes | None]:
    """(the JSON body, with the prompt's id array cut out as raw bytes when it is one)."""
    match = _PROMPT_IDS.search(raw)
    if match is not None:
        end = raw.find(b"]", match.end())
        if end > 0:
            try:
                rest = json.loads(raw[:match.end()] + raw[end:])
            except ValueError:
                rest = None
            if isinstance(rest, dict) and rest.get("prompt") == []:
                return rest, raw[match.end():end]
    return json.loads(raw), None


def _error(status: int, message: str, kind: str) -> web.Response:
    body = {"object": "error", "message": message, "type": kind, "code": status}
    return web.Response(status=status, body=json.dumps({"error": body}),
                        content_type="application/json")


class MockServer:
    """The aiohttp app plus its state; `await start()` returns the base URL (no /v1)."""

    def __init__(self, config: MockServerConfig | None = None, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        self.config = config or MockServerConfig()
        self.host, self.port = host, port
        self.model = ScriptedModel(self.config.scripted)
        self.tokenizer = cached_tokenizer(self.config.tokenizer)
        self.eos_id = self.tokenizer.token_id(EOS)
        self.prompts = _PromptCache(self.tokenizer)
        self._rng = random.Random(self.config.seed)
        self._auth: str | None = None
        if self.config.api_key_env is not None:
            key = os.environ.get(self.config.api_key_env)
            if not key:
                raise ValueError(f"environment variable {self.config.api_key_env} is not set")
            self._auth = f"Bearer {key}"
        self.stats: Counter[str] = Counter()
        self.in_flight = 0
        self.max_in_flight = 0
        self._closing: asyncio.Event | None = None
        self._runner: web.AppRunner | None = None
        self.base_url: str | None = None

    def __repr__(self) -> str:
        return f"MockServer(base_url={self.base_url!r}, model={self.config.model_name!r})"

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/completions", self._completions)
        app.router.add_get("/v1/models", self._models)
        return app

    async def start(self) -> str:
        self._closing = asyncio.Event()
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

    # -- handlers ---------------------------------------------------------------------------
    async def _models(self, request: web.Request) -> web.Response:
        if self._auth is not None and not self._authorized(request):
            return _error(401, "invalid or missing API key", "authentication_error")
        card = {"id": self.config.model_name, "object": "model", "created": 0,
                "owned_by": "synth-mock", "root": self.config.model_name}
        return web.json_response({"object": "list", "data": [card]})

    def _authorized(self, request: web.Request) -> bool:
        given = request.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode(), (self._auth or "").encode())

    async def _completions(self, request: web.Request) -> web.Response:
        self.stats["requests"] += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            response = await self._complete(request)
        finally:
            self.in_flight -= 1
        self.stats[f"status_{response.status}"] += 1
        return response

    async def _complete(self, request: web.Request) -> web.Response:
        if self._auth is not None and not self._authorized(request):
            return _error(401, "invalid or missing API key", "authentication_error")
        try:
            body, prompt_ids = _split_body(await request.read())
        except ValueError:
            return _error(400, "body is not JSON", "invalid_request_error")
        if not isinstance(body, dict):
            return _error(400, "body is not a JSON object", "invalid_request_error")
        if self.config.check_model and body.get("model") != self.config.model_name:
            return _error(404, "the model does not exist", "not_found_error")
        fault = self._draw_fault()
        delay = self._draw_latency()
        if fault is not None:
            self.stats[fault] += 1
        if fault == "hang":
            assert self._closing is not None
            try:
                await asyncio.wait_for(self._closing.wait(), self.config.hang_s)
                return _error(503, "shutting down", "server_error")
            except TimeoutError:
                pass
        if delay > 0:
            await asyncio.sleep(delay)
        if fault == "http_500":
            return _error(500, "injected internal error", "server_error")
        if fault == "http_429":
            return _error(429, "injected rate limit", "rate_limit_error")
        try:
            return self._answer(body, prompt_ids, fault)
        except (ValueError, TypeError, OverflowError) as exc:
            return _error(400, f"bad request: {type(exc).__name__}", "invalid_request_error")

    def _answer(self, body: dict[str, Any], prompt_ids: bytes | None,
                fault: str | None) -> web.Response:
        prompt = body.get("prompt")
        if prompt_ids is not None:
            text, prompt_tokens = self.prompts.decode_raw(prompt_ids)
        elif isinstance(prompt, list):  # non-integers make the decode raise TypeError: a 400
            text, prompt_tokens = self.prompts.decode_ids(prompt), len(prompt)
        elif isinstance(prompt, str):
            text, prompt_tokens = prompt, -1
        else:
            raise ValueError("prompt must be a string or a list of token ids")
        if not text or not prompt_tokens:
            raise ValueError("empty prompt")
        sampling = Sampling(temperature=body.get("temperature", 1.0),
                            top_p=body.get("top_p", 1.0), max_tokens=body.get("max_tokens", 16),
                            seed=body.get("seed"))
        tag = body.get("user") or ""
        completion = self.model.complete_now(Prompt(text, None, str(tag)), sampling)
        out, finish = completion.text, completion.finish_reason
        if fault == "truncate":
            cut = self._rng.randint(max(1, len(out) // 4), max(1, 3 * len(out) // 4))
            out, finish = out[:cut], FINISH_LENGTH
        elif fault == "garbage":
            n = self._rng.randint(5, 60)
            out, finish = " ".join(self._rng.choice(_GARBAGE_WORDS) for _ in range(n)) + EOS, "stop"
        keep_id = False
        if self.config.strip_eos and out.endswith(EOS):
            out = out[: -len(EOS)]
            keep_id = not self.config.strip_eos_ids
        choice: dict[str, Any] = {"index": 0, "text": out, "logprobs": None,
                                  "finish_reason": finish, "stop_reason": None}
        if body.get("return_token_ids"):
            out_ids = self.tokenizer.encode(out) + ([self.eos_id] if keep_id else [])
            choice["token_ids"] = out_ids
            completion_tokens = len(out_ids)
        else:
            completion_tokens = completion.completion_tokens
        if prompt_tokens < 0:
            prompt_tokens = len(self.tokenizer.encode(text))
        data = {"id": f"cmpl-{self.stats['requests']}", "object": "text_completion",
                "created": int(time.time()), "model": self.config.model_name,
                "choices": [choice],
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                          "total_tokens": prompt_tokens + completion_tokens}}
        return web.Response(body=json.dumps(data, ensure_ascii=False).encode(),
                            content_type="application/json")


# -- running it -------------------------------------------------------------------------------
async def _serve(config: MockServerConfig, host: str, port: int) -> None:
    server = MockServer(config, host, port)
    url = await server.start()
    print(f"mock server listening on {url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await server.stop()


def run_mock_server(config: MockServerConfig | None = None, host: str = "127.0.0.1",
                    port: int = 8000) -> None:
    """Serve until SIGINT/SIGTERM (the CLI's `serve-mock`). Like a rollout worker, the server
    holds a thousand requests at once: collector pauses would stall them all."""
    with rollout_gc():
        asyncio.run(_serve(config or MockServerConfig(), host, port))


class MockServerProcess:
    """The mock server in a separate process (so its CPU is not the client's); `start() -> URL`."""

    def __init__(self, config: MockServerConfig | None = None, host: str = "127.0.0.1",
                 port: int = 0, startup_timeout_s: float = 60.0) -> None:
        self.config = config or MockServerConfig()
        self.host, self.port = host, port
        self.startup_timeout_s = startup_timeout_s
        self.proc: subprocess.Popen[str] | None = None
        self.base_url: str | None = None

    def start(self) -> str:
        root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        cmd = [sys.executable, "-m", "synth.policy.mock_server", "--host", self.host,
               "--port", str(self.port), "--config-json", self.config.model_dump_json()]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
        assert self.proc.stdout is not None
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if ready:
                line = self.proc.stdout.readline()
                if line.startswith("mock server listening on "):
                    self.base_url = line.split()[-1]
                    return self.base_url
            if self.proc.poll() is not None:
                break
        self.stop()
        raise RuntimeError("the mock server process did not start")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.proc = None

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--config-json", help="MockServerConfig as JSON")
    group.add_argument("--config", type=Path, help="MockServerConfig as a JSON/YAML file")
    args = parser.parse_args(argv)
    data: Any = {}
    if args.config_json:
        data = json.loads(args.config_json)
    elif args.config:
        import yaml

        data = yaml.safe_load(args.config.read_text()) or {}
    run_mock_server(MockServerConfig.model_validate(data), args.host, args.port)


if __name__ == "__main__":
    main()
