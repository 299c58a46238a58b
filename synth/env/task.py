"""The Task: everything a rollout, a verifier and an RL trainer need, as plain JSON data.

A task carries its initial state, prompts, exposed tools, the reference solution as a trace of
tool calls (recorded by running the family's solution through the tools) and a verifier spec
(`check`) that the family's `verify` interprets. Code stays in the family; the task is data,
so it can be exported, shipped to another process and regenerated from its seed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from synth.env.tools import ToolCall


def canonical_json(value: Any) -> str:
    """Key-sorted, compact JSON: equal values give equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_hash(value: Any) -> str:
    """sha256 of the canonical JSON of `value` (the state comparison verifiers use)."""
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


@dataclass(frozen=True)
class Verdict:
    """A verifier's judgement: a score in [0, 1], pass/fail and a reason a person can read."""

    score: float
    reason: str
    passed: bool | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.score <= 1.0:
            raise ValueError(f"verdict score {self.score} outside [0, 1]")
        if self.passed is None:
            object.__setattr__(self, "passed", self.score >= 1.0)

    @classmethod
    def ok(cls, reason: str = "all checks passed") -> Verdict:
        return cls(1.0, reason, True)

    @classmethod
    def fail(cls, reason: str, score: float = 0.0) -> Verdict:
        return cls(score, reason, False)


@dataclass
class ReferenceTurn:
    """The reference solution for one user turn: rounds of tool calls, then the answer."""

    rounds: list[list[ToolCall]]
    answer: str

    @property
    def n_calls(self) -> int:
        return sum(len(r) for r in self.rounds)

    def to_json(self) -> dict[str, Any]:
        return {
            "rounds": [[c.to_json() for c in r] for r in self.rounds],
            "answer": self.answer,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReferenceTurn:
        rounds = [[ToolCall.from_json(c) for c in r] for r in data["rounds"]]
        return cls(rounds=rounds, answer=data["answer"])


@dataclass
class Task:
    """One verified task of one environment family."""

    task_id: str
    family: str
    seed: int
    difficulty: int
    system_prompt: str
    user_turns: list[str]
    tools: list[dict[str, Any]]
    initial_state: Any
    reference: list[ReferenceTurn]
    check: dict[str, Any]
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def multi_turn(self) -> bool:
        return len(self.user_turns) > 1

    @property
    def tool_names(self) -> list[str]:
        return [t["function"]["name"] for t in self.tools]

    @property
    def n_reference_calls(self) -> int:
        return sum(t.n_calls for t in self.reference)

    def system_message(self) -> dict[str, Any]:
        """The system message the rollout starts with (it carries the tools)."""
        return {"role": "system", "content": self.system_prompt, "tools": self.tools}

    def state_hash(self) -> str:
        return canonical_hash(self.initial_state)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["reference"] = [t.to_json() for t in self.reference]
        return data

    def to_json_text(self) -> str:
        return canonical_json(self.to_json())

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Task:
        fields = dict(data)
        fields["reference"] = [ReferenceTurn.from_json(t) for t in data["reference"]]
        return cls(**fields)


def make_task_id(family: str, difficulty: int, seed: int) -> str:
    """A task id that names its family, level and seed, so any task can be regenerated."""
    return f"{family}.d{difficulty}.{seed:016x}"


def parse_task_id(task_id: str) -> tuple[str, int, int]:
    """Inverse of `make_task_id`: (family, difficulty, seed); ValueError if malformed."""
    try:
        family, level, seed_hex = task_id.rsplit(".", 2)
        if not level.startswith("d"):
            raise ValueError
        return family, int(level[1:]), int(seed_hex, 16)
    except ValueError:
        raise ValueError(f"malformed task id {task_id!r}") from None
