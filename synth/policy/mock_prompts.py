"""Prompt ids -> text in the mock server, without re-parsing what a conversation sent before.

Per-request CPU matters (the rollout benchmark drives one server process at ~512 requests/s),
so prompt ids are cut from the raw request bytes into cached pieces and a growing
conversation only parses and decodes (in Rust) its new tail.
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from typing import Any

CHUNK = 2048  # bytes of the JSON id array per cached piece (~350 ids)


class PromptDecoder:
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


def split_body(raw: bytes, key: str = "prompt") -> tuple[Any, bytes | None]:
    """(the JSON body, with the id array under `key` cut out as raw bytes when it is one)."""
    match = re.search(rb'"' + key.encode() + rb'"\s*:\s*\[', raw)
    if match is not None:
        end = raw.find(b"]", match.end())
        if end > 0:
            try:
                rest = json.loads(raw[:match.end()] + raw[end:])
            except ValueError:
                rest = None
            if isinstance(rest, dict) and rest.get(key) == []:
                return rest, raw[match.end():end]
    return json.loads(raw), None
