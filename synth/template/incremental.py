"""A conversation's prompt text kept up to date as a rollout appends messages.

`prompt_text` always equals `encode_messages(messages, thinking_mode, drop_thinking=...)`
(see the one documented exception at `add_completion`), but appending costs O(new text): the
text is held as segments and joined lazily. The only retroactive change the V3.2 template
makes is on a new user/developer message in thinking mode: the previous turn loses its
reasoning, its `<think>` markers become `</think>`, and (with `drop_thinking`) an earlier
developer message disappears. Segments are cut so that this is a local edit of the previous
turn's segments (drop a reasoning segment, swap a one-token marker) and never a re-render.

Every segment boundary sits next to a special added token (BOS, EOS, `<｜User｜>`,
`<｜Assistant｜>`, `<think>`, `</think>`), where the tokenizer splits anyway, so tokenizing
segment by segment and concatenating gives the ids of the whole text. Two exceptions, which
no rollout produces: a message directly after a `system` message without a user turn in between
(also the text left when a developer message is dropped), and an assistant message appended
before all tool calls of the previous one are answered.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from synth.template._constants import BOS, EOS, THINK_CLOSE, THINK_OPEN
from synth.template.encode import (
    check_role,
    check_thinking_mode,
    render_assistant_parts,
    render_developer_body,
    render_system,
    render_tool_result,
    render_user_body,
)
from synth.template.parse import parse_completion

__all__ = ["SEGMENT_KINDS", "PromptRenderer", "Segment"]

SEGMENT_KINDS = ("bos", "system", "user", "developer", "marker", "reasoning", "assistant",
                 "tool_results")


@dataclass(frozen=True)
class Segment:
    """One piece of the prompt text.

    kind: one of SEGMENT_KINDS. "marker" is the one-token `<think>`/`</think>` after a
    user/developer body or a completed tool-results block; "reasoning" is model-written
    reasoning + `</think>`; "assistant" is model-written content + DSML calls + EOS;
    "tool_results" is the block of one assistant's tool results (it grows as results arrive).
    message_index: index in `messages` of the message it renders (the first tool message for
    "tool_results", the user/developer/tool message a "marker" follows), None for BOS.
    """

    text: str
    kind: str
    model_written: bool
    message_index: int | None


class _Piece:
    """A mutable segment; tool-result blocks grow, so text is joined from parts lazily."""

    __slots__ = ("_text", "index", "kind", "model_written", "parts")

    def __init__(self, kind: str, text: str, index: int | None, model_written: bool = False):
        self.kind, self.index, self.model_written = kind, index, model_written
        self.parts, self._text = [text], text

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = "".join(self.parts)
            self.parts = [self._text]
        return self._text

    def append(self, text: str) -> None:
        self.parts.append(text)
        self._text = None

    def set(self, text: str) -> None:
        self.parts, self._text = [text], text


class PromptRenderer:
    """Incrementally rendered DeepSeek-V3.2 prompt of one conversation.

    Methods: add_system, add_developer, add_user, add_completion (raw model text),
    add_assistant (a message dict), add_tool_result(s), add_message (dispatch on role).
    Views: prompt_text, segments, stable_segments, messages.
    Rejected appends raise ValueError (like encode_messages) and leave the state unchanged.
    """

    def __init__(self, thinking_mode: str = "thinking", drop_thinking: bool = True,
                 add_default_bos_token: bool = True, copy_messages: bool = True) -> None:
        self.thinking = check_thinking_mode(thinking_mode)
        # Private deep copies protect the renderer from callers that mutate their messages; an
        # owner that never does (a rollout's conversation) skips that cost on every append.
        self._own = _copy if copy_messages else dict
        self.thinking_mode = thinking_mode
        self.drop_thinking = drop_thinking
        self._pieces: list[_Piece] = []
        self._messages: list[dict[str, Any]] = []
        self._turn_start = 0  # pieces before this index can no longer change
        self._calls_left = 0  # tool results still expected by the last assistant message
        self._calls_total = 0
        self._results: _Piece | None = None
        self._joined: str | None = None  # the prompt up to the texts in _tail
        self._tail: list[str] = []
        if add_default_bos_token:
            self._push(_Piece("bos", BOS, None))

    # -- views -------------------------------------------------------------------------------
    @property
    def prompt_text(self) -> str:
        """The whole prompt: appends extend the cached text; only a new turn re-joins."""
        if self._joined is None:
            self._joined = "".join(p.text for p in self._pieces)
        elif self._tail:
            self._joined += "".join(self._tail)
        self._tail.clear()
        return self._joined

    @property
    def segments(self) -> tuple[Segment, ...]:
        """The prompt as segments; `"".join(s.text for s in segments) == prompt_text`."""
        return tuple(Segment(p.text, p.kind, p.model_written, p.index) for p in self._pieces)

    def segments_from(self, start: int) -> tuple[Segment, ...]:
        """The segments from position `start` on (negative counts from the end); O(new) for
        callers that track a prefix."""
        return tuple(Segment(p.text, p.kind, p.model_written, p.index)
                     for p in self._pieces[start:])

    @property
    def stable_segments(self) -> int:
        """How many leading segments will never change again (safe to cache by position)."""
        if not self.thinking:
            return len(self._pieces) - (self._results is not None)
        for i in range(self._turn_start, len(self._pieces)):
            piece = self._pieces[i]
            if piece.kind in ("marker", "reasoning", "developer") or piece is self._results:
                return i
        return len(self._pieces)

    @property
    def messages(self) -> list[dict[str, Any]]:
        """Deep copies of the messages so far (assistant messages keep their reasoning)."""
        return _copy(self._messages)

    def __len__(self) -> int:
        return len(self._messages)

    # -- appending ---------------------------------------------------------------------------
    def add_message(self, message: dict[str, Any]) -> None:
        """Append any OpenAI-style message (dispatches on its role)."""
        role = check_role(message, self._where(message))
        if role == "system":
            self.add_system(message.get("content"), message.get("tools"),
                            message.get("response_format"))
        elif role == "developer":
            self.add_developer(message.get("content"), message.get("tools"),
                               message.get("response_format"))
        elif role == "user":
            self.add_user(message.get("content"))
        elif role == "assistant":
            self.add_assistant(message)
        else:
            self.add_tool_result(message)

    def add_system(self, content: str | None = "", tools: Sequence[Any] | None = None,
                   response_format: Any = None) -> None:
        """Append a system message (content, tools block, response-format block)."""
        msg = _compact({"role": "system", "content": content, "tools": tools,
                        "response_format": response_format})
        text = render_system(msg, self._where(msg))
        self._end_tool_block()
        self._messages.append(self._own(msg))
        self._push(_Piece("system", text, len(self._messages) - 1))

    def add_user(self, content: str) -> None:
        """Append a user message; this ends the previous turn (its reasoning is dropped)."""
        msg = {"role": "user", "content": content}
        self._open_turn(msg, "user", render_user_body(msg, self._where(msg)))

    def add_developer(self, content: str, tools: Sequence[Any] | None = None,
                      response_format: Any = None) -> None:
        """Append a developer message (a user turn that carries tools / response format)."""
        msg = _compact({"role": "developer", "content": content, "tools": tools,
                        "response_format": response_format})
        self._open_turn(msg, "developer", render_developer_body(msg, self._where(msg)))

    def add_completion(self, text: str, tools: Sequence[Any] | None = None) -> dict[str, Any]:
        """Append the raw text the model wrote after the generation prompt; return the message.

        The text is kept byte for byte (an EOS stripped by the server is put back), so the
        prompt holds exactly what the model generated. For the canonical text the encoder
        renders (`render_completion(message)`) this equals `encode_messages`; a completion the
        parser accepts in a non-canonical spelling (e.g. `string="false">1e3<`) stays as written.
        Raises ValueError with the parser's "kind@offset" if the text does not parse.
        """
        result = parse_completion(text, self.thinking_mode, tools)
        if not result.ok or result.message is None:
            raise ValueError(f"completion does not parse: {result.error}")
        body = text if result.eos else text + EOS
        reasoning = ""
        if self.thinking:
            cut = body.index(THINK_CLOSE) + len(THINK_CLOSE)
            reasoning, body = body[:cut], body[cut:]
        self._push_assistant(result.message, reasoning, body)
        return _copy(result.message)

    def add_assistant(self, message: dict[str, Any]) -> None:
        """Append an assistant message given as a dict (rendered canonically)."""
        if check_role(message, self._where(message)) != "assistant":
            raise ValueError(f"{self._where(message)}: not an assistant message")
        reasoning, body = render_assistant_parts(message, self._where(message))
        self._push_assistant(message, reasoning + THINK_CLOSE if self.thinking else "", body)

    def add_tool_result(self, result: str | dict[str, Any]) -> None:
        """Append one tool result (its content string, or a `role: tool` message)."""
        msg = dict(result) if isinstance(result, dict) else {"role": "tool", "content": result}
        msg.setdefault("role", "tool")
        where = self._where(msg)
        if check_role(msg, where) != "tool":
            raise ValueError(f"{where}: not a tool message")
        if self._calls_left == 0:
            prev = self._messages[-1].get("role") if self._messages else None
            if prev == "tool":
                raise ValueError(f"{where}: more tool results ({self._calls_total + 1}) than "
                                 f"tool calls ({self._calls_total})")
            if prev == "assistant":
                raise ValueError(f"{where}: tool message but the preceding assistant made no "
                                 "tool calls")
            raise ValueError(f"{where}: tool message without a preceding assistant message")
        k = self._calls_total - self._calls_left + 1
        content = msg.get("content")
        if not isinstance(content, str):
            raise ValueError(f"{where}: 'content' must be a string")
        text = render_tool_result(content, k, self._calls_total)
        self._messages.append(self._own(msg))
        if self._results is None:
            self._results = _Piece("tool_results", text, len(self._messages) - 1)
            self._push(self._results)
        else:  # the open results block is the last piece: its new text extends the prompt
            self._results.append(text)
            self._tail.append(text)
        self._calls_left -= 1
        if self._calls_left == 0:
            self._results = None
            self._push(_Piece("marker", THINK_OPEN if self.thinking else THINK_CLOSE,
                              len(self._messages) - 1))

    def add_tool_results(self, results: Iterable[str | dict[str, Any]]) -> None:
        """Append several tool results in order."""
        for result in results:
            self.add_tool_result(result)

    # -- internals ---------------------------------------------------------------------------
    def _where(self, msg: Any) -> str:
        role = msg.get("role") if isinstance(msg, dict) else None
        return f"messages[{len(self._messages)}] (role {role!r})"

    def _push(self, piece: _Piece) -> None:
        self._pieces.append(piece)
        self._tail.append(piece.text)

    def _end_tool_block(self) -> None:
        self._calls_left = self._calls_total = 0
        self._results = None

    def _push_assistant(self, message: dict[str, Any], reasoning: str, body: str) -> None:
        msg = self._own(message)
        msg["role"] = "assistant"
        self._end_tool_block()
        self._messages.append(msg)
        index = len(self._messages) - 1
        if self.thinking:
            self._push(_Piece("reasoning", reasoning, index, model_written=True))
        self._push(_Piece("assistant", body, index, model_written=True))
        self._calls_total = self._calls_left = len(msg.get("tool_calls") or ())

    def _open_turn(self, msg: dict[str, Any], kind: str, body: str) -> None:
        """Close the previous turn as the template renders it below the last user, then open."""
        self._end_tool_block()
        if self.thinking:  # an O(previous turn) edit, never a re-render
            turn = self._pieces[self._turn_start:]
            del self._pieces[self._turn_start:]
            dropped = {p.index for p in turn if p.kind == "developer" and self.drop_thinking}
            for piece in turn:
                if piece.kind == "reasoning" or piece.index in dropped:
                    continue
                if piece.kind == "marker":
                    piece.set(THINK_CLOSE)
                self._pieces.append(piece)
            self._joined = None
        self._messages.append(self._own(msg))
        index = len(self._messages) - 1
        self._turn_start = len(self._pieces)
        self._push(_Piece(kind, body, index))
        self._push(_Piece("marker", THINK_OPEN if self.thinking else THINK_CLOSE, index))


def _copy(value: Any) -> Any:
    """A deep copy of plain message data (a pickle round trip is ~4x faster than deepcopy)."""
    return pickle.loads(pickle.dumps(value, pickle.HIGHEST_PROTOCOL))


def _compact(msg: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in msg.items() if v is not None or k == "content"}
