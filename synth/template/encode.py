"""Messages -> prompt text, byte-identical to DeepSeek's `encoding_dsv32.py`.

The reference signals bad input with `assert`/`KeyError`; here every rejected input raises
`ValueError` naming the message (`messages[i]` or `context[i]`) and the reason, so callers in a
data pipeline can catch one exception type. Deliberate differences from the reference, all on
inputs it mishandles (it never produces text for them that we would have to match):

* A `developer` message below the last user message (thinking mode, `drop_thinking`) is removed
  as TEMPLATE.md states; the reference removes it but keeps indexing the shortened list and then
  fails an assertion, so it renders no text at all for such conversations.
* Non-string `content` of user/tool/system messages (the reference would render `str(None)`),
  unknown roles anywhere (the reference ignores them in `context`), a tool message at index 0,
  malformed `tool_calls`/`tools` entries and bad `thinking_mode` with no messages are rejected.
* `function.arguments` must be a string holding a JSON object, as in the reference.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from synth.template._constants import (
    ASSISTANT,
    BOS,
    DEVELOPER_PREFIX,
    DSML,
    EOS,
    FUNCTION_CALLS_CLOSE,
    FUNCTION_CALLS_OPEN,
    INVOKE_CLOSE,
    RESPONSE_FORMAT_PREFIX,
    RESULTS_CLOSE,
    RESULTS_OPEN,
    THINK_CLOSE,
    THINK_OPEN,
    THINKING,
    THINKING_MODES,
    TOOLS_TEMPLATE,
    USER,
)

ROLES = ("system", "developer", "user", "assistant", "tool")

__all__ = ["ROLES", "encode_messages", "render_completion", "render_tools", "to_json"]


def to_json(value: Any) -> str:
    """`json.dumps(ensure_ascii=False)`, falling back to ASCII escapes like the reference."""
    try:
        return json.dumps(value, ensure_ascii=False)
    except Exception:
        try:
            return json.dumps(value, ensure_ascii=True)
        except Exception as exc:
            raise ValueError(f"value is not JSON-serialisable: {exc}") from exc


def check_thinking_mode(thinking_mode: str) -> bool:
    """Validate `thinking_mode`; True for thinking mode."""
    if thinking_mode not in THINKING_MODES:
        raise ValueError(f"invalid thinking_mode {thinking_mode!r}: expected 'thinking' or 'chat'")
    return thinking_mode == THINKING


def render_tools(tools: Sequence[Any], where: str = "message") -> str:
    """The TOOLS_BLOCK for an OpenAI tool list (each tool's `function` object, one per line)."""
    schemas = []
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict) or not isinstance(tool.get("function"), dict):
            raise ValueError(f"{where}: tools[{i}] is not an OpenAI tool with a 'function' object")
        try:
            schemas.append(to_json(tool["function"]))
        except ValueError as exc:
            raise ValueError(f"{where}: tools[{i}]: {exc}") from exc
    return TOOLS_TEMPLATE.format(dsml=DSML, think_open=THINK_OPEN, think_close=THINK_CLOSE,
                                 tool_schemas="\n".join(schemas))


def _extras(msg: dict, where: str) -> str:
    """The tools block and response-format block of a system/developer message, if any."""
    out = ""
    tools = msg.get("tools")
    if tools:
        if not isinstance(tools, list | tuple):
            raise ValueError(f"{where}: 'tools' must be a list")
        out += "\n\n" + render_tools(tools, where)
    response_format = msg.get("response_format")
    if response_format:
        try:
            out += "\n\n" + RESPONSE_FORMAT_PREFIX + to_json(response_format)
        except ValueError as exc:
            raise ValueError(f"{where}: response_format: {exc}") from exc
    return out


def _text(msg: dict, key: str, where: str, *, none_ok: bool) -> str:
    value = msg.get(key)
    if value is None and none_ok:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{where}: '{key}' must be a string, got {type(value).__name__}")
    return value


