"""The environment contract: tools, tasks, families, the registry and the live runtime."""

from synth.env.family import (
    EXPECTED,
    MIN_CORRUPTIONS,
    Corruption,
    Draft,
    EnvFamily,
    FamilyOptions,
    Generated,
    SolutionError,
    Toolbox,
    tool,
    validation_failure,
)
from synth.env.money import cents_in, dollars, money, numbers_in
from synth.env.outcome import copy_state, first_difference
from synth.env.registry import (
    family_names,
    get_family,
    register,
    register_factory,
    unregister,
)
from synth.env.runtime import Environment
from synth.env.task import (
    ReferenceTurn,
    Task,
    Verdict,
    canonical_hash,
    canonical_json,
    make_task_id,
    parse_task_id,
)
from synth.env.tools import (
    Tool,
    ToolCall,
    ToolError,
    ToolResult,
    execute_call,
    lookup,
    object_schema,
)

__all__ = [
    "EXPECTED",
    "MIN_CORRUPTIONS",
    "Corruption",
    "Draft",
    "EnvFamily",
    "Environment",
    "FamilyOptions",
    "Generated",
    "ReferenceTurn",
    "SolutionError",
    "Task",
    "Tool",
    "ToolCall",
    "ToolError",
    "ToolResult",
    "Toolbox",
    "Verdict",
    "canonical_hash",
    "canonical_json",
    "cents_in",
    "copy_state",
    "dollars",
    "execute_call",
    "family_names",
    "first_difference",
    "get_family",
    "lookup",
    "make_task_id",
    "money",
    "numbers_in",
    "object_schema",
    "parse_task_id",
    "register",
    "register_factory",
    "tool",
    "unregister",
    "validation_failure",
]
