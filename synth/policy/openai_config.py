"""How to reach the model servers: `OpenAIPolicyConfig` and the URLs of one endpoint.

`server` picks the wire protocol and the extra request fields (see `synth.policy.wire`):
- `vllm`: `/v1/completions` with vLLM's fields (token ids come back from vLLM >= 0.10.2);
- `sglang`: `/v1/completions` with SGLang's fields (token ids need a release that has
  `return_token_ids` on completions; older ones drop the field silently);
- `sglang-native`: SGLang's own `POST /generate` with `input_ids` (ids on every release);
- `generic`: plain OpenAI fields (no token ids, the canonical tokenization is used).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ServerKind = Literal["vllm", "sglang", "sglang-native", "generic"]
SGLANG_SERVERS = ("sglang", "sglang-native")
#: servers asked to return the ids they generated (vLLM and SGLang keep EOS in them)
SERVERS_RETURNING_IDS = ("vllm", "sglang", "sglang-native")

_RESERVED_BODY_KEYS = frozenset({"prompt", "model", "stream", "n", "user", "input_ids",
                                 "text", "sampling_params"})
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
    concurrency_scope: Literal["process", "fleet"] = Field(
        "process", description="fleet: the cap bounds every worker of the Ray job together "
        "(the driver starts the permit broker: synth.policy.permits.start_permit_broker)")
    routing: Literal["affinity", "least_outstanding"] = Field(
        "affinity", description="affinity: each trajectory keeps to one endpoint (its prefix "
        "stays in that server's KV cache); least_outstanding: fewest requests in flight")
    affinity_slack: float = Field(0.1, ge=0.0, le=4.0, description="an endpoint takes new "
                                  "trajectories while it has fewer than (1 + slack) x the mean")
    sglang_dp_size: int | None = Field(None, ge=1, description="SGLang --dp of every "
                                       "endpoint: pin each trajectory to one rank")
    request_timeout_s: float = Field(600.0, gt=0, description="queueing and prefill")
    min_decode_tokens_per_s: float | None = Field(
        10.0, gt=0, description="the timeout grows by max_tokens / this (a long decode is "
        "not a hang); None: request_timeout_s is the whole budget")
    connect_timeout_s: float = Field(10.0, gt=0)
    max_retries: int = Field(5, ge=0)
    max_timeout_retries: int = Field(1, ge=0, description="a request that timed out is "
                                     "retried at most this often (servers abort on disconnect)")
    backoff_base_s: float = Field(0.5, ge=0)
    backoff_max_s: float = Field(30.0, ge=0)
    cooldown_failures: int = Field(3, ge=1, description="consecutive failures before cool-down")
    cooldown_s: float = Field(5.0, ge=0)
    missing_token_ids: Literal["error", "retokenize"] = Field(
        "error", description="when the server returns no token ids although asked: fail the "
        "call (naming the server version needed) or use the canonical tokenization")
    extra_body: dict[str, Any] = Field(default_factory=dict)
    tokenizer: str | None = Field(None, description="tokenizer source (the default: V3.2's)")

    @field_validator("base_urls")
    @classmethod
    def _urls(cls, urls: list[str]) -> list[str]:
        roots = []
        for url in urls:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"{url!r} is not an http(s) URL")
            roots.append(endpoint_root(url))
        if len(set(roots)) != len(roots):
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
    def _consistent(self) -> OpenAIPolicyConfig:
        if self.backoff_max_s < self.backoff_base_s:
            raise ValueError("backoff_max_s must be >= backoff_base_s")
        if self.sglang_dp_size is not None and self.server not in SGLANG_SERVERS:
            raise ValueError("sglang_dp_size needs server: sglang or sglang-native")
        if self.server == "sglang-native" and self.send != "token_ids":
            raise ValueError("server sglang-native takes token ids: use send: token_ids")
        return self

    @property
    def expects_token_ids(self) -> bool:
        return self.server in SERVERS_RETURNING_IDS

    def request_timeout_for(self, max_tokens: int) -> float:
        """The whole budget of one request: queueing plus the slowest acceptable decode."""
        if self.min_decode_tokens_per_s is None:
            return self.request_timeout_s
        return self.request_timeout_s + max_tokens / self.min_decode_tokens_per_s


def endpoint_root(base_url: str) -> str:
    """`http://h:8000`, `.../v1`, `.../v1/completions` and `.../generate` all name one server."""
    url = base_url.rstrip("/")
    for suffix in ("/completions", "/generate"):
        if url.endswith(suffix):
            url = url[: -len(suffix)]
    return url.removesuffix("/v1")


def completions_url(base_url: str) -> str:
    return endpoint_root(base_url) + "/v1/completions"


def generate_url(base_url: str) -> str:
    """SGLang's native generation endpoint."""
    return endpoint_root(base_url) + "/generate"


def models_url(base_url: str) -> str:
    return endpoint_root(base_url) + "/v1/models"


def request_url(base_url: str, server: ServerKind) -> str:
    """Where a completion request for this kind of server goes."""
    return generate_url(base_url) if server == "sglang-native" else completions_url(base_url)
