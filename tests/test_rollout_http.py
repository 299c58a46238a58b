"""Rollouts through the OpenAI client against the mock server over loopback HTTP: every
injected fault ends as a recorded finish reason, and clean runs match the in-process model."""

from __future__ import annotations

import asyncio

import pytest

from synth.env import get_family
from synth.policy.mock_server import FaultRates, MockServer, MockServerConfig
from synth.policy.openai import OpenAICompletionsClient
from synth.policy.scripted import ScriptedConfig, ScriptedModel
from synth.rollout.loop import run_rollout

FAULTS = {
    "http_500": "policy_error:http_500",
    "http_429": "policy_error:http_429",
    "hang": "policy_error:timeout",
    "truncate": "truncated",
    "garbage": "parse_error",
}


async def roll(fault: str | None, tokenizer, *, strip_eos: bool = False):
    family = get_family("bank")
    task = family.generate(4, 3).task
    faults = FaultRates(**{fault: 1.0}) if fault else FaultRates()
    config = MockServerConfig(scripted=ScriptedConfig(seed=1), faults=faults,
                              strip_eos=strip_eos, hang_s=30)
    async with MockServer(config) as server:
        client = OpenAICompletionsClient({
            "base_urls": [server.base_url], "model": config.model_name, "max_retries": 1,
            "backoff_base_s": 0.01, "backoff_max_s": 0.02, "request_timeout_s": 0.5})
        try:
            return task, await run_rollout(task, family, client, tokenizer=tokenizer)
        finally:
            await client.close()


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_every_injected_fault_is_a_recorded_finish_reason(fault: str, tokenizer) -> None:
    _, traj = asyncio.run(roll(fault, tokenizer))
    assert traj.finish_reason.startswith(FAULTS[fault]), traj.finish_reason
    assert not traj.passed
    if fault in ("http_500", "http_429", "hang"):
        assert traj.completions[-1].attempts == 2  # the first try and one retry


def test_clean_http_rollout_matches_in_process_model(tokenizer) -> None:
    task, over_http = asyncio.run(roll(None, tokenizer, strip_eos=True))
    family = get_family("bank")
    local = asyncio.run(run_rollout(task, family, ScriptedModel(ScriptedConfig(seed=1))))
    assert over_http.finish_reason == "answered" and over_http.passed
    assert over_http.messages == local.messages
    assert all(c.token_ids for c in over_http.completions), "token-out is recorded"
    assert all(c.eos_stripped for c in over_http.completions)


def test_samples_from_served_token_ids(tokenizer) -> None:
    from synth.samples import build_samples
    from synth.template import encode_messages

    _, traj = asyncio.run(roll(None, tokenizer, strip_eos=True))
    for sample in build_samples(traj.messages, tokenizer, traj.completions):
        text = encode_messages(sample.messages, thinking_mode="thinking", drop_thinking=True)
        assert tokenizer.decode(sample.input_ids) == text
        trained = [i for i, m in zip(sample.input_ids, sample.assistant_masks, strict=True) if m]
        served = [i for c in traj.completions if c.turn == sample.turn
                  for i in (*c.token_ids, tokenizer.token_id("<｜end▁of▁sentence｜>"))]
        assert trained == served, "the served ids are what the sample trains on"
