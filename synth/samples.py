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

from synth.conversation import Conversation
from synth.template import PromptRenderer
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
    users = [i for i, m in enumerate(messages) if m.get("role") == "user"]
    turn_ends: dict[int, int] = {}  # index of a turn's last assistant message -> turn number
    for turn, start in enumerate(users):
        stop = users[turn + 1] if turn + 1 < len(users) else len(messages)
        replies = [i for i in range(start, stop) if messages[i].get("role") == "assistant"]
        if replies:
            turn_ends[replies[-1]] = turn
    conv = Conversation(tokenizer)
    samples: list[Sample] = []
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
            input_ids, masks = conv.sample()
            samples.append(Sample(turn_ends[index], [dict(m) for m in messages[:index + 1]],
                                  input_ids, masks))
    return samples


def build_samples_many(
    trajectories: Sequence[tuple[Sequence[dict[str, Any]], Sequence[CompletionLike] | None]],
    tokenizer: Tokenizer,
) -> list[list[Sample]]:
    """`build_samples` for many trajectories, with the segments they need tokenized first in
    one parallel batch; same ids, fewer Python-level encoder calls."""
    texts: list[str] = []
    for messages, _ in trajectories:
        renderer = PromptRenderer()
        for message in messages:
            if message.get("role") == "user":  # the turn before, as its sample renders it
                texts.extend(s.text for s in renderer.segments)
            renderer.add_message(message)
        texts.extend(s.text for s in renderer.segments)
    tokenizer.prefetch(texts)
    return [build_samples(messages, tokenizer, completions)
            for messages, completions in trajectories]
