"""A stand-in for a server's KV prefix cache: which leading token blocks it still holds.

Like vLLM's prefix caching, a prompt is cut into fixed blocks and each block is named by a
hash chained over every block before it, so a block matches only with its whole prefix.
Blocks live in an LRU bounded by a token capacity (`None`: unbounded, which the fleet
benchmark uses to count every prefix any server has computed).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence


class PrefixCache:
    """Longest cached prefix, in tokens of whole blocks."""

    def __init__(self, capacity_tokens: int | None = None, block_tokens: int = 16) -> None:
        if block_tokens < 1:
            raise ValueError("block_tokens must be >= 1")
        self.block_tokens = block_tokens
        self.capacity_blocks = None if capacity_tokens is None else \
            max(1, capacity_tokens // block_tokens)
        self._blocks: OrderedDict[int, None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._blocks)

    def block_hashes(self, ids: Sequence[int]) -> list[int]:
        size = self.block_tokens
        out, previous = [], 0
        for start in range(0, len(ids) - size + 1, size):
            previous = hash((previous, tuple(ids[start:start + size])))
            out.append(previous)
        return out

    def match(self, ids: Sequence[int]) -> int:
        """Tokens of the longest prefix held (whole blocks), without changing the cache."""
        n = 0
        for key in self.block_hashes(ids):
            if key not in self._blocks:
                break
            n += 1
        return n * self.block_tokens

    def match_and_insert(self, ids: Sequence[int]) -> int:
        """`match`, then hold every whole block of `ids` (most recently used)."""
        hashes = self.block_hashes(ids)
        hit = 0
        for key in hashes:
            if key not in self._blocks:
                break
            hit += 1
        for key in hashes:
            self._blocks[key] = None
            self._blocks.move_to_end(key)
        if self.capacity_blocks is not None:
            while len(self._blocks) > self.capacity_blocks:
                self._blocks.popitem(last=False)
        return hit * self.block_tokens
