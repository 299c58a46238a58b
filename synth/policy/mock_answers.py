"""What the mock server answers: the model's output with faults applied, in each server's shape.

Shapes follow the servers' response models: vLLM's and SGLang's `CompletionResponse`
(`choices[0]`: text, finish_reason, vLLM `stop_reason` / SGLang `matched_stop`, `token_ids`
with EOS kept, `prompt_token_ids` echoing the prompt), SGLang's `/generate` (`text`,
`output_ids`, `meta_info.finish_reason` `{type, matched}`), and their error bodies (vLLM
wraps them in `{"error": ...}`, SGLang's are flat).
"""

from __future__ import annotations

import json
import random
import time
import zlib
from dataclasses import dataclass
from typing import Any

from synth.template import BOS, EOS, EOS_ID

_GARBAGE_WORDS = ("lorem", "ipsum", "{", "}", "<tool>", "call(", ")", "null", "0x7f", "::",
                  "function", "result", "\n", "##", "invoke", "</", ">", "答案", "ÿ", "...")
INVALID_IDS = (999999, -7, 2 ** 40)
_ECHO_PLACEHOLDER = b'"prompt_token_ids":null'


@dataclass
class Answer:
    """The output as served: `ids` are what the server reports it generated."""

    text: str
    ids: list[int]
    finish: str  # stop, length, abort, repetition, error

    @property
    def matched(self) -> int | None:
        return EOS_ID if self.finish == "stop" and self.ids and self.ids[-1] == EOS_ID else None


def model_answer(text: str, finish: str, tokenizer: Any) -> Answer:
    return Answer(text, tokenizer.encode(text), finish)


def apply_fault(answer: Answer, fault: str | None, rng: random.Random,
                tokenizer: Any) -> Answer:
    """The content faults of `FaultRates` (the HTTP ones happen before)."""
    text = answer.text
    if fault == "truncate":
        cut = rng.randint(max(1, len(text) // 4), max(1, 3 * len(text) // 4))
        return model_answer(text[:cut], "length", tokenizer)
    if fault == "garbage":
        words = " ".join(rng.choice(_GARBAGE_WORDS) for _ in range(rng.randint(5, 60)))
        return model_answer(words + EOS, "stop", tokenizer)
    if fault == "abort":
        return Answer("", [], "abort")
    if fault == "engine_error":
        return Answer("", [], "error")
    if fault == "repetition":
        return model_answer(text[: max(1, len(text) // 2)], "repetition", tokenizer)
    ids = list(answer.ids)
    if fault == "invalid_ids" and ids:
        for _ in range(rng.randint(1, 3)):
            ids[rng.randrange(len(ids))] = rng.choice(INVALID_IDS)
        return Answer(text, ids, answer.finish)
    if fault == "wrong_ids" and len(ids) > 2:
        k = rng.randrange(len(ids) - 1)
        ids[k] = 1000 + (ids[k] + 1) % 100000  # another ordinary token
        return Answer(text, ids, answer.finish)
    if fault == "text_drops_specials" and len(ids) > 2:
        ids.insert(len(ids) // 2, tokenizer.token_id(BOS))  # a special token the model wrote
        return Answer(tokenizer.hf.decode(ids, skip_special_tokens=True), ids, answer.finish)
    return answer


def strip_eos_text(answer: Answer) -> Answer:
    """Text without the final EOS, ids unchanged (what a server that trims stops returns)."""
    if answer.text.endswith(EOS):
        return Answer(answer.text[: -len(EOS)], answer.ids, answer.finish)
    return answer


def completions_body(answer: Answer, *, flavor: str, model: str, request_no: int,
                     prompt_tokens: int, with_ids: bool, echo: bytes | None,
                     cached_tokens: int | None) -> bytes:
    """A `/v1/completions` answer; `echo` is the prompt's JSON id array body, spliced in raw."""
    choice: dict[str, Any] = {"index": 0, "text": answer.text, "logprobs": None,
                              "finish_reason": answer.finish}
    if flavor == "sglang":
        choice["matched_stop"] = answer.matched
    else:
        choice["stop_reason"] = None  # vLLM: None when the EOS token ended the sequence
    if with_ids:
        choice["token_ids"] = answer.ids
        if echo is not None:
            choice["prompt_token_ids"] = None
    usage: dict[str, Any] = {"prompt_tokens": prompt_tokens,
                             "completion_tokens": len(answer.ids),
                             "total_tokens": prompt_tokens + len(answer.ids)}
    if cached_tokens is not None:
        usage["prompt_tokens_details"] = {"cached_tokens": cached_tokens}
    data = {"id": f"cmpl-{request_no}", "object": "text_completion",
            "created": int(time.time()), "model": model, "choices": [choice], "usage": usage}
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    if with_ids and echo is not None:
        at = body.rfind(_ECHO_PLACEHOLDER)
        body = body[:at] + b'"prompt_token_ids":[' + echo + b"]" + \
            body[at + len(_ECHO_PLACEHOLDER):]
    return body


def generate_body(answer: Answer, *, request_id: str, prompt_tokens: int,
                  cached_tokens: int | None) -> bytes:
    """An SGLang `/generate` answer."""
    reason: dict[str, Any] = {"type": answer.finish}
    if answer.finish == "stop":
        reason["matched"] = answer.matched
    elif answer.finish == "length":
        reason["length"] = len(answer.ids)
    elif answer.finish == "abort":
        reason["message"] = "aborted by the scheduler"
    meta = {"id": request_id, "finish_reason": reason, "prompt_tokens": prompt_tokens,
            "completion_tokens": len(answer.ids), "cached_tokens": cached_tokens or 0}
    data = {"text": answer.text, "output_ids": answer.ids, "meta_info": meta}
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def error_body(flavor: str, status: int, message: str, kind: str) -> bytes:
    """vLLM: `{"error": {...}}`; SGLang: the flat `ErrorResponse`."""
    body = {"object": "error", "message": message, "type": kind, "param": None, "code": status}
    return json.dumps(body if flavor == "sglang" else {"error": body}).encode()


def synthetic_answer(tag: str, prompt_len: int, n: int, tokenizer: Any) -> Answer:
    """`n` pseudo-random ordinary ids and EOS, different per trajectory and step."""
    rng = random.Random(zlib.crc32(f"{tag}#{prompt_len}".encode()))
    ids = [rng.randrange(1000, 100000) for _ in range(n)] + [EOS_ID]
    return Answer(tokenizer.decode(ids), ids, "stop")
