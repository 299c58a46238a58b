"""The DeepSeek-V3.2 chat template codec (TEMPLATE.md is the specification).

* `encode_messages`: messages -> prompt text, byte-identical to the reference encoder.
* `parse_completion`: model text -> assistant message, never raising; errors are
  "kind@offset" with kinds from `ERROR_KINDS`.
* `render_completion`: the text a model writes for one assistant message.
* `PromptRenderer`: a rollout's prompt, appended to in O(new text), exposed as `Segment`s.
"""

from synth.template._constants import (
    ASSISTANT,
    BOS,
    DSML,
    EOS,
    EOS_ID,
    RESULTS_CLOSE,
    THINK_CLOSE,
    THINK_OPEN,
    USER,
)
from synth.template.encode import encode_messages, render_completion, render_tools, to_json
from synth.template.errors import ERROR_KIND_DOCS, ERROR_KINDS
from synth.template.incremental import SEGMENT_KINDS, PromptRenderer, Segment
from synth.template.parse import ParseResult, parse_completion

__all__ = [
    "ASSISTANT",
    "BOS",
    "DSML",
    "EOS",
    "EOS_ID",
    "ERROR_KINDS",
    "ERROR_KIND_DOCS",
    "RESULTS_CLOSE",
    "SEGMENT_KINDS",
    "THINK_CLOSE",
    "THINK_OPEN",
    "USER",
    "ParseResult",
    "PromptRenderer",
    "Segment",
    "encode_messages",
    "parse_completion",
    "render_completion",
    "render_tools",
    "to_json",
]
