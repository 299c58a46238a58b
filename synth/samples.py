"""Token-level training samples: one per user turn of a trajectory (and per context segment,
when context management cut the trajectory).

Each sample is the conversation up to the last assistant message of its user turn, rendered
with `thinking_mode="thinking", drop_thinking=True` as the model saw it (earlier turns have
lost their reasoning) and tokenized segment by segment. `assistant_masks` is 1 exactly on the
tokens the model wrote in that turn of that context: reasoning, `</think>`, content, DSML calls
and EOS (messages carried over into a new context are not trained again).
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
    """One training sample: a user turn of one context segment (segment 0 unless the
    rollout's context was cut)."""

    turn: int
    messages: list[dict[str, Any]]
    input_ids: list[int]
    assistant_masks: list[int]
    segment: int = 0


def build_samples(messages: Sequence[dict[str, Any]], tokenizer: Tokenizer,
                  completions: Sequence[CompletionLike] | None = None) -> list[Sample]:
    """Samples of a trajectory. `completions[i]` is what produced the i-th assistant message
    (its token ids are kept when they match the rendered text); omit for canonical ids."""
    return [Sample(turn, messages_, *assemble(plan, tokenizer.encode), segment)
            for turn, segment, messages_, plan in _plans(messages, tokenizer, completions)]


def build_samples_many(
    trajectories: Sequence[tuple[Sequence[dict[str, Any]], Sequence[CompletionLike] | None]],
    tokenizer: Tokenizer,
) -> list[list[Sample]]:
    """`build_samples` for many trajectories: render all first, tokenize every distinct
    segment in one parallel batch, then assemble; the same ids, far fewer encoder calls."""
    plans = [_plans(messages, tokenizer, completions) for messages, completions in trajectories]
    distinct = list(dict.fromkeys(text for per_trajectory in plans
                                  for _, _, _, plan in per_trajectory
                                  for text, _, model_ids in plan if model_ids is None))
    tokenizer.prefetch(distinct)
    memo = dict(zip(distinct, map(tokenizer.encode, distinct), strict=True))
    return [[Sample(turn, messages_, *assemble(plan, memo.__getitem__), segment)
             for turn, segment, messages_, plan in per_trajectory] for per_trajectory in plans]


Plan = list[tuple[str, bool, list[int] | None]]


def _plans(messages: Sequence[dict[str, Any]], tokenizer: Tokenizer,
           completions: Sequence[CompletionLike] | None,
           ) -> list[tuple[int, int, list[dict[str, Any]], Plan]]:
    """(turn, segment, messages, sample plan) at the end of each user turn of each context
    segment (a trajectory cut by context management has several; see synth.rollout.context)."""
    plans = []
    for segment, (start, stop) in enumerate(segment_bounds(messages)):
        records = None
        if completions is not None:
            records = [c for c in completions if getattr(c, "segment", 0) == segment]
        for turn, messages_, plan in _segment_plans(messages[start:stop], tokenizer, records):
            plans.append((turn, segment, messages_, plan))
    return plans


def segment_bounds(messages: Sequence[dict[str, Any]]) -> list[tuple[int, int]]:
    """(start, stop) of each context segment: a system message after the first starts one."""
    starts = [0] + [i for i, m in enumerate(messages) if i > 0 and m.get("role") == "system"]
    return list(zip(starts, [*starts[1:], len(messages)], strict=True))


def _segment_plans(messages: Sequence[dict[str, Any]], tokenizer: Tokenizer,
                   records: Sequence[CompletionLike] | None,
                   ) -> list[tuple[int, list[dict[str, Any]], Plan]]:
    """Replay one segment; at the end of each user turn take (turn, messages, sample plan).
    Its first assistant messages beyond its completion records were carried over from the
    previous segment: context, never trained, and never a sample point."""
    assistants = [i for i, m in enumerate(messages) if m.get("role") == "assistant"]
    carried = max(0, len(assistants) - len(records)) if records is not None else 0
    context = set(assistants[:carried])
    openings = [i for i, m in enumerate(messages) if m.get("role") in ("user", "developer")]
    turn_ends: dict[int, int] = {}  # index of a turn's last new assistant message -> turn
    for turn, start in enumerate(openings):
        stop = openings[turn + 1] if turn + 1 < len(openings) else len(messages)
        replies = [i for i in range(start, stop)
                   if messages[i].get("role") == "assistant" and i not in context]
        if replies:
            turn_ends[replies[-1]] = turn
    conv = Conversation(tokenizer)
    plans = []
    replies_seen = 0
    for index, message in enumerate(messages):
        role = message.get("role")
        if role == "system":
            conv.add_system(message)
        elif role in ("user", "developer"):
            conv.add_opening(message)
        elif role == "assistant" and index in context:
            conv.add_completion(message, trained=False)
        elif role == "assistant":
            record = None
            if records is not None and replies_seen < len(records):
                record = records[replies_seen]
            conv.add_completion(message, record.text if record else None,
                                record.token_ids if record else None)
            replies_seen += 1
        elif role == "tool":
            conv.add_tool_results([message])
        else:
            raise ValueError(f"messages[{index}]: unsupported role {role!r} in a trajectory")
        if index in turn_ends:
            record = records[replies_seen - 1] if records and replies_seen <= len(records) \
                else None
            turn = getattr(record, "turn", turn_ends[index]) if record is not None else \
                turn_ends[index]
            plans.append((turn, [dict(m) for m in messages[:index + 1]], conv.sample_plan()))
    return plans
