"""Completion text -> assistant message, reporting *what* is wrong instead of raising.

The reference parser (`parse_message_from_completion_text`) asserts on bad text and its authors
mark it unfit for production. `parse_completion` accepts what the encoder emits (so
encode -> parse round trips) and rejects what the reference rejects, each failure as a stable
error kind plus the character offset where it was found (`"unclosed_function_calls@312"`).

Decisions, all documented here so callers can rely on them:

* Message shape: `{"role": "assistant", "content": str, "reasoning_content": str,
  "tool_calls": [...]}`. `reasoning_content` is present (maybe "") in thinking mode and absent in
  chat mode; `tool_calls` is present only when there is at least one call (OpenAI style), each
  `{"type": "function", "function": {"name", "arguments"}}` with `arguments` =
  `json.dumps(decoded_object, ensure_ascii=False)`; no call ids.
* A missing final EOS is accepted (servers strip the stop token) with `eos=False`, unless the
  text is visibly cut: inside reasoning, inside the DSML block, inside a DSML tag, or right after
  `</think>` with nothing else.
* Stricter than the reference (which lets these through): `string="false"` values that are not
  strict JSON (NaN/Infinity too), an empty invoke name, an empty `function_calls` block, EOS or
  `｜DSML｜` inside a parameter value, a block or invoke cut off at the end of the text, and DSML
  look-alikes with ASCII bars (`<|DSML|...`) in the content.
* An invoke header may end in one or two newlines (`name="f">\\n\\n`): the encoder writes two
  for `arguments == "{}"`, and the reference's `">\\n$` regex accepts both.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from synth.template._constants import (
    BOS,
    DSML,
    EOS,
    FUNCTION_CALLS_CLOSE,
    FUNCTION_CALLS_OPEN,
    INVOKE_CLOSE,
    INVOKE_OPEN,
    PARAM_CLOSE,
    PARAM_OPEN,
    THINK_CLOSE,
    THINK_OPEN,
    THINKING,
    THINKING_MODES,
    TOOL_CALLS_START,
)
from synth.template.errors import ERROR_KIND_DOCS, ERROR_KINDS

NON_STRING_TYPES = frozenset({"array", "object", "number", "integer", "boolean"})
_HEADER_RE = re.compile(r'\s*name="(.*?)">\n\n?', re.DOTALL)
_PARAM_RE = re.compile(r' name="(.*?)" string="(true|false)">', re.DOTALL)
_NAME_RE = re.compile(r"[A-Za-z_]*")
_LOOKALIKE_RE = re.compile(r"</?\s*[|｜]\s*DSML\s*[|｜]", re.IGNORECASE)
_EXACT_TAG_STARTS = (f"<{DSML}", f"</{DSML}")

__all__ = ["ERROR_KINDS", "ERROR_KIND_DOCS", "ParseResult", "parse_completion"]


@dataclass(frozen=True)
class ParseResult:
    """Outcome of `parse_completion`: a message when `ok`, else `error` = "kind@offset"."""

    ok: bool
    message: dict[str, Any] | None
    error: str | None
    eos: bool

    @property
    def error_kind(self) -> str | None:
        """The kind part of `error` (one of ERROR_KINDS), None when ok."""
        return None if self.error is None else self.error.rsplit("@", 1)[0]

    @property
    def error_offset(self) -> int | None:
        """The character offset part of `error`, None when ok."""
        return None if self.error is None else int(self.error.rsplit("@", 1)[1])


class _Fail(Exception):
    def __init__(self, kind: str, offset: int) -> None:
        super().__init__(kind, offset)
        self.kind, self.offset = kind, offset


def parse_completion(text: str, thinking_mode: str = "thinking",
                     tools: Sequence[Any] | None = None) -> ParseResult:
    """Parse what the model wrote after the generation prompt; never raises on any `str`.

    `tools` (OpenAI tool list, optional) enables the `string_typed_non_string` check.
    Only a bad `thinking_mode` (a programming error) raises `ValueError`.
    """
    if thinking_mode not in THINKING_MODES:
        raise ValueError(f"invalid thinking_mode {thinking_mode!r}: expected 'thinking' or 'chat'")
    if not isinstance(text, str):
        return ParseResult(False, None, "not_a_string@0", False)
    eos = text.endswith(EOS)
    try:
        message = _Parser(text, thinking_mode == THINKING, _schema_types(tools)).parse()
    except _Fail as fail:
        return ParseResult(False, None, f"{fail.kind}@{fail.offset}", eos)
    except Exception:  # a parser bug must not take a rollout down
        return ParseResult(False, None, "internal_error@0", eos)
    return ParseResult(True, message, None, eos)


def _schema_types(tools: Sequence[Any] | None) -> dict[str, dict[str, frozenset[str]]]:
    """tool name -> parameter name -> declared JSON-schema types (malformed entries ignored)."""
    out: dict[str, dict[str, frozenset[str]]] = {}
    try:
        entries = list(tools or ())
    except Exception:
        entries = []
    for tool in entries:
        try:
            function = tool.get("function", tool)
            props = (function.get("parameters") or {}).get("properties") or {}
            types = {}
            for key, prop in props.items():
                declared = prop.get("type") if isinstance(prop, dict) else None
                if isinstance(declared, str):
                    types[key] = frozenset([declared])
                elif isinstance(declared, list):
                    types[key] = frozenset(t for t in declared if isinstance(t, str))
            out[function["name"]] = types
        except Exception:
            continue
    return out


def _strict_json(raw: str) -> Any:
    def reject_constant(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    def finite_float(literal: str) -> float:
        value = float(literal)
        if not math.isfinite(value):
            raise ValueError("number out of range")
        return value

    return json.loads(raw, parse_constant=reject_constant, parse_float=finite_float)


def _partial_tail(text: str, start: int, end: int, literals: Sequence[str]) -> bool:
    """True if text[start:end] is a proper prefix of one of `literals` (text cut inside it)."""
    frag = text[start:end]
    return any(len(frag) < len(lit) and lit.startswith(frag) for lit in literals)


class _Parser:
    def __init__(self, text: str, thinking: bool,
                 schema: dict[str, dict[str, frozenset[str]]]) -> None:
        self.text, self.thinking, self.schema = text, thinking, schema
        self.n = len(text)
        self.eos_pos = text.find(EOS)
        self.has_eos = self.eos_pos != -1
        self.limit = self.eos_pos if self.has_eos else self.n

    # -- helpers -----------------------------------------------------------------------------
    def tag_start(self, m: int, floor: int) -> int:
        """Where the tag holding the DSML marker at m begins ('<', '</' or the marker itself)."""
        if m - 2 >= floor and self.text.startswith("</", m - 2):
            return m - 2
        if m - 1 >= floor and self.text[m - 1] == "<":
            return m - 1
        return m

    def tag_name(self, m: int) -> tuple[str, int]:
        match = _NAME_RE.match(self.text, m + len(DSML))
        assert match is not None
        return match.group(0), match.end()

    def end_fail(self, boundary: bool = False) -> _Fail:
        """The structure runs into EOS (unclosed) or into the end of the text (truncated)."""
        if self.has_eos:
            return _Fail("unclosed_function_calls", self.eos_pos)
        return _Fail("unclosed_function_calls" if boundary else "truncated", self.n)

    def earliest(self, start: int, end: int, needles: Sequence[str]) -> tuple[int, str]:
        best, which = -1, ""
        for needle in needles:
            pos = self.text.find(needle, start, end)
            if needle == DSML and pos != -1:
                pos = self.tag_start(pos, start)
            if pos != -1 and (best == -1 or pos < best):
                best, which = pos, needle
        return best, which

    # -- top level ---------------------------------------------------------------------------
    def parse(self) -> dict[str, Any]:
        text = self.text
        start, reasoning = 0, ""
        if self.thinking:
            close = text.find(THINK_CLOSE, 0, self.limit)
            r_end = close if close != -1 else self.limit
            pos, which = self.earliest(0, r_end, (DSML, BOS, THINK_OPEN))
            if pos != -1:
                kind = "dsml_in_reasoning" if which == DSML else "special_token_in_reasoning"
                raise _Fail(kind, pos)
            if close == -1:
                raise _Fail("missing_think_close", self.eos_pos) if self.has_eos else \
                    _Fail("truncated", self.n)
            reasoning, start = text[:close], close + len(THINK_CLOSE)
        calls_at = text.find(TOOL_CALLS_START, start, self.limit)
        content_end = calls_at if calls_at != -1 else self.limit
        self.check_content(start, content_end)
        calls: list[dict[str, Any]] = []
        if calls_at != -1:
            calls, pos = self.parse_block(calls_at)
            if pos != self.limit:
                raise _Fail("trailing_text_after_function_calls", pos)
        elif not self.has_eos and content_end == start:
            raise _Fail("truncated", self.n)
        if self.has_eos and self.eos_pos + len(EOS) != self.n:
            raise _Fail("trailing_text_after_eos", self.eos_pos + len(EOS))
        message: dict[str, Any] = {"role": "assistant", "content": text[start:content_end]}
        if self.thinking:
            message["reasoning_content"] = reasoning
        if calls:
            message["tool_calls"] = calls
        return message

    def check_content(self, start: int, end: int) -> None:
        text = self.text
        pos, which = self.earliest(start, end, (DSML, BOS, THINK_OPEN, THINK_CLOSE))
        for match in _LOOKALIKE_RE.finditer(text, start, end):
            if pos != -1 and match.start() >= pos:
                break
            if not match.group(0).startswith(_EXACT_TAG_STARTS):
                raise _Fail("corrupted_function_calls_tag", match.start())
        if pos == -1:
            if not self.has_eos and end == self.n:  # cut inside a "<｜DSML｜" tag opener
                opener = f"<{DSML}"
                for cut in range(max(start, end - len(opener) + 1), end - 1):
                    if opener.startswith(text[cut:end]):
                        raise _Fail("truncated", self.n)
            return
        if which != DSML:
            raise _Fail("special_token_in_content", pos)
        m = text.find(DSML, pos)
        name, after = self.tag_name(m)
        opening, closing = pos == m - 1, pos == m - 2
        if not self.has_eos and (opening or closing) and after == self.n and _partial_tail(
                text, pos, self.n, (FUNCTION_CALLS_OPEN, INVOKE_OPEN, PARAM_OPEN)):
            raise _Fail("truncated", self.n)
        if opening and name == "invoke":
            raise _Fail("invoke_without_function_calls", pos)
        if opening and name == "function_calls":
            if text.startswith(">", after):
                raise _Fail("missing_blank_line_before_function_calls", pos)
            raise _Fail("corrupted_function_calls_tag", pos)
        if (opening or closing) and name not in ("invoke", "parameter", "function_calls"):
            raise _Fail("corrupted_function_calls_tag", pos)
        raise _Fail("dsml_in_content", pos)

    # -- the DSML block ----------------------------------------------------------------------
    def parse_block(self, calls_at: int) -> tuple[list[dict[str, Any]], int]:
        text, limit = self.text, self.limit
        pos = calls_at + len(TOOL_CALLS_START)
        if not text.startswith(">\n", pos, limit):
            if _partial_tail(text, pos, limit, (">\n",)):
                raise self.end_fail()
            if text[pos] != ">":
                raise _Fail("corrupted_function_calls_tag", calls_at + 2)
            raise _Fail("unexpected_text_in_function_calls", pos + 1)
        pos += 2
        calls: list[dict[str, Any]] = []
        while True:
            if text.startswith(FUNCTION_CALLS_CLOSE, pos, limit):
                if not calls:
                    raise _Fail("empty_function_calls", calls_at + 2)
                return calls, pos + len(FUNCTION_CALLS_CLOSE)
            if not text.startswith(INVOKE_OPEN, pos, limit):
                raise self.fail_between(pos, bool(calls))
            call, pos = self.parse_invoke(pos)
            calls.append(call)
            if text.startswith("\n", pos, limit):
                pos += 1
            elif pos == limit:
                raise self.end_fail(boundary=True)
            else:
                raise _Fail("unexpected_text_in_function_calls", pos)

    def fail_between(self, pos: int, after_invoke: bool) -> _Fail:
        """Classify what sits where an invoke or the closing wrapper tag should be."""
        text, limit = self.text, self.limit
        if _partial_tail(text, pos, limit, (INVOKE_OPEN, FUNCTION_CALLS_CLOSE)):
            return self.end_fail(boundary=after_invoke and pos == limit)
        lookalike = _LOOKALIKE_RE.match(text, pos, limit)
        if lookalike and not lookalike.group(0).startswith(_EXACT_TAG_STARTS):
            return _Fail("corrupted_function_calls_tag", pos)
        m = text.find(DSML, pos, limit)
        if m == -1:
            if after_invoke:
                return _Fail("unclosed_function_calls", pos)
            return _Fail("unexpected_text_in_function_calls", pos)
        if self.tag_start(m, pos) != pos:
            return _Fail("unexpected_text_in_function_calls", pos)
        name, _ = self.tag_name(m)
        if text.startswith("</", pos):
            if name in ("invoke", "parameter"):
                return _Fail("unexpected_text_in_function_calls", pos)
            return _Fail("corrupted_function_calls_tag", pos)
        if name == "function_calls":
            return _Fail("unexpected_text_in_function_calls", pos)
        return _Fail("malformed_invoke", pos)

    def parse_invoke(self, start: int) -> tuple[dict[str, Any], int]:
        text, limit = self.text, self.limit
        pos = start + len(INVOKE_OPEN)
        m = text.find(DSML, pos, limit)
        if m == -1:
            raise self.end_fail()
        tag = self.tag_start(m, pos)
        header = _HEADER_RE.fullmatch(text, pos, tag)
        if header is None:
            raise _Fail("malformed_invoke", start)
        name = header.group(1)
        if not name:
            raise _Fail("empty_invoke_name", start)
        types = self.schema.get(name, {})
        args: dict[str, Any] = {}
        pos = tag
        while True:
            if text.startswith(PARAM_OPEN, pos, limit):
                key, value, pos = self.parse_param(pos, args, types)
                args[key] = value
                if text.startswith("\n", pos, limit):
                    pos += 1
                elif pos == limit:
                    raise self.end_fail()
                else:
                    raise _Fail("malformed_parameter", pos)
                continue
            if text.startswith(INVOKE_CLOSE, pos, limit):
                pos += len(INVOKE_CLOSE)
                break
            if _partial_tail(text, pos, limit, (PARAM_OPEN, INVOKE_CLOSE)) or pos == limit:
                raise self.end_fail()
            raise _Fail("malformed_invoke", pos)
        arguments = json.dumps(args, ensure_ascii=False)
        return {"type": "function", "function": {"name": name, "arguments": arguments}}, pos

    def parse_param(self, start: int, args: dict[str, Any],
                    types: dict[str, frozenset[str]]) -> tuple[str, Any, int]:
        text, limit = self.text, self.limit
        pos = start + len(PARAM_OPEN)
        m = text.find(DSML, pos, limit)
        if m == -1:
            raise self.end_fail()
        close = m - 2
        if not (close >= pos and text.startswith(PARAM_CLOSE, close, limit)):
            if close >= pos and _partial_tail(text, close, limit, (PARAM_CLOSE,)):
                raise self.end_fail()
            raise _Fail("malformed_parameter", start)
        attrs = _PARAM_RE.match(text, pos, close)
        if attrs is None:
            raise _Fail("malformed_parameter", start)
        key, is_string, raw = attrs.group(1), attrs.group(2) == "true", text[attrs.end():close]
        if key in args:
            raise _Fail("duplicate_parameter", start)
        if is_string:
            declared = types.get(key, frozenset())
            if declared & NON_STRING_TYPES and "string" not in declared:
                raise _Fail("string_typed_non_string", start)
            value: Any = raw
        else:
            try:
                value = _strict_json(raw)
            except Exception:
                raise _Fail("invalid_json_value", attrs.end()) from None
        return key, value, close + len(PARAM_CLOSE)
