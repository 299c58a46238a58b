"""Developer-role tasks and context management: after a cut the trajectory yields one sample
per context segment; each re-encodes exactly and masks exactly that segment's completions."""

from __future__ import annotations

import asyncio
import functools
from collections import defaultdict

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synth.env import get_family
from synth.policy.base import FINISH_STOP, Completion, Policy, Prompt, Sampling
from synth.rollout.context import SUMMARY_REQUEST, opening_messages
from synth.rollout.loop import Budgets, run_rollout
from synth.samples import build_samples
from synth.template import EOS, encode_messages, render_completion


class Searcher(Policy):
    """Searches `n_calls` times with long reasoning (its count survives context cuts), then
    answers; asked for a summary, it summarizes."""

    model = "searcher"

    def __init__(self, n_calls: int, answer: str) -> None:
        self.n_calls, self.answer = n_calls, answer
        self.done: dict[str, int] = defaultdict(int)
        self.prompts: list[str] = []

    async def complete(self, prompt: Prompt, sampling: Sampling) -> Completion:
        self.prompts.append(prompt.text)
        step = self.done[prompt.tag]
        if SUMMARY_REQUEST in prompt.text:
            message = {"role": "assistant", "reasoning_content": "Summarizing.",
                       "content": f"I made {step} searches; none settled it yet."}
        elif step < self.n_calls:
            self.done[prompt.tag] += 1
            thought = f"Search number {step}: " + "the clues need checking. " * 30
            message = {"role": "assistant", "reasoning_content": thought, "content": "",
                       "tool_calls": [{"type": "function", "function": {
                           "name": "search",
                           "arguments": f'{{"query": "painter {step}", "top_k": 8}}'}}]}
        else:
            message = {"role": "assistant", "reasoning_content": "I have it.",
                       "content": f"Answer: {self.answer}"}
        text = render_completion(message, thinking_mode="thinking")
        return Completion(text=text, finish_reason=FINISH_STOP)


@functools.cache
def search_task(tools_in: str):
    family = get_family("search")
    task = next(t for s in range(60) if (t := family.generate(s, 1).task) is not None
                and t.check["kind"] == "qa")
    task.metadata["tools_in"] = tools_in
    return family, task


def roll(tokenizer, strategy: str, n_calls: int, trigger: float, tools_in: str,
         max_context: int = 9000):
    family, task = search_task(tools_in)
    policy = Searcher(n_calls, task.check["answer"])
    budgets = Budgets(max_context_tokens=max_context, max_tool_rounds=64,
                      context={"strategy": strategy, "trigger": trigger})
    traj = asyncio.run(run_rollout(task, family, policy, tokenizer=tokenizer, budgets=budgets,
                                   sampling=Sampling(max_tokens=400)))
    return task, policy, traj


def check_samples(tokenizer, traj) -> list:
    samples = build_samples(traj.messages, tokenizer, traj.completions)
    for sample in samples:
        text = encode_messages(sample.messages, thinking_mode="thinking", drop_thinking=True)
        assert tokenizer.encode(text) == sample.input_ids  # re-encodes exactly
        trained = tokenizer.decode(i for i, m in zip(sample.input_ids, sample.assistant_masks,
                                                     strict=True) if m)
        written = "".join(c.text if c.text.endswith(EOS) else c.text + EOS
                          for c in traj.completions if c.segment == sample.segment)
        assert trained == written  # exactly this segment's completions
        assert sample.messages[0]["role"] == "system"
        assert sample.messages[1]["role"] == "developer"
    assert sorted(s.segment for s in samples) == list(range(len(samples)))
    return samples


def test_discard_all_cuts_and_samples_each_context(tokenizer) -> None:
    task, policy, traj = roll(tokenizer, "discard_all", 10, 0.5, "system")
    assert traj.finish_reason == "answered" and traj.passed
    assert traj.context_strategy == "discard_all" and traj.context_resets >= 2
    samples = check_samples(tokenizer, traj)
    assert len(samples) == traj.context_resets + 1
    system, opening = opening_messages(task)
    fresh = encode_messages([system, opening], thinking_mode="thinking")
    # the first prompt, and the first after every cut, hold the question and nothing else
    assert policy.prompts.count(fresh) == traj.context_resets + 1
    assert traj.n_tool_calls == 10


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(strategy=st.sampled_from(["discard_all", "discard_75", "summary"]),
       n_calls=st.integers(2, 12), trigger=st.floats(0.35, 0.9),
       tools_in=st.sampled_from(["system", "developer"]))
def test_every_strategy_gives_exact_samples(tokenizer, strategy, n_calls, trigger,
                                            tools_in) -> None:
    _, _, traj = roll(tokenizer, strategy, n_calls, trigger, tools_in)
    assert traj.finish_reason == "answered", traj.finish_reason
    assert traj.context_strategy == strategy
    samples = check_samples(tokenizer, traj)
    segments = len({c.segment for c in traj.completions})
    assert len(samples) == segments
    if strategy == "summary":
        assert segments == 2 * traj.context_resets + 1
    else:
        assert segments == traj.context_resets + 1


def test_discard_75_keeps_the_latest_rounds_as_untrained_context(tokenizer) -> None:
    _, _, traj = roll(tokenizer, "discard_75", 16, 0.75, "system")
    assert traj.context_resets >= 1
    samples = check_samples(tokenizer, traj)
    later = samples[1]
    carried = [m for m in later.messages if m["role"] == "assistant"]
    written = [c for c in traj.completions if c.segment == 1]
    assert len(carried) > len(written), "some rounds of the first context were kept"


def test_none_never_cuts_and_ends_on_the_budget(tokenizer) -> None:
    _, _, traj = roll(tokenizer, "none", 40, 0.5, "system")
    assert traj.context_resets == 0 and traj.finish_reason == "context_budget"
    assert {c.segment for c in traj.completions} == {0}


def test_tools_in_the_developer_turn_render_inside_the_user_turn(tokenizer) -> None:
    task = search_task("developer")[1]
    system, opening = opening_messages(task)
    assert "tools" not in system and opening["tools"] == task.tools
    text = encode_messages([system, opening], thinking_mode="thinking")
    user = text.index("<｜User｜>")
    assert text.index("## Tools") > user
    assert text.index("# The user's message is: " + task.user_turns[0]) > text.index("## Tools")


def test_other_families_still_open_with_a_user_message() -> None:
    for name in ("bank", "travel"):
        task = get_family(name).generate(1, 2).task
        system, opening = opening_messages(task)
        assert system == task.system_message() and opening == {"role": "user",
                                                               "content": task.user_turns[0]}
        assert "prompt_role" not in task.metadata


def test_context_options_are_validated() -> None:
    with pytest.raises(ValueError, match="strategy"):
        Budgets(context={"strategy": "forget"})
    with pytest.raises(ValueError, match="trigger"):
        Budgets(context={"trigger": 1.5})
