"""A trajectory as a reader sees it: the conversation's messages as view items, and a
sample's tokens as runs of trained (mask = 1) and untrained tokens.

Rows come from data files that may be damaged or written by another version: nothing here
raises on bad content; unreadable parts become items that say what was wrong.
"""

from __future__ import annotations

import itertools
import json
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ToolCallView:
    name: str
    arguments: str
    valid_json: bool


@dataclass
class MessageView:
    """One message of the conversation; `kind` selects how the template draws it."""

    kind: str  # system, user, user_simulator, developer, assistant, tool_result, other, error
    label: str
    content: str = ""
    reasoning: str = ""
    calls: list[ToolCallView] = field(default_factory=list)
    is_error: bool = False


@dataclass
class ToolSchemaView:
    name: str
    description: str
    parameters: str


@dataclass
class TokenRun:
    """Consecutive tokens with the same mask value, decoded; `elided` tokens are not shown."""

    trained: bool
    text: str
    n_tokens: int
    start: int
    elided: int = 0
    tail: str = ""


def pretty_json(text: Any) -> tuple[str, bool]:
    """Indented JSON when `text` parses (or is already a value), else the text as it is."""
    if not isinstance(text, str):
        try:
            return json.dumps(text, indent=2, ensure_ascii=False), True
        except (TypeError, ValueError):
            return str(text), False
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False), True
    except (json.JSONDecodeError, RecursionError):
        return text, False


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return pretty_json(value)[0]


def _calls(message: dict[str, Any]) -> list[ToolCallView]:
    calls = []
    raw = message.get("tool_calls")
    for call in raw if isinstance(raw, list) else []:
        function = call.get("function", call) if isinstance(call, dict) else {}
        if not isinstance(function, dict):
            function = {}
        arguments, valid = pretty_json(function.get("arguments", ""))
        calls.append(ToolCallView(_text(function.get("name")) or "?", arguments, valid))
    return calls


def tool_schemas(tools: Any) -> list[ToolSchemaView]:
    """The OpenAI tool list, one entry per tool (unreadable entries are skipped)."""
    views = []
    for tool in tools if isinstance(tools, list) else []:
        function = tool.get("function", tool) if isinstance(tool, dict) else None
        if isinstance(function, dict):
            views.append(ToolSchemaView(_text(function.get("name")),
                                        _text(function.get("description")),
                                        pretty_json(function.get("parameters", {}))[0]))
    return views


def message_views(messages: Any) -> list[MessageView]:
    """View items of a message list: the first user message is the task, later ones come
    from the user simulator; tool results are labelled with the call they answer."""
    if not isinstance(messages, list):
        return [MessageView("error", "unreadable", "the messages column is not a JSON list")]
    views: list[MessageView] = []
    pending: deque[str] = deque()
    users = 0
    for message in messages:
        if not isinstance(message, dict):
            views.append(MessageView("error", "unreadable", _text(message)))
            continue
        role = _text(message.get("role"))
        content = _text(message.get("content"))
        if role == "system":
            views.append(MessageView("system", "system prompt", content))
        elif role == "user":
            kind, label = ("user", "user: the task") if users == 0 else \
                ("user_simulator", f"user simulator: turn {users}")
            users += 1
            views.append(MessageView(kind, label, content))
        elif role == "developer":
            views.append(MessageView("developer", "developer", content))
        elif role == "assistant":
            calls = _calls(message)
            pending = deque(c.name for c in calls)
            views.append(MessageView("assistant", "assistant", content,
                                     _text(message.get("reasoning_content")), calls))
        elif role == "tool":
            name = pending.popleft() if pending else "a tool call"
            views.append(MessageView("tool_result", f"result of {name}", content,
                                     is_error=content.startswith("Error")))
        else:
            views.append(MessageView("other", role or "unknown role", content))
    return views


def parse_messages(text: str | None) -> Any:
    """The messages column's JSON, or None when it does not parse."""
    try:
        return json.loads(text or "")
    except (json.JSONDecodeError, RecursionError):
        return None


def mask_runs(ids: Sequence[int], mask: Sequence[int]) -> list[tuple[int, list[int]]]:
    """Consecutive runs of equal mask value: [(mask, ids), ...]."""
    runs = []
    position = 0
    for value, group in itertools.groupby(mask):
        size = len(list(group))
        runs.append((value, list(ids[position:position + size])))
        position += size
    return runs


def token_runs(ids: Sequence[int], mask: Sequence[int], decode: Callable[[list[int]], str],
               *, context_shown: int) -> list[TokenRun]:
    """Decoded runs; an untrained run longer than `context_shown` keeps its head and tail."""
    runs, start = [], 0
    if len(mask) != len(ids):
        mask = [0] * len(ids)
    for value, run_ids in mask_runs(ids, mask):
        trained = bool(value)
        if trained or len(run_ids) <= context_shown:
            runs.append(TokenRun(trained, decode(run_ids), len(run_ids), start))
        else:
            half = context_shown // 2
            runs.append(TokenRun(False, decode(run_ids[:half]), len(run_ids), start,
                                 elided=len(run_ids) - 2 * half,
                                 tail=decode(run_ids[-half:])))
        start += len(run_ids)
    return runs
