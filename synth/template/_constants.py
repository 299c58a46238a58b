"""The literal strings of the DeepSeek-V3.2 prompt format (see TEMPLATE.md).

Kept in one place so that the encoder, the parser and the incremental renderer cannot drift
apart: every byte they emit or expect comes from here.
"""

from __future__ import annotations

BOS = "<｜begin▁of▁sentence｜>"
EOS = "<｜end▁of▁sentence｜>"
EOS_ID = 1  # the id of EOS in the V3.2 vocabulary (the model card's; checked by the tests)
USER = "<｜User｜>"
ASSISTANT = "<｜Assistant｜>"
THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"
DSML = "｜DSML｜"

THINKING = "thinking"
CHAT = "chat"
THINKING_MODES = (THINKING, CHAT)

FUNCTION_CALLS_OPEN = f"<{DSML}function_calls>"
FUNCTION_CALLS_CLOSE = f"</{DSML}function_calls>"
# What the parser looks for to leave the content (no ">": a damaged tag name is caught later).
TOOL_CALLS_START = f"\n\n<{DSML}function_calls"
INVOKE_OPEN = f"<{DSML}invoke"
INVOKE_CLOSE = f"</{DSML}invoke>"
PARAM_OPEN = f"<{DSML}parameter"
PARAM_CLOSE = f"</{DSML}parameter>"

RESULTS_OPEN = "\n\n<function_results>"
RESULTS_CLOSE = "\n</function_results>"
DEVELOPER_PREFIX = "\n\n# The user's message is: "
RESPONSE_FORMAT_PREFIX = (
    "## Response Format:\n\nYou MUST strictly adhere to the following schema to reply:\n"
)

TOOLS_TEMPLATE = """## Tools

You have access to a set of tools you can use to answer the user's question.
You can invoke functions by writing a "<{dsml}function_calls>" block like the following as part of your reply to the user:
<{dsml}function_calls>
<{dsml}invoke name="$FUNCTION_NAME">
<{dsml}parameter name="$PARAMETER_NAME" string="true|false">$PARAMETER_VALUE</{dsml}parameter>
...
</{dsml}invoke>
<{dsml}invoke name="$FUNCTION_NAME2">
...
</{dsml}invoke>
</{dsml}function_calls>

String and scalar parameters should be specified as is without any escaping or quotes, while lists and objects should use JSON format. The "string" attribute should be set to "true" for string type parameters and "false" for other types (numbers, booleans, arrays, objects).

If the thinking_mode is enabled, then after function results you should strongly consider outputting a thinking block. Here is an example:

<{dsml}function_calls>
...
</{dsml}function_calls>

<function_results>
...
</function_results>

{think_open}...thinking about results{think_close}

Here are the functions available in JSONSchema format:
<functions>
{tool_schemas}
</functions>
"""  # noqa: E501

# Text that must never appear inside reasoning or content of a parsed message.
FORBIDDEN_IN_TEXT = (BOS, EOS, THINK_OPEN, THINK_CLOSE, DSML)
