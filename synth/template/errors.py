"""The stable error kinds of `parse_completion` ("kind@offset").

Callers switch on the kind (e.g. rollout finish reasons "parse_error:<kind>"), so the names are
part of the public API: add kinds, never rename them.
"""

from __future__ import annotations

from collections.abc import Mapping

ERROR_KIND_DOCS: Mapping[str, str] = {
    "missing_think_close": "thinking mode: EOS came before any </think>",
    "dsml_in_reasoning": "｜DSML｜ markup before </think> (tool calls emitted inside the thinking)",
    "special_token_in_reasoning": "BOS or <think> inside the reasoning",
    "special_token_in_content": "BOS, <think> or </think> inside the content",
    "dsml_in_content": "a stray ｜DSML｜ marker in the content (not one of the shapes below)",
    "invoke_without_function_calls": "<｜DSML｜invoke ...> with no function_calls wrapper",
    "missing_blank_line_before_function_calls":
        "<｜DSML｜function_calls> preceded by one newline or none instead of a blank line",
    "corrupted_function_calls_tag":
        "damaged wrapper tag name (e.g. <｜DSML｜function_call>, </｜DSML｜function_callz>, "
        "<|DSML|function_calls> with ASCII bars)",
    "empty_function_calls": "a function_calls block with no invoke in it",
    "unclosed_function_calls":
        "the function_calls block is never closed (EOS, prose, or the end of the text after "
        "a complete invoke)",
    "malformed_invoke": "an invoke whose header or closing tag is malformed",
    "empty_invoke_name": 'an invoke with name=""',
    "malformed_parameter": "a parameter tag that is malformed or not closed properly",
    "duplicate_parameter": "the same parameter name twice in one invoke",
    "invalid_json_value": 'a string="false" value that is not strict JSON',
    "string_typed_non_string":
        'string="true" for a parameter whose schema type is array/object/number/integer/'
        "boolean (only checked when `tools` is given)",
    "unexpected_text_in_function_calls": "text between invokes inside the function_calls block",
    "trailing_text_after_function_calls": "text after </｜DSML｜function_calls> other than EOS",
    "trailing_text_after_eos": "text after the EOS token",
    "truncated": "the text ends mid-structure without EOS (e.g. cut by a token limit)",
    "not_a_string": "the input is not a str",
    "internal_error": "a bug in the parser (never expected; reported instead of raised)",
}
ERROR_KINDS: frozenset[str] = frozenset(ERROR_KIND_DOCS)

__all__ = ["ERROR_KINDS", "ERROR_KIND_DOCS"]
