"""User simulators: who writes the follow-up requests of multi-turn tasks.

The scripted user replays the task's follow-ups word for word (miniature runs, tests). The
model-backed user asks a second policy, in chat mode, to phrase the next scripted request in
its own words given the conversation so far, so real runs get natural follow-ups while the
verifier's expectations (which follow the script) still hold.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from synth.env import Task
from synth.policy.base import Policy, Prompt, Sampling
from synth.template import encode_messages, parse_completion

DEFAULT_USER_INSTRUCTIONS = (
    "You are simulating a customer talking to an assistant. You will be given the assistant's "
    "last reply and the request you must make next. Write only your next message to the "
    "assistant, in your own words, in one or two sentences. Keep every concrete detail "
    "(names, ids, amounts, dates) of the request exactly as given. Do not add new requests."
)


class UserSimulator(ABC):
    """Produces the user message for turn `turn` (1-based follow-ups), or None to stop."""

    @abstractmethod
    async def follow_up(self, task: Task, turn: int, messages: list[dict[str, Any]],
                        tag: str) -> str | None:
        """The next user message, or None when the task has no more turns."""


class ScriptedUser(UserSimulator):
    """Replays the task's scripted follow-ups."""

    async def follow_up(self, task: Task, turn: int, messages: list[dict[str, Any]],
                        tag: str) -> str | None:
        return task.user_turns[turn] if turn < len(task.user_turns) else None


class ModelUser(UserSimulator):
    """A second policy (chat mode) that phrases the scripted follow-up naturally."""

    def __init__(self, policy: Policy, sampling: Sampling | None = None,
                 instructions: str = DEFAULT_USER_INSTRUCTIONS) -> None:
        self.policy = policy
        self.sampling = sampling or Sampling(temperature=0.7, max_tokens=512)
        self.instructions = instructions

    async def follow_up(self, task: Task, turn: int, messages: list[dict[str, Any]],
                        tag: str) -> str | None:
        if turn >= len(task.user_turns):
            return None
        last_reply = next((m.get("content") or "" for m in reversed(messages)
                           if m["role"] == "assistant"), "")
        conversation = [
            {"role": "system", "content": self.instructions},
            {"role": "user", "content": f"The assistant replied:\n{last_reply}\n\n"
                                        f"Your next request:\n{task.user_turns[turn]}"},
        ]
        text = encode_messages(conversation, thinking_mode="chat")
        completion = await self.policy.complete(Prompt(text, tag=f"{tag}/user{turn}"),
                                                self.sampling)
        if completion.finish_reason == "error":
            raise RuntimeError(f"user simulator policy failed: {completion.error}")
        parsed = parse_completion(completion.text, thinking_mode="chat")
        content = (parsed.message or {}).get("content", "").strip() if parsed.ok else ""
        return content or task.user_turns[turn]