def render_system(msg: dict, where: str = "message") -> str:
    """A system message: content, then the tools and response-format blocks."""
    return _text(msg, "content", where, none_ok=True) + _extras(msg, where)


def render_user_body(msg: dict, where: str = "message") -> str:
    """`<｜User｜>content<｜Assistant｜>` (the think marker is rendered separately)."""
    return USER + _text(msg, "content", where, none_ok=False) + ASSISTANT


def render_developer_body(msg: dict, where: str = "message") -> str:
    """A developer message as a user turn carrying tools/response format (marker separate)."""
    content = msg.get("content")
    if not content or not isinstance(content, str):
        raise ValueError(f"{where}: a developer message needs non-empty string content")
    return USER + _extras(msg, where) + DEVELOPER_PREFIX + content + ASSISTANT


def _render_arguments(arguments: Any, where: str) -> str:
    if not isinstance(arguments, str):
        raise ValueError(f"{where}: function.arguments must be a JSON object string")
    try:
        decoded = json.loads(arguments)
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"{where}: function.arguments is not valid JSON: {exc}") from exc
    if not isinstance(decoded, dict):
        raise ValueError(f"{where}: function.arguments must decode to a JSON object")
    params = []
    for key, value in decoded.items():
        if isinstance(value, str):
            params.append(f'<{DSML}parameter name="{key}" string="true">{value}</{DSML}parameter>')
        else:
            params.append(f'<{DSML}parameter name="{key}" string="false">{to_json(value)}'
                          f"</{DSML}parameter>")
    return "\n".join(params)


def render_tool_calls(tool_calls: Any, where: str = "message") -> str:
    """`"\\n\\n<｜DSML｜function_calls>\\n" ... "</｜DSML｜function_calls>"`, or "" if no calls."""
    if not tool_calls:
        return ""
    if not isinstance(tool_calls, list | tuple):
        raise ValueError(f"{where}: 'tool_calls' must be a list")
    invokes = []
    for i, call in enumerate(tool_calls):
        at = f"{where} tool_calls[{i}]"
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise ValueError(f"{at}: needs a 'function' object with a string 'name'")
        arguments = _render_arguments(function.get("arguments"), at)
        invokes.append(f'<{DSML}invoke name="{function["name"]}">\n{arguments}\n{INVOKE_CLOSE}')
    return "\n\n" + FUNCTION_CALLS_OPEN + "\n" + "\n".join(invokes) + "\n" + FUNCTION_CALLS_CLOSE


def render_assistant_parts(msg: dict, where: str = "message") -> tuple[str, str]:
    """(reasoning, content + tool calls + EOS) of an assistant message; reasoning may be ""."""
    reasoning = _text(msg, "reasoning_content", where, none_ok=True)
    content = _text(msg, "content", where, none_ok=True)
    return reasoning, content + render_tool_calls(msg.get("tool_calls"), where) + EOS


def render_completion(message: dict, thinking_mode: str = "thinking") -> str:
    """The text a model writes for `message` after the generation prompt, EOS included.

    Thinking mode: reasoning + `</think>` + content + DSML calls + EOS, i.e. what
    `encode_messages([message], context=earlier)` renders for a message above the last user
    message (without that function's check that reasoning or tool calls are present).
    """
    thinking = check_thinking_mode(thinking_mode)
    if not isinstance(message, dict):
        raise ValueError("message: must be a dict")
    if message.get("role", "assistant") != "assistant":
        raise ValueError(f"message: role must be 'assistant', got {message.get('role')!r}")
    reasoning, body = render_assistant_parts(message, "message")
    return reasoning + THINK_CLOSE + body if thinking else body


def render_tool_result(content: str, k: int, n: int) -> str:
    """The k-th (from 1) of n tool results, without the think marker that follows the last."""
    text = RESULTS_OPEN if k == 1 else ""
    text += "\n<result>" + content + "</result>"
    if k == n:
        text += RESULTS_CLOSE + "\n\n"
    return text


