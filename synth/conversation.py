"""A conversation as prompt text and token ids, both grown incrementally.

`PromptRenderer` (synth.template) keeps the text as segments cut at special tokens; this
class tokenizes only the segments that are new since the last step (segment boundaries are
where the tokenizer splits anyway, so the concatenated ids equal tokenizing the whole text).
The model's own token ids are kept for its completions when they are known and match the
rendered text (token-in/token-out); otherwise the canonical tokenization is used.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from synth.template import EOS, THINK_CLOSE, PromptRenderer
from synth.tokenizer import Tokenizer

CHARS_PER_TOKEN_ESTIMATE = 3


class Conversation:
    """Prompt text (and ids, given a tokenizer) of one rollout in thinking mode."""

    def __init__(self, tokenizer: Tokenizer | None = None) -> None:
        self.renderer = PromptRenderer(thinking_mode="thinking", drop_thinking=True,
                                       copy_messages=False)
        self.tokenizer = tokenizer
        self._ids: list[list[int]] = []  # token ids per segment, for the first len() segments
        self._pending_model_ids: dict[int, list[list[int]]] = {}  # message index -> piece ids
        self._last_user = -1
        self._n_messages = 0
        self._turn_start: int | None = None  # first segment of the current user turn
        self._flat: list[int] = []  # the concatenation of self._ids
        self._context_only: set[int] = set()  # assistant messages carried over, not trained

    # -- appending ---------------------------------------------------------------------------
    def add_system(self, message: dict[str, Any]) -> None:
        self.renderer.add_system(message.get("content", ""), message.get("tools"),
                                 message.get("response_format"))
        self._n_messages += 1

    def add_user(self, content: str) -> None:
        """A new user turn; the previous turn's reasoning leaves the context, so the token ids
        of the previous turn's segments are recomputed on the next read."""
        self.renderer.add_user(content)
        self._open_turn()

    def add_developer(self, content: str, tools: list[dict[str, Any]] | None = None) -> None:
        """A new turn given as a developer message (it carries the tools, as the template
        renders search-agent tasks)."""
        self.renderer.add_developer(content, tools)
        self._open_turn()

    def add_opening(self, message: dict[str, Any]) -> None:
        """A user or developer message."""
        if message.get("role") == "developer":
            self.add_developer(message.get("content", ""), message.get("tools"))
        else:
            self.add_user(message.get("content", ""))

    def _open_turn(self) -> None:
        self._last_user = self._n_messages
        self._n_messages += 1
        if self._turn_start is not None:
            self._ids = self._ids[:self._turn_start]
            del self._flat[sum(len(ids) for ids in self._ids):]
        self._turn_start = len(self.renderer.segments) - 2  # the user body and its marker

    def add_completion(self, message: dict[str, Any], raw_text: str | None = None,
                       token_ids: list[int] | None = None, *, trained: bool = True) -> None:
        """Append a parsed assistant message; `raw_text`/`token_ids` are what the model sent.
        `trained=False` marks a message carried over from an earlier context (never masked 1).
        """
        self.renderer.add_assistant(message)
        index = self._n_messages
        self._n_messages += 1
        if not trained:
            self._context_only.add(index)
        if token_ids and raw_text is not None and self.tokenizer is not None:
            pieces = self._model_pieces(raw_text, token_ids)
            if pieces is not None:
                self._pending_model_ids[index] = pieces

    def add_tool_results(self, results: list[dict[str, Any]]) -> None:
        self.renderer.add_tool_results(results)
        self._n_messages += len(results)

    # -- views -------------------------------------------------------------------------------
    @property
    def prompt_text(self) -> str:
        return self.renderer.prompt_text

    @property
    def messages(self) -> list[dict[str, Any]]:
        return self.renderer.messages

    @property
    def prompt_ids(self) -> list[int] | None:
        """Token ids of the prompt (None without a tokenizer); do not mutate the list."""
        if self.tokenizer is None:
            return None
        self._tokenize_new()
        return self._flat

    @property
    def n_tokens(self) -> int:
        """Exact with a tokenizer, else an estimate from the text length."""
        if self.tokenizer is None:
            return len(self.renderer.prompt_text) // CHARS_PER_TOKEN_ESTIMATE
        self._tokenize_new()
        return len(self._flat)

    def sample(self) -> tuple[list[int], list[int]]:
        """(input_ids, assistant_masks): 1 exactly on the model-written tokens of the current
        user turn (reasoning, `</think>`, content, DSML calls, EOS)."""
        tokenizer = self._require_tokenizer()
        return assemble(self.sample_plan(), tokenizer.encode)

    def sample_plan(self) -> list[tuple[str, bool, list[int] | None]]:
        """The current sample as (segment text, trained, the model's ids or None), without
        tokenizing: callers batch the tokenization of many samples (see `assemble`)."""
        return [(segment.text,
                 segment.model_written and (segment.message_index or 0) > self._last_user
                 and segment.message_index not in self._context_only,
                 self._model_ids(segment))
                for segment in self.renderer.segments]

    # -- internals ---------------------------------------------------------------------------
    def _tokenize_new(self) -> None:
        tokenizer = self._require_tokenizer()
        for segment in self.renderer.segments_from(len(self._ids)):
            model = self._model_ids(segment)
            ids = tokenizer.encode(segment.text) if model is None else model
            self._ids.append(ids)
            self._flat.extend(ids)

    def _model_ids(self, segment: Any) -> list[int] | None:
        """The model's own ids for a model-written segment, when kept."""
        if not segment.model_written or segment.message_index is None:
            return None
        pieces = self._pending_model_ids.get(segment.message_index)
        if pieces is None:
            return None
        return pieces[0] if segment.kind == "reasoning" else pieces[1]

    def _require_tokenizer(self) -> Tokenizer:
        if self.tokenizer is None:
            raise ValueError("a tokenizer is needed for token ids")
        return self.tokenizer

    def _model_pieces(self, raw_text: str, token_ids: list[int]) -> list[list[int]] | None:
        """Split the model's ids into (reasoning + </think>, body + EOS) if they render the
        same text as the canonical message; None means: use the canonical tokenization."""
        tokenizer = self._require_tokenizer()
        reasoning, body = self.renderer.segments_from(-2)  # this completion's two
        text = raw_text if raw_text.endswith(EOS) else raw_text + EOS
        if text != reasoning.text + body.text:
            return None
        close = tokenizer.token_id(THINK_CLOSE)
        eos = tokenizer.token_id(EOS)
        if close not in token_ids:
            return None
        cut = token_ids.index(close) + 1
        tail = list(token_ids[cut:])
        if not tail or tail[-1] != eos:
            tail.append(eos)
        return [list(token_ids[:cut]), tail]


def assemble(plan: list[tuple[str, bool, list[int] | None]],
             encode: Callable[[str], list[int]]) -> tuple[list[int], list[int]]:
    """Token ids and assistant masks of a sample plan (model ids where kept, else `encode`)."""
    input_ids: list[int] = []
    masks: list[int] = []
    for text, trained, model_ids in plan:
        ids = encode(text) if model_ids is None else model_ids
        input_ids.extend(ids)
        masks.extend([1 if trained else 0] * len(ids))
    return input_ids, masks
