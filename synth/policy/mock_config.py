"""How the mock server behaves: which server it imitates, its faults and its timing model."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from synth.policy.scripted import ScriptedConfig

FAULT_KINDS = ("http_500", "http_429", "hang", "truncate", "garbage", "abort", "repetition",
               "engine_error", "invalid_ids", "wrong_ids", "text_drops_specials")


class FaultRates(BaseModel):
    """Per-request probabilities of each injected fault (their sum must be <= 1)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    http_500: float = Field(0.0, ge=0, le=1)
    http_429: float = Field(0.0, ge=0, le=1)
    hang: float = Field(0.0, ge=0, le=1, description="sleep far past any client timeout")
    truncate: float = Field(0.0, ge=0, le=1, description="cut the text, finish 'length'")
    garbage: float = Field(0.0, ge=0, le=1, description="random non-DSML text, finish 'stop'")
    abort: float = Field(0.0, ge=0, le=1, description="finish 'abort', no text (SGLang "
                         "drops requests it cannot keep)")
    repetition: float = Field(0.0, ge=0, le=1, description="finish 'repetition' (vLLM's "
                              "repetition detection)")
    engine_error: float = Field(0.0, ge=0, le=1, description="finish 'error' (vLLM)")
    invalid_ids: float = Field(0.0, ge=0, le=1, description="correct text, token ids "
                               "outside the vocabulary")
    wrong_ids: float = Field(0.0, ge=0, le=1, description="correct text, in-vocabulary ids "
                             "of other text")
    text_drops_specials: float = Field(0.0, ge=0, le=1, description="text decoded without "
                                       "special tokens, ids keep them (older SGLang batches)")

    @model_validator(mode="after")
    def _total(self) -> FaultRates:
        if sum(getattr(self, k) for k in FAULT_KINDS) > 1.0 + 1e-9:
            raise ValueError("fault rates sum to more than 1")
        return self


class FleetSimulation(BaseModel):
    """A server with a prefix cache instead of the scripted model (`synth bench fleet`).

    Each request's prompt is matched against an LRU cache of token blocks; the uncached
    tokens are prefilled one request at a time (prefill is compute-bound), then the answer
    decodes for `completion_tokens x decode_s_per_token` alongside the others (decode is
    batched). The answer is `completion_tokens` pseudo-random ids plus EOS."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prefill_s_per_token: float = Field(2e-4, ge=0)
    decode_s_per_token: float = Field(1e-2, ge=0)
    completion_tokens: int = Field(48, ge=1)
    cache_tokens: int = Field(262144, ge=16, description="KV cache capacity in tokens")
    block_tokens: int = Field(16, ge=1)


class MockServerConfig(BaseModel):
    """How the mock server behaves."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scripted: ScriptedConfig = ScriptedConfig()
    served_model: str | None = Field(None, description="name in /v1/models; scripted.model")
    check_model: bool = Field(False, description="404 when the request names another model")
    flavor: Literal["vllm", "sglang"] = Field("vllm", description="which server's answers and "
                                             "error bodies to imitate")
    max_model_len: int = Field(163840, ge=16, description="400 for longer requests (vLLM: "
                               "prompt + max_tokens above it, SGLang: reaching it)")
    max_running: int | None = Field(None, ge=1, description="503 for requests beyond this "
                                    "many in flight (a full queue)")
    returns_token_ids: bool = Field(True, description="False: ignore return_token_ids, like "
                                    "SGLang releases before the field")
    echo_prompt_ids: bool = Field(True, description="with return_token_ids, echo the prompt's "
                                  "ids (prompt_token_ids) as vLLM and SGLang do")
    strip_eos: bool = Field(False, description="drop EOS from the text (token ids keep it, "
                            "as on both servers)")
    latency_s: float = Field(0.0, ge=0, description="mean latency")
    latency_jitter_s: float = Field(0.0, ge=0, description="half-width (uniform) or std")
    latency_distribution: Literal["fixed", "uniform", "lognormal"] = "fixed"
    faults: FaultRates = FaultRates()
    seed: int = Field(0, description="seeds the fault and latency draws")
    hang_s: float = Field(3600.0, gt=0)
    api_key_env: str | None = Field(None, description="require 'Bearer $VAR' when set")
    tokenizer: str | None = Field(None, description="tokenizer source; None = the default")
    simulation: FleetSimulation | None = Field(None, description="prefix-cache timing model "
                                               "instead of the scripted model")

    @property
    def model_name(self) -> str:
        return self.served_model or self.scripted.model
