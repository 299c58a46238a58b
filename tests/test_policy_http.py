"""The HTTP policy client against the mock server over real loopback HTTP (no HTTP mocking).

Covers balancing, retries, recorded error kinds, fault injection, EOS handling and that the
API key never leaks. Plain functions with `asyncio.run` (no pytest-asyncio).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import secrets
import time
from typing import Any

import aiohttp
import pytest
from mock_endpoints import SAMPLING, bank_prompt, client, complete_all, free_port, run, with_servers

from synth.policy.base import Completion, Prompt, is_infrastructure_error
from synth.policy.mock_process import MockServerProcess
from synth.policy.mock_prompts import PromptDecoder, split_body
from synth.policy.mock_server import MockServer, MockServerConfig
from synth.policy.openai import OpenAICompletionsClient, cached_tokenizer
from synth.policy.scripted import ScriptedModel
from synth.policy.token_ids import IdsJson
from synth.template import EOS, EOS_ID


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    return cached_tokenizer()  # the one the client and the in-process servers use


@pytest.fixture(scope="module")
def prompt(tokenizer: Any) -> Prompt:
    return bank_prompt(tokenizer)


# -- the happy path -----------------------------------------------------------------------------
def test_models_endpoint_lists_the_model() -> None:
    async def body(urls: list[str], _: list[MockServer]) -> dict[str, Any]:
        async with aiohttp.ClientSession() as s, s.get(urls[0] + "/v1/models") as r:
            assert r.status == 200
            return await r.json()

    data = run(with_servers([MockServerConfig(served_model="dsv32-mock")], body))
    assert [m["id"] for m in data["data"]] == ["dsv32-mock"]


@pytest.mark.parametrize("server", ["vllm", "sglang", "sglang-native", "generic"])
def test_completion_matches_the_scripted_model(prompt: Prompt, tokenizer: Any,
                                               server: str) -> None:
    expected = ScriptedModel().complete_now(prompt, SAMPLING)

    async def body(urls: list[str], _: list[MockServer]) -> list[Completion]:
        return await complete_all(client(urls, server=server), prompt, 1)

    (c,) = run(with_servers([MockServerConfig()], body))
    assert c.error is None and c.finish_reason == "stop"
    assert c.text == expected.text and c.text.endswith(EOS)
    assert "eos_stripped" not in c.extra
    assert c.attempts == 1 and c.latency_s > 0
    route = "/generate" if server == "sglang-native" else "/v1/completions"
    assert c.endpoint is not None and c.endpoint.endswith(route)
    assert c.prompt_tokens == len(prompt.token_ids or []) and c.retokenized is None
    if server == "generic":  # nothing asked beyond the OpenAI fields
        assert c.token_ids is None
    else:
        assert c.token_ids == tokenizer.encode(c.text) and c.token_ids[-1] == EOS_ID
        assert c.completion_tokens == len(c.token_ids)


def test_text_prompts_and_prompts_without_ids(prompt: Prompt) -> None:
    expected = ScriptedModel().complete_now(prompt, SAMPLING).text
    text_only = Prompt(prompt.text, None, prompt.tag)

    async def body(urls: list[str], _: list[MockServer]) -> list[Completion]:
        as_text = await complete_all(client(urls, send="text"), text_only, 1)
        as_ids = await complete_all(client(urls), text_only, 1)  # encoded by the client
        return as_text + as_ids

    completions = run(with_servers([MockServerConfig()], body))
    assert [c.text for c in completions] == [expected, expected]
    assert all(c.prompt_tokens == len(prompt.token_ids or []) for c in completions)


def test_eos_id_matches_the_tokenizer(tokenizer: Any) -> None:
    assert tokenizer.token_id(EOS) == EOS_ID


def test_cached_prompt_bytes_decode_like_the_tokenizer(tokenizer: Any) -> None:
    """The server's piecewise decode and the client's incremental JSON are exact."""
    rng = random.Random(0)
    cache, ids_json = PromptDecoder(tokenizer), IdsJson()
    for trial in range(16):
        ids = [rng.randrange(0, 128000) for _ in range(rng.randint(1, 3000))]
        if trial % 2:  # real text, multi-byte characters included
            ids = tokenizer.encode("".join(rng.choice("ab é 你好 🚀\n") for _ in range(2500)))
        grown = ids + [rng.randrange(0, 128000) for _ in range(rng.randint(0, 40))]
        for seq in (ids, grown):
            inner = ids_json.dumps(f"t{trial % 3}", seq)
            assert inner == json.dumps(seq, separators=(",", ":"))[1:-1]
            rest, arr = split_body(f'{{"user": "x", "prompt": [{inner}]}}'.encode())
            assert rest == {"user": "x", "prompt": []} and arr is not None
            assert cache.decode_raw(arr) == (tokenizer.decode(seq), len(seq))


# -- balancing ----------------------------------------------------------------------------------
def test_requests_spread_over_every_endpoint(prompt: Prompt) -> None:
    async def body(urls: list[str], servers: list[MockServer]) -> list[int]:
        done = await complete_all(client(urls, routing="least_outstanding"), prompt, 30)
        assert all(c.error is None for c in done)
        assert {c.endpoint for c in done} == {u + "/v1/completions" for u in urls}
        return [s.stats["requests"] for s in servers]

    counts = run(with_servers([MockServerConfig(latency_s=0.02)] * 3, body))
    assert sum(counts) == 30 and min(counts) >= 8


def test_least_outstanding_sends_most_work_to_the_fast_endpoint(prompt: Prompt) -> None:
    async def body(urls: list[str], servers: list[MockServer]) -> list[int]:
        policy = client(urls, routing="least_outstanding")
        tasks = []
        for _ in range(60):  # open-loop arrivals: round-robin would split them 30/30
            tasks.append(asyncio.ensure_future(policy.complete(prompt, SAMPLING)))
            await asyncio.sleep(0.01)
        done = await asyncio.gather(*tasks)
        await policy.close()
        assert all(c.error is None for c in done)
        return [s.stats["requests"] for s in servers]

    slow, fast = run(with_servers([MockServerConfig(latency_s=0.25),
                                   MockServerConfig(latency_s=0.002)], body))
    assert slow + fast == 60 and fast >= 45 and slow >= 1


def test_failing_endpoint_cools_down(prompt: Prompt) -> None:
    dead = f"http://127.0.0.1:{free_port()}"

    async def body(urls: list[str], servers: list[MockServer]) -> OpenAICompletionsClient:
        policy = client([dead, *urls], cooldown_failures=1, cooldown_s=60)
        for _ in range(10):
            assert (await policy.complete(prompt, SAMPLING)).error is None
        await policy.close()
        return policy

    policy = run(with_servers([MockServerConfig()], body))
    assert policy.endpoints[0].requests <= 2 and policy.endpoints[1].requests == 10


# -- retries and recorded errors ----------------------------------------------------------------
def test_retries_recover_from_500_and_429(prompt: Prompt) -> None:
    config = MockServerConfig(seed=3, faults={"http_500": 0.4, "http_429": 0.3})

    async def body(urls: list[str], servers: list[MockServer]) -> list[Completion]:
        done = await complete_all(client(urls, max_retries=20), prompt, 20)
        assert servers[0].stats["http_500"] > 0 and servers[0].stats["http_429"] > 0
        return done

    done = run(with_servers([config], body))
    assert all(c.error is None and c.finish_reason == "stop" for c in done)
    assert sum(c.attempts for c in done) > len(done)


def test_retries_recover_from_hangs(prompt: Prompt) -> None:
    config = MockServerConfig(seed=1, faults={"hang": 0.5})

    async def body(urls: list[str], servers: list[MockServer]) -> list[Completion]:
        done = await complete_all(client(urls, request_timeout_s=0.25, max_retries=10,
                                         max_timeout_retries=10), prompt, 6)
        assert servers[0].stats["hang"] > 0
        return done

    done = run(with_servers([config], body))
    assert all(c.error is None for c in done)
    assert any(c.attempts > 1 for c in done)


@pytest.mark.parametrize(("faults", "kind", "attempts"), [
    ({"http_500": 1.0}, "http_500", 3),
    ({"http_429": 1.0}, "http_429", 3),
    ({"abort": 1.0}, "aborted", 3),
    ({"engine_error": 1.0}, "engine_error", 3),
    ({"hang": 1.0}, "timeout", 2),  # a timed-out request is retried once, not max_retries
])
def test_exhausted_retries_record_an_infrastructure_error(
        prompt: Prompt, faults: dict[str, float], kind: str, attempts: int) -> None:
    async def body(urls: list[str], _: list[MockServer]) -> list[Completion]:
        return await complete_all(client(urls, max_retries=2, request_timeout_s=0.2),
                                  prompt, 2)

    done = run(with_servers([MockServerConfig(faults=faults)], body))
    for c in done:
        assert (c.finish_reason, c.error, c.attempts, c.text) == ("error", kind, attempts, "")
        assert c.infrastructure and is_infrastructure_error(c.error)
        assert c.endpoint is not None and c.endpoint.endswith("/v1/completions")


def test_connection_errors_are_recorded(prompt: Prompt) -> None:
    policy = client([f"http://127.0.0.1:{free_port()}"], max_retries=1)
    (c,) = run(complete_all(policy, prompt, 1))
    assert (c.finish_reason, c.error, c.attempts) == ("error", "connection", 2)
    assert c.infrastructure


def test_client_errors_are_not_retried(prompt: Prompt) -> None:
    config = MockServerConfig(served_model="served-name", check_model=True)

    async def body(urls: list[str], servers: list[MockServer]) -> list[Completion]:
        done = await complete_all(client(urls, model="another-name"), prompt, 1)
        assert servers[0].stats["requests"] == 1
        return done

    (c,) = run(with_servers([config], body))
    assert (c.error, c.attempts, c.infrastructure) == ("http_404", 1, True)


# -- injected content faults --------------------------------------------------------------------
def test_truncation_ends_as_length(prompt: Prompt) -> None:
    full = ScriptedModel().complete_now(prompt, SAMPLING).text

    async def body(urls: list[str], _: list[MockServer]) -> list[Completion]:
        return await complete_all(client(urls), prompt, 3)

    done = run(with_servers([MockServerConfig(faults={"truncate": 1.0})], body))
    for c in done:
        assert c.finish_reason == "length" and c.error is None
        assert 0 < len(c.text) < len(full) and full.startswith(c.text)
        assert "eos_stripped" not in c.extra


def test_garbage_is_a_normal_stop_completion(prompt: Prompt) -> None:
    async def body(urls: list[str], _: list[MockServer]) -> list[Completion]:
        return await complete_all(client(urls), prompt, 3)

    done = run(with_servers([MockServerConfig(faults={"garbage": 1.0})], body))
    for c in done:
        assert c.finish_reason == "stop" and c.error is None and c.text.endswith(EOS)
        assert "DSML" not in c.text and "</think>" not in c.text


def test_missing_eos_is_flagged(prompt: Prompt, tokenizer: Any) -> None:
    """A server that trims EOS from the text keeps it in the ids (vLLM and SGLang both do):
    the ids are trimmed to match the text, and the renderer appends EOS to both."""
    config = MockServerConfig(strip_eos=True)

    async def body(urls: list[str], _: list[MockServer]) -> list[Completion]:
        return await complete_all(client(urls), prompt, 1)

    (c,) = run(with_servers([config], body))
    assert c.finish_reason == "stop" and not c.text.endswith(EOS)
    assert c.extra["eos_stripped"] is True and c.extra["eos_id_dropped"] is True
    assert c.token_ids == tokenizer.encode(c.text) and EOS_ID not in c.token_ids
    assert c.retokenized is None


# -- the key never leaks ------------------------------------------------------------------------
def test_api_key_never_leaks(prompt: Prompt, monkeypatch: pytest.MonkeyPatch,
                             caplog: pytest.LogCaptureFixture,
                             capsys: pytest.CaptureFixture[str]) -> None:
    key, wrong = "sk-" + secrets.token_hex(16), "sk-" + secrets.token_hex(16)
    monkeypatch.setenv("SYNTH_TEST_KEY", key)
    monkeypatch.setenv("SYNTH_TEST_WRONG_KEY", wrong)
    caplog.set_level(logging.DEBUG)
    server_config = MockServerConfig(api_key_env="SYNTH_TEST_KEY", seed=5,
                                     faults={"http_500": 0.5})

    async def body(urls: list[str], _: list[MockServer]) -> list[Any]:
        good = client(urls, api_key_env="SYNTH_TEST_KEY", max_retries=20)
        bad = client(urls, api_key_env="SYNTH_TEST_WRONG_KEY")
        broke = client(urls, api_key_env="SYNTH_TEST_KEY", max_retries=0)
        done = await complete_all(good, prompt, 4) + await complete_all(bad, prompt, 1)
        done += await complete_all(broke, prompt, 6)
        reprs = [repr(good), repr(good.config), str(vars(good)), repr(bad), str(vars(bad))]
        return [done, reprs]

    done, reprs = run(with_servers([server_config], body))
    assert all(c.error is None for c in done[:4])
    assert done[4].error == "http_401" and done[4].attempts == 1
    assert any(c.error == "http_500" for c in done[5:])
    captured = capsys.readouterr()
    texts = [caplog.text, captured.out, captured.err, *reprs, *(repr(c) for c in done)]
    for text in texts:
        assert key not in text and wrong not in text
        assert key[3:] not in text and wrong[3:] not in text


# -- configuration ------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [
    {"base_urls": []},
    {"base_urls": ["ftp://127.0.0.1:8000"]},
    {"base_urls": ["http://127.0.0.1:1", "http://127.0.0.1:1/v1"]},
    {"base_urls": ["http://127.0.0.1:1"], "request_timeout_s": 0},
    {"base_urls": ["http://127.0.0.1:1"], "max_retries": -1},
    {"base_urls": ["http://127.0.0.1:1"], "send": "chat"},
    {"base_urls": ["http://127.0.0.1:1"], "server": "tgi"},
    {"base_urls": ["http://127.0.0.1:1"], "extra_body": {"prompt": "x"}},
    {"base_urls": ["http://127.0.0.1:1"], "backoff_base_s": 5, "backoff_max_s": 1},
    {"base_urls": ["http://127.0.0.1:1"], "api_key_env": "NOT A NAME"},
    {"base_urls": ["http://127.0.0.1:1"], "api_key_env": "SYNTH_TEST_SURELY_UNSET_VARIABLE"},
    {"base_urls": ["http://127.0.0.1:1"], "sglang_dp_size": 4},  # vllm has no routed_dp_rank
    {"base_urls": ["http://127.0.0.1:1"], "server": "sglang", "sglang_dp_size": 0},
    {"base_urls": ["http://127.0.0.1:1"], "server": "sglang-native", "send": "text"},
    {"base_urls": ["http://127.0.0.1:1"], "routing": "random"},
    {"base_urls": ["http://127.0.0.1:1"], "affinity_slack": -0.5},
    {"base_urls": ["http://127.0.0.1:1"], "concurrency_scope": "cluster"},
    {"base_urls": ["http://127.0.0.1:1"], "min_decode_tokens_per_s": 0},
    {"base_urls": ["http://127.0.0.1:1"], "missing_token_ids": "ignore"},
    {"base_urls": ["http://127.0.0.1:1", "http://127.0.0.1:1/generate"]},
    {"base_urls": ["http://127.0.0.1:1"], "extra_body": {"input_ids": [1]}},
])
def test_bad_config_raises_value_error(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        OpenAICompletionsClient(bad)


def test_mock_server_process(prompt: Prompt) -> None:
    start = time.monotonic()
    with MockServerProcess(MockServerConfig(latency_s=0.001)) as url:
        (c,) = run(complete_all(client([url]), prompt, 1))
    assert c.error is None and c.text.endswith(EOS)
    assert time.monotonic() - start < 15
