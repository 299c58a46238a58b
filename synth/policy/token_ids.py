"""Token ids on the wire: prompt ids serialized incrementally, served ids checked before use.

A served id goes into training rows as it is, so it is trusted only when every id is inside
the vocabulary and the ids decode to the text the server returned. Otherwise the text (which
the parser reads) wins and its canonical tokenization is used, with the reason recorded; the
one exception is text that lost special tokens the ids carry (older SGLang applied one
request's `skip_special_tokens` to a whole batch): then the text is what is wrong, and the
call is a retryable server fault.
"""

from __future__ import annotations

import functools
import json
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from synth.template import EOS, EOS_ID

# reasons recorded in `Completion.retokenized`
IDS_OUT_OF_VOCABULARY = "token_ids_out_of_vocabulary"
IDS_DISAGREE_WITH_TEXT = "token_ids_disagree_with_text"
IDS_MISSING = "token_ids_missing"


@functools.lru_cache(maxsize=4)
def cached_tokenizer(source: str | None = None) -> Any:
    """`load_tokenizer(source)` once per process (loading takes ~0.7 s)."""
    from synth.tokenizer import load_tokenizer

    return load_tokenizer(source)


class IdsJson:
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


class TextLostSpecialTokens(Exception):
    """The ids carry special tokens the text lacks: the server's text is wrong."""


@dataclass
class CheckedIds:
    """Ids safe to train on (or None), the reason they were replaced, and whether the text
    lacks a final EOS the ids carried (the ids are trimmed to match the text)."""

    ids: list[int] | None
    retokenized: str | None = None
    eos_id_dropped: bool = False


_VOCAB_SIZES: dict[int, int] = {}


def vocab_size_of(tokenizer: Any) -> int:
    """The tokenizer's vocabulary size, added tokens included (asking costs ~30 us)."""
    size = _VOCAB_SIZES.get(id(tokenizer))
    if size is None:
        size = _VOCAB_SIZES[id(tokenizer)] = tokenizer.vocab_size
    return size


def in_vocabulary(ids: object, vocab_size: int) -> bool:
    """A list of plain ints (not bools), each in [0, vocab_size)."""
    if not isinstance(ids, list):
        return False
    if not ids:
        return True
    return set(map(type, ids)) == {int} and min(ids) >= 0 and max(ids) < vocab_size


def check_served_ids(text: str, ids: object, tokenizer: Any) -> CheckedIds:
    """The ids to keep for `text`; never raises except `TextLostSpecialTokens`.

    `ids` is whatever the server sent (None: nothing sent). A trailing EOS id whose token the
    text lacks (the server stripped it from the text) is dropped so ids and text agree."""
    if ids is None:
        return CheckedIds(None)
    if not in_vocabulary(ids, vocab_size_of(tokenizer)):
        return CheckedIds(tokenizer.encode(text), IDS_OUT_OF_VOCABULARY)
    assert isinstance(ids, list)
    dropped = False
    if ids and ids[-1] == EOS_ID and not text.endswith(EOS):
        ids, dropped = ids[:-1], True
    decoded = tokenizer.decode(ids)
    if decoded == text:
        return CheckedIds(ids, eos_id_dropped=dropped)
    if tokenizer.hf.decode(ids, skip_special_tokens=True) == text:
        raise TextLostSpecialTokens()
    return CheckedIds(tokenizer.encode(text), IDS_DISAGREE_WITH_TEXT)
