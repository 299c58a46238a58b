"""Request bodies and response bodies of vLLM, SGLang and SGLang's native `/generate`.

Fields checked against the servers' request models (vLLM `CompletionRequest`, SGLang
`CompletionRequest` and `GenerateReqInput`):
- vllm: `skip_special_tokens=false`, `spaces_between_special_tokens=false` and
  `include_stop_str_in_output=true` (DSML and the EOS the model wrote stay in the text,
  byte for byte), `return_token_ids=true` (`choice.token_ids`, >= 0.10.2); text prompts also
  `add_special_tokens=false` (our prompt has its BOS).
- sglang: `skip_special_tokens=false`, `no_stop_trim=true`, `return_token_ids=true`; a text
  prompt loses its BOS (SGLang's completions endpoint adds one and has no switch for it).
- sglang-native: `{"rid", "input_ids", "sampling_params": {max_new_tokens, temperature,
  top_p, skip_special_tokens: false, no_stop_trim: true}}` (`rid`: `<trajectory>|<nonce>`);
  answers `text`, `output_ids`, `meta_info.finish_reason` `{type, matched}`.
- `routed_dp_rank` pins an SGLang data-parallel rank (both SGLang kinds).
With `return_token_ids` both servers also echo the whole prompt (`prompt_token_ids`):
parsing a 100k-token echo costs ~30 ms, so it is cut out of the raw bytes unparsed.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from typing import Any

from synth.policy.base import Prompt, Sampling
from synth.policy.openai_config import OpenAIPolicyConfig
from synth.policy.token_ids import IdsJson, cached_tokenizer
from synth.template import BOS

SERVER_EXTRAS: dict[str, dict[str, Any]] = {
    "vllm": {"skip_special_tokens": False, "spaces_between_special_tokens": False,
             "include_stop_str_in_output": True, "return_token_ids": True},
    "sglang": {"skip_special_tokens": False, "no_stop_trim": True, "return_token_ids": True},
    "generic": {},
}
TEXT_PROMPT_EXTRAS: dict[str, dict[str, Any]] = {"vllm": {"add_special_tokens": False}}
NATIVE_SAMPLING_EXTRAS: dict[str, Any] = {"skip_special_tokens": False, "no_stop_trim": True}
_SPACES = b" \t\r\n"
_UNSAFE = re.compile(r"[^a-z0-9_]+")
_RID = re.compile(rb'("rid":"[^"]*\|)[0-9a-f]{16}"')


class AttemptError(Exception):
    """One attempt failed; `kind` is the recorded error kind. Only 4xx (not 429) is final."""

    def __init__(self, kind: str, retry: bool = True, retry_after: float | None = None) -> None:
        super().__init__(kind)
        self.kind, self.retry, self.retry_after = kind, retry, retry_after


# -- requests -----------------------------------------------------------------------------
class RequestBuilder:
    """JSON bodies for one config; prompt ids go last, as text reused from the trajectory's
    previous prompt (`IdsJson`)."""

    def __init__(self, config: OpenAIPolicyConfig) -> None:
        self.config = config
        self.ids_json = IdsJson(max_tags=max(2048, 2 * config.max_concurrency_per_endpoint
                                             * len(config.base_urls)))

    def body(self, prompt: Prompt, sampling: Sampling, dp_rank: int | None = None) -> bytes:
        if self.config.server == "sglang-native":
            return self._native(prompt, sampling, dp_rank)
        return self._completions(prompt, sampling, dp_rank)

    def for_retry(self, payload: bytes) -> bytes:
        """The same request under a fresh request id (SGLang refuses a duplicate `rid`)."""
        if self.config.server != "sglang-native":
            return payload
        return _RID.sub(lambda m: m.group(1) + secrets.token_hex(8).encode() + b'"', payload,
                        count=1)

    def _ids_tail(self, key: str, head: str, prompt: Prompt) -> bytes:
        ids = prompt.token_ids
        if ids is None:
            ids = cached_tokenizer(self.config.tokenizer).encode(prompt.text)
        return f'{head[:-1]},"{key}":[{self.ids_json.dumps(prompt.tag, ids)}]}}'.encode()

    def _completions(self, prompt: Prompt, sampling: Sampling, dp_rank: int | None) -> bytes:
        server = self.config.server
        body: dict[str, Any] = {"model": self.config.model, "temperature": sampling.temperature,
                                "top_p": sampling.top_p, "max_tokens": sampling.max_tokens,
                                "n": 1, "stream": False, "user": prompt.tag}
        if sampling.seed is not None:
            body["seed"] = sampling.seed
        if dp_rank is not None:
            body["routed_dp_rank"] = dp_rank
        as_text = self.config.send == "text"
        if as_text:
            text = prompt.text
            if server == "sglang" and text.startswith(BOS):
                text = text[len(BOS):]  # SGLang adds its own BOS to a text prompt
            body["prompt"] = text
            body.update(TEXT_PROMPT_EXTRAS.get(server, {}))
        body.update(SERVER_EXTRAS[server])
        body.update(self.config.extra_body)
        head = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
        return head.encode() if as_text else self._ids_tail("prompt", head, prompt)

    def _native(self, prompt: Prompt, sampling: Sampling, dp_rank: int | None) -> bytes:
        params: dict[str, Any] = {"max_new_tokens": sampling.max_tokens,
                                  "temperature": sampling.temperature, "top_p": sampling.top_p,
                                  **NATIVE_SAMPLING_EXTRAS}
        if sampling.seed is not None:
            params["sampling_seed"] = sampling.seed
        # a request id naming the trajectory (server logs); unique per attempt
        body: dict[str, Any] = {"rid": f"{prompt.tag}|{secrets.token_hex(8)}",
                                "sampling_params": params, "stream": False}
        if dp_rank is not None:
            body["routed_dp_rank"] = dp_rank
        body.update(self.config.extra_body)
        head = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
        return self._ids_tail("input_ids", head, prompt)


# -- responses ----------------------------------------------------------------------------
@dataclass
class ServedCompletion:
    """One answer as the server sent it, before any checks."""

    text: str
    finish: str | None
    ids: object = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int | None = None
    stop: object = None  # vLLM's stop_reason / SGLang's matched stop


def without_array(raw: bytes, key: bytes) -> bytes:
    """`raw` with the flat JSON array under object key `key` replaced by null (unparsed).

    Only a real key counts: its opening quote follows `{` or `,` (inside a JSON string a
    quote is always escaped). The last occurrence is taken: the echo follows the text."""
    at = raw.rfind(b'"' + key + b'"')
    if at < 0:
        return raw
    before = raw[:at].rstrip(_SPACES)
    if not before or before[-1] not in b"{,":
        return raw
    colon = at + len(key) + 2
    while colon < len(raw) and raw[colon] in _SPACES:
        colon += 1
    if colon >= len(raw) or raw[colon] != ord(":"):
        return raw
    start = colon + 1
    while start < len(raw) and raw[start] in _SPACES:
        start += 1
    if start >= len(raw) or raw[start] != ord("["):
        return raw
    end = raw.find(b"]", start)
    return raw if end < 0 else raw[:start] + b"null" + raw[end + 1:]


def _load(raw: bytes, echo_keys: tuple[bytes, ...]) -> dict[str, Any]:
    for key in echo_keys:
        raw = without_array(raw, key)
    try:
        data = json.loads(raw)
    except ValueError:
        raise AttemptError("bad_response") from None
    if not isinstance(data, dict):
        raise AttemptError("bad_response")
    return data


def _int(value: object) -> int | None:
    return value if type(value) is int else None


def parse_completions(raw: bytes) -> ServedCompletion:
    """A `/v1/completions` body (vLLM or SGLang) -> ServedCompletion; AttemptError if bad."""
    data = _load(raw, (b"prompt_token_ids",))
    try:
        choice = data["choices"][0]
        text = choice["text"]
        if not isinstance(text, str):
            raise TypeError("text")
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        details = usage.get("prompt_tokens_details")
        cached = details.get("cached_tokens") if isinstance(details, dict) else None
        stop = choice.get("stop_reason", choice.get("matched_stop"))
        return ServedCompletion(text, choice.get("finish_reason"), choice.get("token_ids"),
                                _int(usage.get("prompt_tokens")),
                                _int(usage.get("completion_tokens")), _int(cached), stop)
    except (KeyError, IndexError, TypeError, AttributeError):
        raise AttemptError("bad_response") from None


def parse_generate(raw: bytes) -> ServedCompletion:
    """An SGLang `/generate` body -> ServedCompletion; AttemptError if bad."""
    data = _load(raw, (b"prompt_token_ids", b"input_ids"))
    try:
        text, meta = data["text"], data["meta_info"]
        if not isinstance(text, str) or not isinstance(meta, dict):
            raise TypeError("text")
        reason = meta.get("finish_reason")
        finish = reason.get("type") if isinstance(reason, dict) else reason
        matched = reason.get("matched") if isinstance(reason, dict) else None
        return ServedCompletion(text, finish, data.get("output_ids"),
                                _int(meta.get("prompt_tokens")),
                                _int(meta.get("completion_tokens")),
                                _int(meta.get("cached_tokens")), matched)
    except (KeyError, TypeError, AttributeError):
        raise AttemptError("bad_response") from None


def model_finish_kind(reason: object) -> str:
    """The error kind of a model-caused ending other than stop/length (`finish_repetition`)."""
    name = _UNSAFE.sub("_", str(reason).lower()).strip("_")[:40] or "unknown"
    return f"finish_{name}"
