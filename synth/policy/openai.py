"""A client for OpenAI-compatible `/v1/completions` servers (vLLM, SGLang) serving DeepSeek-V3.2.

V3.2 ships no server-side chat template, so we send our own rendered prompt (token ids by
default) to the raw completions endpoint and ask the server to keep special tokens, so the
text we get back is exactly what the model wrote, DSML and EOS included.

Built on aiohttp, not httpx: at 256-1,024 requests in flight httpx's pool costs 23-37 ms of CPU
per call, aiohttp about 0.25 ms. Requests go to the endpoint with the fewest outstanding
requests (ties round-robin), each endpoint has its own concurrency cap, and 429 / 5xx /
connection errors / timeouts are retried with full-jitter exponential backoff. Failures after
retries become error completions (`Policy.complete` never raises). The API key is read from an
environment variable and never logged, repr'd or put into an error.

Per-server extras (`SERVER_EXTRAS`, checked against the servers' request models):
- vllm: skip_special_tokens=false and include_stop_str_in_output=true (DSML and the EOS the
  model wrote stay in the text), return_token_ids=true (choice.token_ids; servers without it
  ignore the field); text prompts also add_special_tokens=false (our prompt has its BOS).
- sglang: skip_special_tokens=false, no_stop_trim=true, return_token_ids=true (same ends).
- generic: nothing beyond the OpenAI fields.
EOS: a "stop" whose text lacks EOS (the server stripped it) is kept as returned and marked
`extra["eos_stripped"]`; ids ending in EOS are then trimmed to match (`eos_id_dropped`), so
text and ids agree and the renderer appends EOS to both.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import random
import re
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import aiohttp
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from synth.policy.base import (
    FINISH_LENGTH,
    FINISH_STOP,
    Completion,
    Policy,
    Prompt,
    Sampling,
)
from synth.template import EOS, EOS_ID

logger = logging.getLogger(__name__)


ServerKind = Literal["vllm", "sglang", "generic"]

SERVER_EXTRAS: dict[str, dict[str, Any]] = {
    "vllm": {"skip_special_tokens": False, "include_stop_str_in_output": True,
             "return_token_ids": True},
    "sglang": {"skip_special_tokens": False, "no_stop_trim": True, "return_token_ids": True},
    "generic": {},
}
TEXT_PROMPT_EXTRAS: dict[str, dict[str, Any]] = {"vllm": {"add_special_tokens": False}}
_RESERVED_BODY_KEYS = frozenset({"prompt", "model", "stream", "n", "user"})
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class OpenAIPolicyConfig(BaseModel):
    """Where the model is served and how to talk to it (validated: bad values raise ValueError)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_urls: list[str] = Field(min_length=1, description="http(s) URLs, with or without /v1")
    model: str = Field("deepseek-ai/DeepSeek-V3.2", min_length=1)
    api_key_env: str | None = Field(None, description="name of the variable holding the key")
    server: ServerKind = "vllm"
    send: Literal["token_ids", "text"] = "token_ids"
    max_concurrency_per_endpoint: int = Field(256, ge=1)
    request_timeout_s: float = Field(600.0, gt=0)
    connect_timeout_s: float = Field(10.0, gt=0)
    max_retries: int = Field(5, ge=0)
    backoff_base_s: float = Field(0.5, ge=0)
    backoff_max_s: float = Field(30.0, ge=0)
    cooldown_failures: int = Field(3, ge=1, description="consecutive failures before cool-down")
    cooldown_s: float = Field(5.0, ge=0)
    extra_body: dict[str, Any] = Field(default_factory=dict)
    tokenizer: str | None = Field(None, description="tokenizer source for text-only prompts")

    @field_validator("base_urls")
    @classmethod
    def _urls(cls, urls: list[str]) -> list[str]:
        out = []
        for url in urls:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"{url!r} is not an http(s) URL")
            out.append(completions_url(url))
        if len(set(out)) != len(out):
            raise ValueError("base_urls has duplicates")
        return urls

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, name: str | None) -> str | None:
        if name is not None and not _ENV_NAME.match(name):
            raise ValueError("api_key_env must be the name of an environment variable")
        return name

    @field_validator("extra_body")
    @classmethod
    def _extra(cls, body: dict[str, Any]) -> dict[str, Any]:
        clash = sorted(_RESERVED_BODY_KEYS & body.keys())
        if clash:
            raise ValueError(f"extra_body may not set {clash}")
        return body

    @model_validator(mode="after")
    def _backoff(self) -> OpenAIPolicyConfig:
        if self.backoff_max_s < self.backoff_base_s:
            raise ValueError("backoff_max_s must be >= backoff_base_s")
        return self


