"""A client for vLLM and SGLang servers serving DeepSeek-V3.2 (`/v1/completions` or `/generate`).

V3.2 ships no server-side chat template, so we send our own rendered prompt (token ids by
default) to the raw completion endpoint and ask the server to keep special tokens, so the
text we get back is exactly what the model wrote, DSML and EOS included (`synth.policy.wire`
lists the fields per server).

Built on aiohttp, not httpx: at 256-1,024 requests in flight httpx's pool costs 23-37 ms of CPU
per call, aiohttp about 0.25 ms. Each trajectory keeps to one endpoint while it can, so its
prefix stays cached there (`synth.policy.routing`); each endpoint has a concurrency cap, per
process or for the whole job (`synth.policy.permits`); 429 / 5xx / connection errors /
aborts / bad bodies are retried with full-jitter exponential backoff, a timeout at most
`max_timeout_retries` times (the timeout grows with max_tokens: a long decode is not a hang).
Failures after retries become error completions marked `infrastructure` (`Policy.complete`
never raises); model-caused endings (`length`, `repetition`, ...) are never retried. The API
key is read from an environment variable and never logged, repr'd or put into an error.

Finish reasons: only `stop` is the model ending its turn; `length` is truncation; `abort` and
`error` are server faults (retried); anything else is recorded as `finish_<reason>`. Served
token ids are checked against the vocabulary and the text (`synth.policy.token_ids`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from typing import Any

import aiohttp

from synth.policy.base import (
    FINISH_ERROR,
    FINISH_LENGTH,
    FINISH_STOP,
    Completion,
    Policy,
    Prompt,
    Sampling,
)
from synth.policy.openai_config import (
    OpenAIPolicyConfig,
    completions_url,
    endpoint_root,
    request_url,
)
from synth.policy.permits import FleetSlots, LocalSlots, PermitsUnavailable, find_permit_broker
from synth.policy.probe import fetch_models
from synth.policy.routing import Endpoint, Router, dp_rank_for
from synth.policy.token_ids import (
    IDS_MISSING,
    TextLostSpecialTokens,
    cached_tokenizer,
    check_served_ids,
)
from synth.policy.wire import (
    SERVER_EXTRAS,
    AttemptError,
    RequestBuilder,
    ServedCompletion,
    model_finish_kind,
    parse_completions,
    parse_generate,
)
from synth.template import EOS

__all__ = ["SERVER_EXTRAS", "OpenAICompletionsClient", "OpenAIPolicyConfig", "cached_tokenizer",
           "completions_url"]

logger = logging.getLogger(__name__)

RETRIED_FINISHES = {"abort": "aborted", "error": "engine_error"}
MISSING_IDS_HELP = {
    "vllm": "vLLM returns them from 0.10.2 on (return_token_ids)",
    "sglang": "this SGLang release ignores return_token_ids on /v1/completions: use "
              "server: sglang-native (any release) or a release that has the field",
    "sglang-native": "SGLang's /generate always returns output_ids: is this SGLang?",
}


class _Secret:
    """Holds the API key; its repr (and so any dump of the client's state) is masked."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "'***'"

    __str__ = __repr__


class OpenAICompletionsClient(Policy):
    """`Policy` over one or more vLLM / SGLang endpoints.

    `permits`: a `PermitBroker` handle for `concurrency_scope: fleet` (found by name when
    omitted)."""

    def __init__(self, config: OpenAIPolicyConfig | dict[str, Any], *,
                 permits: Any = None) -> None:
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
        self.endpoints = [Endpoint(request_url(u, config.server), endpoint_root(u))
                          for u in config.base_urls]
        self.router = Router(self.endpoints, affinity=config.routing == "affinity",
                             slack=config.affinity_slack)
        self.requests = RequestBuilder(config)
        self._broker = permits
        self._slots: LocalSlots | FleetSlots | None = None
        self._rng = random.Random()
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._parse = parse_generate if config.server == "sglang-native" else parse_completions
        self._warned_missing_ids = False

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
            timeout = aiohttp.ClientTimeout(total=self.config.request_timeout_s,
                                            sock_connect=self.config.connect_timeout_s)
            self._session = aiohttp.ClientSession(connector=connector, headers=headers,
                                                  timeout=timeout)
            self._loop = loop
            self._slots = None
            for endpoint in self.endpoints:
                endpoint.in_flight = 0
        return self._session

    def _ensure_slots(self) -> LocalSlots | FleetSlots:
        if self._slots is None:
            if self.config.concurrency_scope == "fleet":
                if self._broker is None:
                    self._broker = find_permit_broker(self.config)
                self._slots = FleetSlots(self._broker)
            else:
                self._slots = LocalSlots([e.url for e in self.endpoints],
                                         self.config.max_concurrency_per_endpoint)
        return self._slots

    async def close(self) -> None:
        if self._slots is not None:
            await self._slots.close()
            self._slots = None
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    # -- outages ----------------------------------------------------------------------------
    async def wait_for_endpoints(self, timeout_s: float, interval_s: float = 1.0) -> bool:
        """Probe every endpoint (`GET /v1/models`) until one answers or `timeout_s` passes.
        Endpoints that answer leave their cool-down. True when at least one is up."""
        session = self._ensure_session()
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            probe_s = max(0.05, min(self.config.connect_timeout_s, left, 10.0))
            up = await asyncio.gather(*(self._answers(session, e, probe_s)
                                        for e in self.endpoints))
            for endpoint, ok in zip(self.endpoints, up, strict=True):
                if ok:
                    endpoint.cooldown_until, endpoint.failures = 0.0, 0
            if any(up):
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            await asyncio.sleep(min(interval_s, left))

    @staticmethod
    async def _answers(session: aiohttp.ClientSession, endpoint: Endpoint,
                       timeout_s: float) -> bool:
        try:
            await fetch_models(session, endpoint.root, timeout_s)
            return True
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return False

    # -- health -----------------------------------------------------------------------------
    def _record(self, endpoint: Endpoint, ok: bool) -> None:
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
    async def complete(self, prompt: Prompt, sampling: Sampling) -> Completion:
        start = time.perf_counter()
        try:
            session = self._ensure_session()
            slots = self._ensure_slots()
            dp = self.config.sglang_dp_size
            payload = self.requests.body(prompt, sampling,
                                         dp_rank_for(prompt.tag, dp) if dp else None)
        except PermitsUnavailable as exc:
            logger.error("%s", exc)
            return Completion.failed("permits_unavailable", attempts=0,
                                     latency_s=time.perf_counter() - start)
        except Exception as exc:  # a bad prompt or config: record it, never raise
            logger.warning("could not build a request: %s", type(exc).__name__)
            return Completion.failed(f"client_error:{type(exc).__name__}",
                                     attempts=0, latency_s=time.perf_counter() - start)
        total_s = self.config.request_timeout_for(sampling.max_tokens)
        timeout = aiohttp.ClientTimeout(total=total_s, sock_connect=self.config.connect_timeout_s)
        try:
            return await self._with_retries(prompt, session, slots, payload, timeout, start)
        finally:
            self.router.leave(prompt.tag)

    async def _with_retries(self, prompt: Prompt, session: aiohttp.ClientSession,
                            slots: LocalSlots | FleetSlots, payload: bytes,
                            timeout: aiohttp.ClientTimeout, start: float) -> Completion:
        endpoint: Endpoint | None = None
        attempts, timeouts, kind = 0, 0, "unknown"
        while True:
            endpoint = self.router.pick(prompt.tag, avoid=endpoint)
            attempts += 1
            try:
                completion = await self._attempt(session, slots, endpoint, payload, timeout)
            except AttemptError as exc:
                kind = exc.kind
                timeouts += kind == "timeout"
                self._record(endpoint, ok=not exc.retry)  # a 4xx: the request is bad
                if not exc.retry or attempts > self.config.max_retries or \
                        timeouts > self.config.max_timeout_retries:
                    break
                delay = self._backoff(attempts - 1, exc.retry_after)
                logger.debug("attempt %d at %s failed (%s); retrying in %.3fs",
                             attempts, endpoint.url, kind, delay)
                await asyncio.sleep(delay)
                payload = self.requests.for_retry(payload)
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

    async def _attempt(self, session: aiohttp.ClientSession, slots: LocalSlots | FleetSlots,
                       endpoint: Endpoint, payload: bytes,
                       timeout: aiohttp.ClientTimeout) -> Completion:
        endpoint.in_flight += 1
        endpoint.requests += 1
        try:
            try:
                await slots.acquire(endpoint.url)
            except PermitsUnavailable:
                raise AttemptError("permits_unavailable") from None
            try:
                async with session.post(endpoint.url, data=payload, timeout=timeout) as resp:
                    raw = await resp.read()
                    status = resp.status
                    retry_after = resp.headers.get("Retry-After")
            except (TimeoutError, aiohttp.ServerTimeoutError):
                raise AttemptError("timeout") from None
            except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError):
                raise AttemptError("connection") from None
            finally:
                slots.release(endpoint.url)
        finally:
            endpoint.in_flight -= 1
        if status == 429:
            raise AttemptError("http_429", retry_after=_seconds(retry_after))
        if status >= 500:
            raise AttemptError(f"http_{status}")
        if status != 200:
            logger.warning("%s answered HTTP %d: %s", endpoint.url, status,
                           raw[:300].decode("utf-8", "replace"))
            raise AttemptError(f"http_{status}", retry=False)
        return self._completion(self._parse(raw), endpoint)

    def _completion(self, served: ServedCompletion, endpoint: Endpoint) -> Completion:
        """Finish reason and ids checked (module docstring); AttemptError for server faults."""
        reason = served.finish
        if not isinstance(reason, str):
            raise AttemptError("bad_response")
        if reason in RETRIED_FINISHES:
            raise AttemptError(RETRIED_FINISHES[reason])
        extra: dict[str, object] = {}
        if served.stop is not None:
            extra["stop_reason"] = served.stop
        if served.cached_tokens is not None:
            extra["cached_tokens"] = served.cached_tokens
        ids = None
        retokenized = None
        if served.ids is not None:
            try:
                checked = check_served_ids(served.text, served.ids,
                                           cached_tokenizer(self.config.tokenizer))
            except TextLostSpecialTokens:
                raise AttemptError("text_ids_mismatch") from None
            ids, retokenized = checked.ids, checked.retokenized
            if checked.eos_id_dropped:
                extra["eos_id_dropped"] = True
        elif self.config.expects_token_ids:
            ids, retokenized = self._missing_ids(served.text, endpoint)
        if retokenized and retokenized != IDS_MISSING:
            logger.warning("%s: served token ids replaced (%s)", endpoint.url, retokenized)
        if reason == "stop":
            finish, error = FINISH_STOP, None
            if not served.text.endswith(EOS):
                extra["eos_stripped"] = True  # the renderer appends EOS to text and ids
        elif reason == "length":
            finish, error = FINISH_LENGTH, None
        else:  # repetition, content_filter, anything new: the model's ending, recorded
            finish, error = FINISH_ERROR, model_finish_kind(reason)
        completion_tokens = served.completion_tokens
        if completion_tokens is None:
            completion_tokens = len(ids) if ids is not None else 0
        return Completion(text=served.text, finish_reason=finish, token_ids=ids, error=error,
                          prompt_tokens=served.prompt_tokens or 0,
                          completion_tokens=completion_tokens, retokenized=retokenized,
                          extra=extra)

    def _missing_ids(self, text: str, endpoint: Endpoint) -> tuple[list[int] | None, str | None]:
        """Ids were asked for and not returned: fail, or re-tokenize (`missing_token_ids`)."""
        help_text = MISSING_IDS_HELP[self.config.server]
        if self.config.missing_token_ids == "error":
            if not self._warned_missing_ids:
                self._warned_missing_ids = True
                logger.error("%s returned no token ids: %s; or set missing_token_ids: "
                             "retokenize to use the canonical tokenization", endpoint.url,
                             help_text)
            raise AttemptError("token_ids_missing", retry=False)
        if not self._warned_missing_ids:
            self._warned_missing_ids = True
            logger.warning("%s returned no token ids (%s): using the canonical tokenization",
                           endpoint.url, help_text)
        return cached_tokenizer(self.config.tokenizer).encode(text), IDS_MISSING


def _seconds(value: str | None) -> float | None:
    """A numeric Retry-After header (dates are ignored)."""
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None