def last_user_index(messages: Sequence[dict]) -> int:
    """Index of the last `user` or `developer` message, -1 if none."""
    for i in range(len(messages) - 1, -1, -1):
        if messages[i].get("role") in ("user", "developer"):
            return i
    return -1


def _tool_position(p: int, view: list[dict], where: str) -> tuple[int, int]:
    """(k, n): this tool message is the k-th result of the preceding assistant's n calls."""
    j = p - 1
    while j >= 0 and view[j].get("role") == "tool":
        j -= 1
    if j < 0 or view[j].get("role") != "assistant":
        raise ValueError(f"{where}: tool message without a preceding assistant message")
    calls = view[j].get("tool_calls")
    if not calls:
        raise ValueError(f"{where}: tool message but the preceding assistant made no tool calls")
    if not isinstance(calls, list | tuple):
        raise ValueError(f"{where}: the preceding assistant's 'tool_calls' is not a list")
    k = p - j
    if k > len(calls):
        raise ValueError(f"{where}: more tool results ({k}) than tool calls ({len(calls)})")
    return k, len(calls)


def _render_one(p: int, view: list[dict], last_user: int, thinking: bool, where: str) -> str:
    msg = view[p]
    role = msg["role"]
    if role == "system":
        return render_system(msg, where)
    if role in ("user", "developer"):
        body = render_user_body(msg, where) if role == "user" else render_developer_body(msg, where)
        return body + (THINK_OPEN if thinking and p == last_user else THINK_CLOSE)
    if role == "assistant":
        reasoning, body = render_assistant_parts(msg, where)
        if not (thinking and p > last_user):
            return body
        if not (reasoning or msg.get("tool_calls")):
            raise ValueError(f"{where}: in thinking mode an assistant message after the last user "
                             "message needs reasoning_content or tool_calls")
        return reasoning + THINK_CLOSE + body
    k, n = _tool_position(p, view, where)
    text = render_tool_result(_text(msg, "content", where, none_ok=False), k, n)
    if k == n:
        text += THINK_OPEN if thinking and p >= last_user else THINK_CLOSE
    return text


def check_role(msg: Any, where: str) -> str:
    """The message's role, or ValueError if it is not a dict with a known role."""
    if not isinstance(msg, dict):
        raise ValueError(f"{where}: a message must be a dict, got {type(msg).__name__}")
    role = msg.get("role")
    if role not in ROLES:
        raise ValueError(f"{where}: unknown role {role!r} (expected one of {', '.join(ROLES)})")
    return role


def encode_messages(
    messages: Sequence[dict],
    thinking_mode: str = "thinking",
    context: Sequence[dict] | None = None,
    drop_thinking: bool = True,
    add_default_bos_token: bool = True,
) -> str:
    """Render `messages` (after the unrendered `context`) as DeepSeek-V3.2 prompt text.

    Byte-identical to the reference for every input it renders; see the module docstring for
    what is rejected (always `ValueError` naming the message). Never mutates its arguments.
    """
    thinking = check_thinking_mode(thinking_mode)
    context = list(context) if context else []
    full = context + list(messages)
    n_ctx = len(context)

    def where(i: int) -> str:
        label = f"context[{i}]" if i < n_ctx else f"messages[{i - n_ctx}]"
        return f"{label} (role {full[i].get('role')!r})" if isinstance(full[i], dict) else label

    roles = [check_role(m, where(i)) for i, m in enumerate(full)]
    last_user = last_user_index(full)
    kept = [i for i, role in enumerate(roles)
            if not (thinking and drop_thinking and role == "developer" and i < last_user)]
    view = [full[i] for i in kept]
    view_last_user = last_user_index(view)
    out = [BOS] if add_default_bos_token and not context else []
    for p, i in enumerate(kept):
        if i >= n_ctx:
            out.append(_render_one(p, view, view_last_user, thinking, where(i)))
    return "".join(out)