EndpointsConfig = OpenAIPolicyConfig


def completions_url(base_url: str) -> str:
    """`http://h:8000`, `http://h:8000/v1` and `.../v1/completions` all name one endpoint."""
    url = base_url.rstrip("/")
    if url.endswith("/completions"):
        return url
    if not url.endswith("/v1"):
        url += "/v1"
    return url + "/completions"


@functools.lru_cache(maxsize=4)
def cached_tokenizer(source: str | None = None) -> Any:
    """`load_tokenizer(source)` once per process (loading takes ~0.7 s)."""
    from synth.tokenizer import load_tokenizer

    return load_tokenizer(source)


@dataclass
class _Endpoint:
    url: str
    in_flight: int = 0
    failures: int = 0  # consecutive
    cooldown_until: float = 0.0
    requests: int = 0
    semaphore: asyncio.Semaphore | None = None


class _IdsJson:
    """JSON text of prompt ids, extending the text of the same trajectory's previous prompt.

    Serializing ids is most of a request's client CPU (~0.15 us per id), and a rollout's
    prompt mostly grows by appending, so only the new tail is serialized. The text is
    byte-identical to a fresh `json.dumps`, which also lets the mock server cache by bytes.
    """

    def __init__(self, max_tags: int = 2048) -> None:
        self.cache: OrderedDict[str, tuple[list[int], str]] = OrderedDict()
        self.max_tags = max_tags

    def dumps(self, tag: str, ids: Sequence[int]) -> str:
        ids = list(ids)  # a copy: the caller may extend its list in place later
        prev = self.cache.get(tag) if tag else None
        n = len(prev[0]) if prev is not None else 0
        if prev is not None and n and n <= len(ids) and ids[:n] == prev[0]:
            text = prev[1] + ("," + _inner_json(ids[n:]) if len(ids) > n else "")
        else:
            text = _inner_json(ids)
        if tag:
            self.cache[tag] = (ids, text)
            self.cache.move_to_end(tag)
            if len(self.cache) > self.max_tags:
                self.cache.popitem(last=False)
        return text


def _inner_json(ids: list[int]) -> str:
    return json.dumps(ids, separators=(",", ":"))[1:-1]


