"""A live environment for one rollout: a private state and the task's tools over it."""

from __future__ import annotations

import contextlib
from typing import Any

from synth.env.family import EnvFamily
from synth.env.task import Task, Verdict
from synth.env.tools import ToolResult, execute_call


class Environment:
    """Executes a model's tool calls on a fresh copy of the task's state, then verifies."""

    def __init__(self, family: EnvFamily, task: Task) -> None:
        self.family = family
        self.task = task
        self.state = family.new_state(task)
        self._tools = {name: family.tools[name] for name in task.tool_names}
        self.calls = 0
        self.errors = 0

    def call(self, name: str, arguments: str | dict[str, Any]) -> ToolResult:
        """Run one call; errors come back as results, never as exceptions."""
        result = execute_call(self._tools, self.state, name, arguments)
        self.calls += 1
        self.errors += 0 if result.ok else 1
        return result

    def close(self) -> None:
        """Release the state's resources (never raises: a rollout must still be recorded)."""
        with contextlib.suppress(Exception):  # best effort; the verdict is kept
            self.family.release_state(self.state)

    def verify(self, answer: str) -> Verdict:
        """The family's verdict on the current state and the final answer (never raises)."""
        try:
            return self.family.verify(self.task, self.state, answer)
        except Exception as exc:
            return Verdict.fail(f"verifier error: {type(exc).__name__}: {exc}")
