"""Token-level training samples: one per user turn of a trajectory.

Each sample is the conversation up to the last assistant message of its user turn, rendered
with `thinking_mode="thinking", drop_thinking=True` as the model saw it (earlier turns have
lost their reasoning) and tokenized segment by segment. `assistant_masks` is 1 exactly on the
tokens the model wrote in that turn: reasoning, `</think>`, content, DSML calls and EOS.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from synth.conversation import Conversation, assemble
from synth.tokenizer import Tokenizer


class CompletionLike(Protocol):
    """What a sample needs from a completion record (token-in/token-out)."""

    text: str
    token_ids: list[int] | None


@dataclass
class Sample:
    """One training sample."""

    turn: int
    messages: list[dict[str, Any]]
    input_ids: list[int]
    assistant_masks: list[int]


def build_samples(messages: Sequence[dict[str, Any]], tokenizer: Tokenizer,
                  completions: Sequence[CompletionLike] | None = None) -> list[Sample]:
    """Samples of a trajectory. `completions[i]` is what produced the i-th assistant message
    (its token ids are kept when they match the rendered text); omit for canonical ids."""
    return [Sample(turn, messages_, *assemble(plan, tokenizer.encode))
            for turn, messages_, plan in _plans(messages, tokenizer, completions)]


def build_samples_many(
    trajectories: Sequence[tuple[Sequence[dict[str, Any]], Sequence[CompletionLike] | None]],
    tokenizer: Tokenizer,
) -> list[list[Sample]]:
    """`build_samples` for many trajectories: render all first, tokenize every distinct
    segment in one parallel batch, then assemble; the same ids, far fewer encoder calls."""
    plans = [_plans(messages, tokenizer, completions) for messages, completions in trajectories]
    distinct = list(dict.fromkeys(text for per_trajectory in plans for _, _, plan in per_trajectory
                                  for text, _, model_ids in plan if model_ids is None))
    tokenizer.prefetch(distinct)
    memo = dict(zip(distinct, map(tokenizer.encode, distinct), strict=True))
    return [[Sample(turn, messages_, *assemble(plan, memo.__getitem__))
             for turn, messages_, plan in per_trajectory] for per_trajectory in plans]


def _plans(messages: Sequence[dict[str, Any]], tokenizer: Tokenizer,
           completions: Sequence[CompletionLike] | None,
           ) -> list[tuple[int, list[dict[str, Any]], list[tuple[str, bool, list[int] | None]]]]:
    """Replay a trajectory; at the end of each user turn take (turn, messages, sample plan)."""
    users = [i for i, m in enumerate(messages) if m.get("role") == "user"]
    turn_ends: dict[int, int] = {}  # index of a turn's last assistant message -> turn number
    for turn, start in enumerate(users):
        stop = users[turn + 1] if turn + 1 < len(users) else len(messages)
        replies = [i for i in range(start, stop) if messages[i].get("role") == "assistant"]
        if replies:
            turn_ends[replies[-1]] = turn
    conv = Conversation(tokenizer)
    plans = []
    replies_seen = 0
    for index, message in enumerate(messages):
        role = message.get("role")
        if role == "system":
            conv.add_system(message)
        elif role == "user":
            conv.add_user(message.get("content", ""))
        elif role == "assistant":
            record = None
            if completions is not None and replies_seen < len(completions):
                record = completions[replies_seen]
            conv.add_completion(message, record.text if record else None,
                                record.token_ids if record else None)
            replies_seen += 1
        elif role == "tool":
            conv.add_tool_results([message])
        else:
            raise ValueError(f"messages[{index}]: unsupported role {role!r} in a trajectory")
        if index in turn_ends:
            plans.append((turn_ends[index], [dict(m) for m in messages[:index + 1]],
                          conv.sample_plan()))
    return plans