class _Secret:
    """Holds the API key; its repr (and so any dump of the client's state) is masked."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "'***'"

    __str__ = __repr__


class _AttemptError(Exception):
    """One attempt failed; `kind` is the recorded error kind. Only 4xx (not 429) is final."""

    def __init__(self, kind: str, retry: bool = True, retry_after: float | None = None) -> None:
        super().__init__(kind)
        self.kind, self.retry, self.retry_after = kind, retry, retry_after


class OpenAICompletionsClient(Policy):
    """`Policy` over one or more OpenAI-compatible completion endpoints."""

    def __init__(self, config: OpenAIPolicyConfig | dict[str, Any]) -> None:
        if not isinstance(config, OpenAIPolicyConfig):
            config = OpenAIPolicyConfig.model_validate(config)
        self.config = config
        self.model = config.model
        self.wants_token_ids = config.send == "token_ids"
        self._api_key: _Secret | None = None
        if config.api_key_env is not None:
            key = os.environ.get(config.api_key_env)
            if not key:
                raise ValueError(f"environment variable {config.api_key_env} is not set")
            self._api_key = _Secret(key)
        self.endpoints = [_Endpoint(completions_url(u)) for u in config.base_urls]
        self._rr = 0
        self._rng = random.Random()
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timeout = aiohttp.ClientTimeout(total=config.request_timeout_s,
                                              sock_connect=config.connect_timeout_s)
        self._extras = dict(SERVER_EXTRAS[config.server])
        # one cached prompt per trajectory in flight, or every request re-serializes its ids
        self._ids_json = _IdsJson(max_tags=max(2048, 2 * config.max_concurrency_per_endpoint
                                               * len(config.base_urls)))

    def __repr__(self) -> str:
        key = "***" if self._api_key else None
        urls = [e.url for e in self.endpoints]
        return f"OpenAICompletionsClient(model={self.model!r}, endpoints={urls}, api_key={key})"

    # -- connection state -------------------------------------------------------------------
    def _ensure_session(self) -> aiohttp.ClientSession:
        """One session per client, made inside the running loop (rebuilt if the loop changed)."""
        loop = asyncio.get_running_loop()
        if self._session is None or self._loop is not loop or self._session.closed:
            cap = self.config.max_concurrency_per_endpoint
            connector = aiohttp.TCPConnector(limit=0, limit_per_host=cap)
            headers = {"Content-Type": "application/json"}
            if self._api_key is not None:
                headers["Authorization"] = f"Bearer {self._api_key.value}"
            self._session = aiohttp.ClientSession(connector=connector, headers=headers,
                                                  timeout=self._timeout)
            self._loop = loop
            for endpoint in self.endpoints:
                endpoint.semaphore = asyncio.Semaphore(cap)
                endpoint.in_flight = 0
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    # -- balancing --------------------------------------------------------------------------
    def _pick(self, avoid: _Endpoint | None) -> _Endpoint:
        """Fewest outstanding requests among endpoints not cooling down; ties round-robin."""
        now = time.monotonic()
        ready = [e for e in self.endpoints if e.cooldown_until <= now] or self.endpoints
        if avoid is not None and len(ready) > 1:
            ready = [e for e in ready if e is not avoid]
        n = len(ready)
        start = self._rr % n
        self._rr += 1
        best = ready[start]
        for i in range(1, n):
            candidate = ready[(start + i) % n]
            if candidate.in_flight < best.in_flight:
                best = candidate
        return best

    def _record(self, endpoint: _Endpoint, ok: bool) -> None:
        if ok:
            endpoint.failures = 0
            return
        endpoint.failures += 1
        if endpoint.failures >= self.config.cooldown_failures:
            endpoint.cooldown_until = time.monotonic() + self.config.cooldown_s
            endpoint.failures = 0
            logger.warning("endpoint %s cooling down for %.1fs after repeated failures",
                           endpoint.url, self.config.cooldown_s)

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        cap = min(self.config.backoff_max_s, self.config.backoff_base_s * (2 ** attempt))
        delay = self._rng.uniform(0.0, cap)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.config.backoff_max_s))
        return delay

    # -- the request ------------------------------------------------------------------------
    def _payload(self, prompt: Prompt, sampling: Sampling) -> bytes:
        """The JSON body; token ids go last, as text reused from the trajectory's last prompt."""
        body: dict[str, Any] = {"model": self.model, "temperature": sampling.temperature,
                                "top_p": sampling.top_p, "max_tokens": sampling.max_tokens,
                                "n": 1, "stream": False, "user": prompt.tag}
        if sampling.seed is not None:
            body["seed"] = sampling.seed
        if self.config.send == "text":
            body["prompt"] = prompt.text
            body.update(TEXT_PROMPT_EXTRAS.get(self.config.server, {}))
        body.update(self._extras)
        body.update(self.config.extra_body)
        head = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
        if self.config.send == "text":
            return head.encode()
        ids = prompt.token_ids
        if ids is None:
            ids = cached_tokenizer(self.config.tokenizer).encode(prompt.text)
        return f'{head[:-1]},"prompt":[{self._ids_json.dumps(prompt.tag, ids)}]}}'.encode()

    async def complete(self, prompt: Prompt, sampling: Sampling) -> Completion:
        start = time.perf_counter()
        endpoint: _Endpoint | None = None
        attempts = 0
        try:
            session = self._ensure_session()
            payload = self._payload(prompt, sampling)
        except Exception as exc:  # a bad prompt or config: record it, never raise
            logger.warning("could not build a request: %s", type(exc).__name__)
            return Completion.failed(f"client_error:{type(exc).__name__}",
                                     attempts=0, latency_s=time.perf_counter() - start)
        kind = "unknown"
        while True:
            endpoint = self._pick(endpoint)
            attempts += 1
            try:
                completion = await self._attempt(session, endpoint, payload)
            except _AttemptError as exc:
                kind = exc.kind
                self._record(endpoint, ok=not exc.retry)  # a 4xx: the request is bad
                if not exc.retry or attempts > self.config.max_retries:
                    break
                delay = self._backoff(attempts - 1, exc.retry_after)
                logger.debug("attempt %d at %s failed (%s); retrying in %.3fs",
                             attempts, endpoint.url, kind, delay)
                await asyncio.sleep(delay)
                continue
            except Exception as exc:  # an unforeseen failure: recorded, never raised
                kind = f"client_error:{type(exc).__name__}"
                break
            self._record(endpoint, ok=True)
            completion.attempts = attempts
            completion.latency_s = time.perf_counter() - start
            completion.endpoint = endpoint.url
            return completion
        logger.warning("request %s failed after %d attempt(s): %s", prompt.tag, attempts, kind)
        return Completion.failed(kind, attempts=attempts, latency_s=time.perf_counter() - start,
                                 endpoint=endpoint.url if endpoint else None)

    async def _attempt(self, session: aiohttp.ClientSession, endpoint: _Endpoint,
                       payload: bytes) -> Completion:
        endpoint.in_flight += 1
        endpoint.requests += 1
        try:
            assert endpoint.semaphore is not None
            async with endpoint.semaphore:
                try:
                    async with session.post(endpoint.url, data=payload) as resp:
                        raw = await resp.read()
                        status = resp.status
                        retry_after = resp.headers.get("Retry-After")
                except (TimeoutError, aiohttp.ServerTimeoutError):
                    raise _AttemptError("timeout") from None
                except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError):
                    raise _AttemptError("connection") from None
        finally:
            endpoint.in_flight -= 1
        if status == 429:
            raise _AttemptError("http_429", retry_after=_seconds(retry_after))
        if status >= 500:
            raise _AttemptError(f"http_{status}")
        if status != 200:
            raise _AttemptError(f"http_{status}", retry=False)
        return _parse_response(raw)


