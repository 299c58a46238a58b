"""What a rollout produces: the conversation, every completion, and how it ended."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# How a trajectory can end. Parse errors and policy errors carry their kind after a colon.
FINISH_ANSWERED = "answered"
FINISH_TOOL_BUDGET = "tool_budget"
FINISH_CONTEXT_BUDGET = "context_budget"
FINISH_TRUNCATED = "truncated"
FINISH_PARSE_ERROR = "parse_error"
FINISH_POLICY_ERROR = "policy_error"
FINISH_USER_ERROR = "user_simulator_error"
FINISH_INTERNAL_ERROR = "internal_error"


@dataclass
class CompletionRecord:
    """One model call: what it wrote, its ids when known, and what it cost."""

    turn: int
    step: int
    text: str
    finish_reason: str
    token_ids: list[int] | None = None
    error: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    attempts: int = 1
    eos_stripped: bool = False
    #: the call failed without a model answer (an outage, not an outcome of the model)
    infrastructure: bool = False
    #: why the served token ids were replaced by the text's own tokenization (or None)
    retokenized: str | None = None
    segment: int = 0  # which context it was written in (see synth.rollout.context)


@dataclass
class Trajectory:
    """A rollout of one task. `messages` are OpenAI format with `reasoning_content` kept for
    every turn (the sample builder drops it where the template does). After a context cut
    they hold each context (segment) in turn, each starting with its system message."""

    trajectory_id: str
    task_id: str
    family: str
    difficulty: int
    seed: int
    sample_index: int
    messages: list[dict[str, Any]]
    completions: list[CompletionRecord] = field(default_factory=list)
    finish_reason: str = ""
    reward: float = 0.0
    passed: bool = False
    verdict_reason: str = ""
    n_turns: int = 0
    n_tool_calls: int = 0
    n_tool_errors: int = 0
    context_tokens: int = 0
    wall_s: float = 0.0
    model: str = ""
    context_strategy: str = ""
    context_resets: int = 0

    @property
    def outage(self) -> bool:
        """Ended because the model could not be reached: not data, to be rolled out again."""
        return self.finish_reason.startswith(f"{FINISH_POLICY_ERROR}:") and bool(
            self.completions) and self.completions[-1].infrastructure

    @property
    def completion_tokens(self) -> int:
        return sum(c.completion_tokens for c in self.completions)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Trajectory:
        fields = dict(data)
        fields["completions"] = [CompletionRecord(**c) for c in data["completions"]]
        return cls(**fields)
