"""Rollouts through the OpenAI client against the mock server over loopback HTTP: every
injected fault ends as a recorded finish reason (server faults marked as infrastructure, the
model's own endings not), and clean runs match the in-process model."""

from __future__ import annotations

import asyncio

import pytest

from synth.env import get_family
from synth.policy.base import is_infrastructure_error
from synth.policy.mock_server import FaultRates, MockServer, MockServerConfig
from synth.policy.openai import OpenAICompletionsClient
from synth.policy.scripted import ScriptedConfig, ScriptedModel
from synth.rollout.loop import run_rollout

FAULTS = {  # fault -> (finish reason prefix, infrastructure)
    "http_500": ("policy_error:http_500", True),
    "http_429": ("policy_error:http_429", True),
    "hang": ("policy_error:timeout", True),
    "abort": ("policy_error:aborted", True),
    "engine_error": ("policy_error:engine_error", True),
    "text_drops_specials": ("policy_error:text_ids_mismatch", True),
    "repetition": ("policy_error:finish_repetition", False),
    "truncate": ("truncated", False),
    "garbage": ("parse_error", False),
}


async def roll(fault: str | None, tokenizer, *, strip_eos: bool = False, server: str = "vllm"):
    family = get_family("bank")
    task = family.generate(4, 3).task
    faults = FaultRates(**{fault: 1.0}) if fault else FaultRates()
    config = MockServerConfig(scripted=ScriptedConfig(seed=1), faults=faults,
                              strip_eos=strip_eos, hang_s=30)
    async with MockServer(config) as server_:
        client = OpenAICompletionsClient({
            "base_urls": [server_.base_url], "model": config.model_name, "max_retries": 1,
            "server": server, "backoff_base_s": 0.01, "backoff_max_s": 0.02,
            "request_timeout_s": 0.5, "min_decode_tokens_per_s": None})
        try:
            return task, await run_rollout(task, family, client, tokenizer=tokenizer)
        finally:
            await client.close()


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_every_injected_fault_is_a_recorded_finish_reason(fault: str, tokenizer) -> None:
    _, traj = asyncio.run(roll(fault, tokenizer))
    reason, infrastructure = FAULTS[fault]
    assert traj.finish_reason.startswith(reason), traj.finish_reason
    assert not traj.passed
    kind = traj.finish_reason.split(":", 1)[1] if ":" in traj.finish_reason else None
    if reason.startswith("policy_error"):
        assert is_infrastructure_error(kind) is infrastructure
        assert traj.completions[-1].attempts == (1 if not infrastructure else 2)


@pytest.mark.parametrize("server", ["vllm", "sglang", "sglang-native"])
def test_clean_http_rollout_matches_in_process_model(tokenizer, server: str) -> None:
    task, over_http = asyncio.run(roll(None, tokenizer, strip_eos=True, server=server))
    family = get_family("bank")
    local = asyncio.run(run_rollout(task, family, ScriptedModel(ScriptedConfig(seed=1))))
    assert over_http.finish_reason == "answered" and over_http.passed
    assert over_http.messages == local.messages
    assert all(c.token_ids for c in over_http.completions), "token-out is recorded"
    assert all(c.eos_stripped for c in over_http.completions)


@pytest.mark.parametrize("fault", ["invalid_ids", "wrong_ids"])
def test_bad_served_ids_never_reach_the_samples(tokenizer, fault: str) -> None:
    """Served ids outside the vocabulary, or of other text, are replaced by the canonical
    tokenization of the text: the rollout goes on and every sample id is valid."""
    from synth.samples import build_samples

    _, traj = asyncio.run(roll(fault, tokenizer))
    assert traj.finish_reason == "answered" and traj.passed
    samples = build_samples(traj.messages, tokenizer, traj.completions)
    assert samples
    for sample in samples:
        assert all(0 <= i < tokenizer.vocab_size for i in sample.input_ids)
    for record in traj.completions:  # the kept ids describe exactly the text
        assert tokenizer.decode(record.token_ids) == record.text


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