def _seconds(value: str | None) -> float | None:
    """A numeric Retry-After header (dates are ignored)."""
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def _parse_response(raw: bytes) -> Completion:
    """An OpenAI completion body -> Completion (EOS handling documented on the module)."""
    try:
        data = json.loads(raw)
        choice = data["choices"][0]
        text, reason = choice["text"], choice.get("finish_reason")
        if not isinstance(text, str):
            raise TypeError("text")
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        raise _AttemptError("bad_response") from None
    if reason == "abort":  # SGLang aborts requests it had to drop (overload, restart)
        raise _AttemptError("aborted")
    if reason is None:
        raise _AttemptError("bad_response")
    ids = choice.get("token_ids")
    if ids is None:
        ids = choice.get("output_ids")
    if ids is not None and not (isinstance(ids, list) and all(isinstance(i, int) for i in ids)):
        ids = None
    usage = data.get("usage")
    usage = usage if isinstance(usage, dict) else {}
    extra: dict[str, object] = {}
    if reason == "length":
        finish = FINISH_LENGTH
    else:
        finish = FINISH_STOP
        if reason != "stop":
            extra["server_finish_reason"] = reason
        if not text.endswith(EOS):
            # The server stripped the stop token: keep the text as returned and say so; the
            # renderer appends EOS. Ids that still end in EOS are trimmed to match the text.
            extra["eos_stripped"] = True
            if ids and ids[-1] == EOS_ID:
                ids = ids[:-1]
                extra["eos_id_dropped"] = True
    for key in ("stop_reason", "matched_stop"):
        if choice.get(key) is not None:
            extra[key] = choice[key]
    completion_tokens = usage.get("completion_tokens")
    if not isinstance(completion_tokens, int):
        completion_tokens = len(ids) if ids is not None else 0
    prompt_tokens = usage.get("prompt_tokens")
    return Completion(text=text, finish_reason=finish, token_ids=ids,
                      prompt_tokens=prompt_tokens if isinstance(prompt_tokens, int) else 0,
                      completion_tokens=completion_tokens, extra=extra)
