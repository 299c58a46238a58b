"""The environment contract: tools, tasks, families, the registry and the live runtime."""

from synth.env.family import (
    Corruption,
    Draft,
    EnvFamily,
    FamilyConfig,
    Generated,
    SolutionError,
    Toolbox,
    copy_state,
    tool,
)
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
    "Corruption",
    "Draft",
    "EnvFamily",
    "Environment",
    "FamilyConfig",
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
    "copy_state",
    "execute_call",
    "family_names",
    "get_family",
    "lookup",
    "make_task_id",
    "object_schema",
    "parse_task_id",
    "register",
    "register_factory",
    "tool",
    "unregister",
]
