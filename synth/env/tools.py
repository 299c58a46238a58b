"""Tools: a name, a description, JSON Schema parameters and a callable over the state.

A tool call from a model can be wrong in many ways (unknown name, arguments that are not JSON,
arguments that break the schema, a domain error, a bug in the tool). None of these may crash a
rollout: `execute_call` turns each into an error *result* the model sees, with a stable kind so
that analysis can count them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jsonschema
from jsonschema import Draft202012Validator


class ToolError(Exception):
    """Raised inside a tool for a domain error the model should read (e.g. 'order not found')."""


@dataclass(frozen=True)
class ToolCall:
    """One call: a tool name and its decoded arguments (a JSON object)."""

    name: str
    arguments: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "arguments": self.arguments}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ToolCall:
        return cls(name=data["name"], arguments=dict(data["arguments"]))

    def to_openai(self) -> dict[str, Any]:
        """The OpenAI `tool_calls` entry the template renders."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "arguments": json.dumps(self.arguments, ensure_ascii=False),
            },
        }


@dataclass(frozen=True)
class ToolResult:
    """What a call returned: the text the model reads, and whether it was an error (and why)."""

    text: str
    value: Any = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


ToolFn = Callable[..., Any]


@dataclass
class Tool:
    """A tool exposed to the model. `fn(state, **arguments)` returns a JSON-able value."""

    name: str
    description: str
    parameters: dict[str, Any]
    fn: ToolFn
    writes: bool = False
    _validator: Draft202012Validator | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValueError(f"tool name {self.name!r} must be an identifier")
        Draft202012Validator.check_schema(self.parameters)
        if self.parameters.get("type") != "object":
            raise ValueError(f"tool {self.name!r}: parameters schema must have type 'object'")
        self._validator = Draft202012Validator(self.parameters)

    def to_openai(self) -> dict[str, Any]:
        """The OpenAI tool entry, as put on the system message's `tools`."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }

    def validation_error(self, arguments: Mapping[str, Any]) -> str | None:
        """The first schema violation as a readable sentence, or None when valid."""
        validator = self._validator or Draft202012Validator(self.parameters)
        if validator.is_valid(arguments):  # the common case; explaining is the slow part
            return None
        error = jsonschema.exceptions.best_match(validator.iter_errors(arguments))
        if error is None:
            return None
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        return f"{where}: {error.message}"


def object_schema(
    properties: Mapping[str, Any], required: list[str] | None = None
) -> dict[str, Any]:
    """A closed object schema; every property is required unless `required` says otherwise."""
    return {
        "type": "object",
        "properties": dict(properties),
        "required": list(properties) if required is None else list(required),
        "additionalProperties": False,
    }


def lookup(table: Mapping[str, Any], key: str, what: str) -> Any:
    """`table[key]`, or a ToolError "no <what> <key>" that the model reads as the result."""
    if key not in table:
        raise ToolError(f"no {what} {key}")
    return table[key]


def to_result_text(value: Any) -> str:
    """Tool results are shown to the model as JSON text (strings as they are)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _error(kind: str, message: str) -> ToolResult:
    return ToolResult(text=f"Error: {message}", error=kind)


def execute_call(
    tools: Mapping[str, Tool], state: Any, name: str, arguments: str | Mapping[str, Any]
) -> ToolResult:
    """Run one call against `state`. Never raises: every failure becomes an error result."""
    tool = tools.get(name)
    if tool is None:
        known = ", ".join(sorted(tools))
        return _error("unknown_tool", f"unknown tool {name!r}; available tools: {known}")
    if isinstance(arguments, str):
        try:
            decoded = json.loads(arguments) if arguments.strip() else {}
        except json.JSONDecodeError as exc:
            return _error("invalid_json", f"arguments of {name} are not valid JSON ({exc.msg})")
    else:
        decoded = arguments
    if not isinstance(decoded, dict):
        return _error("invalid_arguments", f"arguments of {name} must be a JSON object")
    problem = tool.validation_error(decoded)
    if problem is not None:
        return _error("invalid_arguments", f"invalid arguments for {name}: {problem}")
    try:
        value = tool.fn(state, **decoded)
    except ToolError as exc:
        return _error("tool_error", str(exc))
    except Exception as exc:  # a bug in a tool must not end the rollout
        return _error("tool_exception", f"{name} failed: {type(exc).__name__}: {exc}")
    try:
        text = to_result_text(value)
    except (TypeError, ValueError) as exc:
        return _error("tool_exception", f"{name} returned a non-JSON value: {exc}")
    return ToolResult(text=text, value=value)
