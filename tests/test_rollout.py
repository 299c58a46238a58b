"""The thinking-with-tools loop with the scripted model: prompts, pass rates, finish reasons."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from conftest import MISTAKES, generic_examples
from hypothesis import given, settings
from hypothesis import strategies as st

from synth.env import family_names, get_family
from synth.policy.base import Completion, Policy, Prompt, Sampling
from synth.policy.scripted import MistakeRates, ScriptedConfig, ScriptedModel
from synth.rollout.loop import Budgets, run_rollout
from synth.template import encode_messages


class Recording(Policy):
    """Wraps a policy and keeps every prompt it was sent."""

    def __init__(self, inner: Policy) -> None:
        self.inner, self.prompts = inner, []
        self.model = inner.model

    async def complete(self, prompt: Prompt, sampling: Sampling) -> Completion:
        ids = None if prompt.token_ids is None else list(prompt.token_ids)  # a snapshot
        self.prompts.append(Prompt(prompt.text, ids, prompt.tag))
        return await self.inner.complete(prompt, sampling)


def run(coro):
    return asyncio.run(coro)


def tasks_of(name: str, per_level: int = 2):
    family, per_level = get_family(name), generic_examples(name, per_level)
    for level in family.levels:
        found = 0
        for seed in range(50):
            task = family.generate(seed, level).task
            if task is not None:
                yield family, task
                found += 1
                if found == per_level:
                    break


@pytest.mark.parametrize("name", family_names())
def test_perfect_model_passes_every_task(name: str) -> None:
    model = ScriptedModel(ScriptedConfig(seed=3))
    for family, task in tasks_of(name):
        traj = run(run_rollout(task, family, model))
        assert traj.finish_reason == "answered", (task.task_id, traj.finish_reason)
        assert traj.passed and traj.reward == 1.0, (task.task_id, traj.verdict_reason)
        assert traj.n_turns == len(task.user_turns)
        assert traj.n_tool_calls == task.n_reference_calls


def test_mistakes_spread_pass_rates() -> None:
    model = ScriptedModel(ScriptedConfig(seed=5, mistakes=MistakeRates(**MISTAKES)))
    per_task: list[float] = []
    finishes: Counter[str] = Counter()
    for name in family_names():
        family = get_family(name)
        for seed in range(generic_examples(name, 40)):
            task = family.generate(seed, family.levels[seed % len(family.levels)]).task
            if task is None:
                continue
            trajs = [run(run_rollout(task, family, model, sample_index=i)) for i in range(4)]
            per_task.append(sum(t.passed for t in trajs) / 4)
            finishes.update(t.finish_reason.split(":")[0] for t in trajs)
    assert len(per_task) >= 300
    overall = sum(per_task) / len(per_task)
    assert 0.0 < overall < 1.0
    assert 0.0 in per_task and 1.0 in per_task, "some tasks never solved, some always"
    assert finishes["parse_error"] > 0 and finishes["answered"] > 0


@settings(max_examples=25, deadline=None)
@given(name=st.sampled_from(family_names()), seed=st.integers(0, 10_000),
       pick=st.integers(0, 4), sample=st.integers(0, 3))
def test_incremental_prompt_equals_full_render(tokenizer, name, seed, pick, sample) -> None:
    family = get_family(name)
    level = family.levels[pick % len(family.levels)]
    task = family.generate(seed, level).task
    if task is None:
        return
    mistakes = MistakeRates(wrong_argument=0.1, skipped_step=0.1, unknown_tool=0.1)
    policy = Recording(ScriptedModel(ScriptedConfig(seed=seed, mistakes=mistakes)))
    traj = run(run_rollout(task, family, policy, tokenizer=tokenizer, sample_index=sample))
    assistant_positions = [i for i, m in enumerate(traj.messages) if m["role"] == "assistant"]
    assert len(policy.prompts) >= len(assistant_positions)
    for prompt, position in zip(policy.prompts, assistant_positions, strict=False):
        expected = encode_messages(traj.messages[:position], thinking_mode="thinking",
                                   drop_thinking=True)
        assert prompt.text == expected
        assert prompt.token_ids == tokenizer.encode(expected)
    if task.multi_turn and traj.n_turns > 1:
        last_prompt = policy.prompts[-1].text
        first_reasoning = next(m["reasoning_content"] for m in traj.messages
                               if m["role"] == "assistant")
        users = [i for i, m in enumerate(traj.messages) if m["role"] == "user"]
        earlier = [m for m in traj.messages[:users[-1]] if m["role"] == "assistant"]
        assert earlier and all(m.get("reasoning_content") for m in earlier)
        # Only the current turn keeps reasoning; the scripted model may repeat a sentence there.
        shown = assistant_positions[:len(policy.prompts) - 1]  # in the last prompt
        kept = sum(traj.messages[i].get("reasoning_content") == first_reasoning
                   for i in shown if i > users[-1])
        assert last_prompt.count(first_reasoning + "</think>") == kept


class Failing(Policy):
    """Always fails like a server that exhausted its retries."""

    async def complete(self, prompt: Prompt, sampling: Sampling) -> Completion:
        return Completion.failed("http_500", attempts=6)


class Raising(Policy):
    async def complete(self, prompt: Prompt, sampling: Sampling) -> Completion:
        raise RuntimeError("boom")


class Garbage(Policy):
    async def complete(self, prompt: Prompt, sampling: Sampling) -> Completion:
        return Completion(text="no think close here<｜end▁of▁sentence｜>", finish_reason="stop")


def bank_task():
    family = get_family("bank")
    return family, family.generate(1, 3).task


def test_every_ending_is_a_recorded_finish_reason(tokenizer) -> None:
    family, task = bank_task()
    scripted = ScriptedModel(ScriptedConfig(seed=1))
    cases = {
        "policy_error:http_500": run(run_rollout(task, family, Failing())),
        "internal_error:RuntimeError": run(run_rollout(task, family, Raising())),
        "parse_error:missing_think_close": run(run_rollout(task, family, Garbage())),
        "tool_budget": run(run_rollout(task, family, scripted,
                                       budgets=Budgets(max_tool_rounds=1))),
        "truncated": run(run_rollout(task, family, scripted,
                                     sampling=Sampling(max_tokens=5))),
        "context_budget": run(run_rollout(task, family, scripted, tokenizer=tokenizer,
                                          sampling=Sampling(max_tokens=200),
                                          budgets=Budgets(max_context_tokens=2000,
                                                          context={"strategy": "none"}))),
    }
    for expected, traj in cases.items():
        assert traj.finish_reason == expected, (expected, traj.finish_reason)
        assert not traj.passed and traj.reward == 0.0
    long_answer = cases["tool_budget"]
    assert long_answer.completions and long_answer.messages


def test_parse_errors_carry_their_kind() -> None:
    family, task = bank_task()
    model = ScriptedModel(ScriptedConfig(seed=2, mistakes=MistakeRates(malformed_dsml=1.0)))
    kinds = Counter()
    for i in range(30):
        traj = run(run_rollout(task, family, model, sample_index=i))
        kind, _, detail = traj.finish_reason.partition(":")
        assert kind == "parse_error" and detail
        kinds[detail] += 1
    assert len(kinds) >= 4, kinds
