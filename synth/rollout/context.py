"""Context management for long rollouts (the report's search-agent strategies).

When the prompt passes `trigger` x `max_context_tokens`, the conversation is cut and goes on in
a new context: `discard_all` drops every earlier tool call and result (the question and earlier
answers stay), `discard_75` drops the oldest 75% of tool-call rounds, `summary` has the model
summarize its progress and restarts from the question plus that summary, `none` never cuts.

The prompt after a cut no longer extends the one before, so each context is a segment of the
trajectory: `messages` holds the segments one after another, each starting with its system
message, and every completion record names its segment. `synth.samples` turns each segment
into its own training sample (kept messages carried into a new segment are context, mask 0).
"""

from __future__ import annotations

import json
import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from synth.conversation import Conversation
from synth.env import Task
from synth.tokenizer import Tokenizer

Strategy = Literal["discard_all", "discard_75", "summary", "none"]
SUMMARY_REQUEST = (
    "Your context is nearly full. Summarize your progress on the task above for yourself: "
    "what you have established (with page ids and exact values), what you ruled out, and what "
    "is left to check. Do not call tools; reply with the summary only."
)
TRANSCRIPT_RESULT_CHARS = 2000


class ContextManagement(BaseModel):
    """What to do when a trajectory's context fills up."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    strategy: Strategy = "discard_all"
    trigger: float = Field(0.8, gt=0.0, le=1.0, description="fraction of max_context_tokens")
    max_resets: int = Field(16, ge=0, description="cuts per trajectory before giving up")
    summary_request: str = Field(SUMMARY_REQUEST, min_length=1)


def opening_messages(task: Task) -> tuple[dict[str, Any], dict[str, Any]]:
    """The system message and the first turn. Tasks whose metadata says
    `prompt_role: developer` arrive as a developer message (the template reserves that role
    for search agents), which carries the tools when `tools_in: developer` (rendered inside the
    user turn); all others as a user message after a system message carrying the tools."""
    if task.metadata.get("prompt_role") == "developer":
        if task.metadata.get("tools_in") == "developer":
            return ({"role": "system", "content": task.system_prompt},
                    {"role": "developer", "content": task.user_turns[0], "tools": task.tools})
        return task.system_message(), {"role": "developer", "content": task.user_turns[0]}
    return task.system_message(), {"role": "user", "content": task.user_turns[0]}


def replay(messages: list[dict[str, Any]], tokenizer: Tokenizer | None) -> Conversation:
    """A conversation holding `messages`; assistant messages among them are context only."""
    conv = Conversation(tokenizer)
    for message in messages:
        role = message["role"]
        if role == "system":
            conv.add_system(message)
        elif role in ("user", "developer"):
            conv.add_opening(message)
        elif role == "assistant":
            conv.add_completion(message, trained=False)
        else:
            conv.add_tool_results([message])
    return conv


def tool_rounds(messages: list[dict[str, Any]]) -> list[list[int]]:
    """Indexes of each tool-call round: an assistant message with calls and its results."""
    rounds: list[list[int]] = []
    for i, message in enumerate(messages):
        if message["role"] == "assistant" and message.get("tool_calls"):
            rounds.append([i])
        elif message["role"] == "tool" and rounds:
            rounds[-1].append(i)
    return rounds


def kept_after_discard(messages: list[dict[str, Any]], fraction: float) -> list[dict[str, Any]]:
    """`messages` without the oldest `fraction` of tool-call rounds (at least one round)."""
    rounds = tool_rounds(messages)
    dropped = {i for r in rounds[:max(1, math.ceil(fraction * len(rounds)))] for i in r}
    return [m for i, m in enumerate(messages) if i not in dropped]


def transcript(messages: list[dict[str, Any]]) -> str:
    """The tool calls and results of a context as plain text (for the summary request)."""
    lines = []
    for message in messages:
        if message["role"] == "assistant":
            if message.get("content"):
                lines.append(f"Assistant: {message['content']}")
            for call in message.get("tool_calls") or ():
                fn = call["function"]
                lines.append(f"Called {fn['name']}({fn['arguments']})")
        elif message["role"] == "tool":
            lines.append("Result: " + message["content"][:TRANSCRIPT_RESULT_CHARS])
    return "\n".join(lines)


class ManagedContext:
    """The current conversation of a rollout and the segments it has left behind."""

    def __init__(self, task: Task, tokenizer: Tokenizer | None,
                 config: ContextManagement) -> None:
        self.task, self.tokenizer, self.config = task, tokenizer, config
        self.system, self.opening = opening_messages(task)
        self.conv = Conversation(tokenizer)
        self.conv.add_system(self.system)
        self.conv.add_opening(self.opening)
        self.finished: list[dict[str, Any]] = []
        self.segment = 0
        self.resets = 0

    @property
    def messages(self) -> list[dict[str, Any]]:
        """Every segment's messages, one after another (each starts with its system message)."""
        return self.finished + self.conv.messages

    def wants_reset(self, max_context_tokens: int) -> bool:
        if self.config.strategy == "none" or self.resets >= self.config.max_resets:
            return False
        if self.conv.n_tokens <= self.config.trigger * max_context_tokens:
            return False
        return bool(tool_rounds(self.conv.messages))

    def _start_segment(self, messages: list[dict[str, Any]]) -> None:
        self.finished += self.conv.messages
        self.conv = replay(messages, self.tokenizer)
        self.segment += 1

    def discard(self) -> None:
        """Apply `discard_all` or `discard_75` to the current context."""
        fraction = 1.0 if self.config.strategy == "discard_all" else 0.75
        self._start_segment(kept_after_discard(self.conv.messages, fraction))
        self.resets += 1

    def summary_prompt(self) -> list[dict[str, Any]]:
        """The context that asks for a summary: the question, the transcript, the request."""
        current = self.conv.messages
        last_opening = max(i for i, m in enumerate(current)
                           if m["role"] in ("user", "developer"))
        question = current[last_opening]["content"]
        body = (f"{question}\n\n## What you did so far\n{transcript(current[last_opening:])}"
                f"\n\n{self.config.summary_request}")
        opening = {"role": self.opening["role"], "content": body}
        return [{"role": "system", "content": self.system.get("content", "")}, opening]

    def begin_summary(self) -> None:
        """Leave the current context; the next completion (the summary) gets its own."""
        self._start_segment(self.summary_prompt())

    def restart_from_summary(self, summary: str) -> None:
        """After the summary: a fresh context with the question and the summary."""
        question = json.loads(json.dumps(self.opening))
        if summary.strip():
            question["content"] += f"\n\n## Your summary of the progress so far\n{summary}"
        self._start_segment([self.system, question])
        self.resets += 1
