"""What real vLLM and SGLang servers do, against the mock that behaves like them: the prompt
echo, SGLang's native endpoint and releases without token ids, served ids that disagree with
the vocabulary or the text, finish reasons, timeouts, full queues, over-long requests, the
start-up probe and waiting out an outage. Everything over loopback HTTP."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mock_endpoints import SAMPLING, bank_prompt, client, complete_all, free_port, run, with_servers

from synth.policy.base import (
    FINISH_ERROR,
    FINISH_STOP,
    Completion,
    Prompt,
    Sampling,
    is_infrastructure_error,
)
from synth.policy.mock_server import MockServer, MockServerConfig
from synth.policy.openai import cached_tokenizer
from synth.policy.openai_config import OpenAIPolicyConfig
from synth.policy.probe import EndpointProbeError, check_endpoints
from synth.policy.scripted import ScriptedModel
from synth.policy.token_ids import (
    IDS_DISAGREE_WITH_TEXT,
    IDS_MISSING,
    IDS_OUT_OF_VOCABULARY,
    TextLostSpecialTokens,
    check_served_ids,
    vocab_size_of,
)
from synth.policy.wire import parse_completions, without_array
from synth.template import BOS, EOS, EOS_ID


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    return cached_tokenizer()


@pytest.fixture(scope="module")
def prompt(tokenizer: Any) -> Prompt:
    return bank_prompt(tokenizer)


def one(config: MockServerConfig, prompt: Prompt, **client_kw: Any) -> Completion:
    async def body(urls: list[str], _: list[MockServer]) -> list[Completion]:
        return await complete_all(client(urls, **client_kw), prompt, 1)

    return run(with_servers([config], body))[0]


# -- 1. the prompt echo -------------------------------------------------------------------------
def test_servers_echo_the_prompt_and_the_client_skips_it(prompt: Prompt) -> None:
    async def body(urls: list[str], _: list[MockServer]) -> bytes:
        payload = {"model": "scripted-dsv32", "prompt": prompt.token_ids, "max_tokens": 4096,
                   "user": prompt.tag, "return_token_ids": True}
        async with aiohttp.ClientSession() as s, \
                s.post(urls[0] + "/v1/completions", json=payload) as r:
            assert r.status == 200
            return await r.read()

    raw = run(with_servers([MockServerConfig()], body))
    choice = json.loads(raw)["choices"][0]
    assert choice["prompt_token_ids"] == prompt.token_ids  # the whole prompt, as both do
    assert choice["token_ids"][-1] == EOS_ID  # EOS kept in the ids
    assert json.loads(without_array(raw, b"prompt_token_ids"))["choices"][0][
        "prompt_token_ids"] is None
    served = parse_completions(raw)
    assert served.text == choice["text"] and served.ids == choice["token_ids"]


_TRAPS = st.sampled_from(['"prompt_token_ids":[1,2]', '\\"prompt_token_ids\\":[', "]", "[",
                          '{"a":', ',"prompt_token_ids":', "\\", '"'])


@settings(max_examples=300, deadline=None)
@given(text=st.lists(st.one_of(st.text(max_size=8), _TRAPS), max_size=8).map("".join),
       echo=st.one_of(st.none(), st.lists(st.integers(-5, 10**6), max_size=30)),
       compact=st.booleans())
def test_the_echo_is_cut_only_where_it_is_a_key(text: str, echo: list[int] | None,
                                                compact: bool) -> None:
    choice: dict[str, Any] = {"index": 0, "text": text, "finish_reason": "stop"}
    if echo is not None:
        choice["prompt_token_ids"] = echo
    data = {"choices": [choice], "usage": {"prompt_tokens": 3}}
    raw = json.dumps(data, separators=(",", ":") if compact else None,
                     ensure_ascii=False).encode()
    expected = json.loads(raw)
    if echo is not None:
        expected["choices"][0]["prompt_token_ids"] = None
    assert json.loads(without_array(raw, b"prompt_token_ids")) == expected


@given(st.binary(max_size=200))
def test_cutting_the_echo_never_raises(raw: bytes) -> None:
    assert isinstance(without_array(raw, b"prompt_token_ids"), bytes)


# -- 2. SGLang: the native endpoint, ranks, releases without token ids --------------------------
def test_sglang_native_generate(prompt: Prompt, tokenizer: Any) -> None:
    expected = ScriptedModel().complete_now(prompt, SAMPLING).text
    c = one(MockServerConfig(flavor="sglang"), prompt, server="sglang-native")
    assert (c.error, c.finish_reason, c.text) == (None, FINISH_STOP, expected)
    assert c.endpoint is not None and c.endpoint.endswith("/generate")
    assert c.token_ids == tokenizer.encode(expected) and c.token_ids[-1] == EOS_ID
    assert c.prompt_tokens == len(prompt.token_ids or [])


@pytest.mark.parametrize("server", ["sglang", "sglang-native"])
def test_routed_dp_rank_pins_each_trajectory(tokenizer: Any, server: str) -> None:
    prompts = [bank_prompt(tokenizer, sample=i) for i in range(12)]

    async def body(urls: list[str], servers: list[MockServer]) -> dict[str, set[int]]:
        policy = client(urls, server=server, sglang_dp_size=4)
        try:
            for _ in range(3):
                done = await asyncio.gather(*(policy.complete(p, SAMPLING) for p in prompts))
                assert all(c.error is None for c in done)
        finally:
            await policy.close()
        return servers[0].dp_ranks

    ranks = run(with_servers([MockServerConfig(flavor="sglang")], body))
    assert set(ranks) == {p.tag for p in prompts}
    assert all(len(seen) == 1 for seen in ranks.values())  # one rank per trajectory
    assert len(set().union(*ranks.values())) > 1  # trajectories spread over ranks


@pytest.mark.parametrize(("server", "needed"), [("sglang", "sglang-native"),
                                                ("vllm", "0.10.2")])
def test_missing_token_ids_fail_naming_the_version(prompt: Prompt, server: str, needed: str,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)
    config = MockServerConfig(returns_token_ids=False)
    c = one(config, prompt, server=server)
    assert (c.error, c.attempts, c.infrastructure) == ("token_ids_missing", 1, True)
    assert needed in caplog.text and "missing_token_ids: retokenize" in caplog.text


def test_missing_token_ids_can_be_retokenized(prompt: Prompt, tokenizer: Any) -> None:
    c = one(MockServerConfig(returns_token_ids=False), prompt, server="sglang",
            missing_token_ids="retokenize")
    assert c.error is None and c.retokenized == IDS_MISSING
    assert c.token_ids == tokenizer.encode(c.text)


def test_sglang_text_prompts_get_no_second_bos(prompt: Prompt) -> None:
    """SGLang's completions endpoint adds a BOS to text prompts: the client strips ours."""
    text_only = Prompt(prompt.text, None, prompt.tag)
    assert text_only.text.startswith(BOS)
    config = MockServerConfig(flavor="sglang")
    stripped = one(config, text_only, server="sglang", send="text")
    doubled = one(config, text_only, server="generic", send="text")
    n = len(prompt.token_ids or [])
    assert (stripped.prompt_tokens, doubled.prompt_tokens) == (n, n + 1)


# -- 3. served ids must agree with the vocabulary and the text -----------------------------------
@pytest.mark.parametrize(("fault", "reason"), [("invalid_ids", IDS_OUT_OF_VOCABULARY),
                                               ("wrong_ids", IDS_DISAGREE_WITH_TEXT)])
def test_bad_served_ids_are_replaced_by_the_texts(prompt: Prompt, tokenizer: Any, fault: str,
                                                  reason: str) -> None:
    c = one(MockServerConfig(faults={fault: 1.0}), prompt)
    assert c.error is None and c.finish_reason == FINISH_STOP and c.retokenized == reason
    assert c.token_ids == tokenizer.encode(c.text)


def test_text_that_lost_special_tokens_is_a_retried_server_fault(prompt: Prompt) -> None:
    always = one(MockServerConfig(faults={"text_drops_specials": 1.0}), prompt, max_retries=2)
    assert (always.error, always.attempts, always.infrastructure) == \
        ("text_ids_mismatch", 3, True)
    sometimes = one(MockServerConfig(seed=2, faults={"text_drops_specials": 0.5}), prompt,
                    max_retries=30)
    assert sometimes.error is None and sometimes.text.endswith(EOS)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ids=st.one_of(st.none(), st.lists(st.integers(-2**41, 2**41), max_size=20),
                     st.lists(st.integers(0, 128814), max_size=20),
                     st.lists(st.one_of(st.integers(0, 9), st.booleans(), st.floats(),
                                        st.text(max_size=2)), max_size=5)),
       text=st.text(max_size=40))
def test_checked_ids_are_always_valid(ids: Any, text: str) -> None:
    tok = cached_tokenizer()
    try:
        checked = check_served_ids(text, ids, tok)
    except TextLostSpecialTokens:
        return
    if ids is None:
        assert checked.ids is None
        return
    assert checked.ids is not None
    assert all(type(i) is int and 0 <= i < tok.vocab_size for i in checked.ids)
    if checked.retokenized is None:
        assert tok.decode(checked.ids) == text


def test_ids_of_the_text_are_kept_as_served(tokenizer: Any) -> None:
    text = "reasoning</think>answer" + EOS
    ids = tokenizer.encode(text)
    assert check_served_ids(text, ids, tokenizer).ids == ids
    trimmed = check_served_ids(text[: -len(EOS)], ids, tokenizer)  # EOS stripped from text
    assert (trimmed.ids, trimmed.eos_id_dropped) == (ids[:-1], True)


# -- 4. finish reasons --------------------------------------------------------------------------
def test_repetition_is_a_recorded_model_ending(prompt: Prompt) -> None:
    c = one(MockServerConfig(faults={"repetition": 1.0}), prompt, max_retries=3)
    assert (c.finish_reason, c.error, c.attempts) == (FINISH_ERROR, "finish_repetition", 1)
    assert not c.infrastructure and not is_infrastructure_error(c.error) and c.text


@pytest.mark.parametrize(("kind", "infrastructure"), [
    ("connection", True), ("timeout", True), ("http_503", True), ("bad_response", True),
    ("aborted", True), ("text_ids_mismatch", True), ("finish_repetition", False),
    ("finish_content_filter", False), (None, False), ("", False)])
def test_error_kinds_are_classified(kind: str | None, infrastructure: bool) -> None:
    assert is_infrastructure_error(kind) is infrastructure


def test_unreadable_bodies_are_retried_infrastructure_errors(prompt: Prompt) -> None:
    bodies = [b"not json", b'{"choices": []}', b'{"choices": [{"text": 3}]}',
              b'{"choices": [{"text": "x", "finish_reason": null}]}']
    seen: list[int] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(1)
        return web.Response(body=bodies[(len(seen) - 1) % len(bodies)],
                            content_type="application/json")

    async def body() -> Completion:
        app = web.Application()
        app.router.add_post("/v1/completions", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        try:
            port = runner.addresses[0][1]
            (c,) = await complete_all(client([f"http://127.0.0.1:{port}"], max_retries=3),
                                      prompt, 1)
            return c
        finally:
            await runner.cleanup()

    c = run(body())
    assert (c.error, c.attempts, c.infrastructure) == ("bad_response", 4, True)


_JSON = st.recursive(st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.text(max_size=5),
                     lambda inner: st.lists(inner, max_size=4) |
                     st.dictionaries(st.text(max_size=5), inner, max_size=4), max_leaves=12)


_CLIENTS: dict[bool, Any] = {}


@settings(max_examples=200, deadline=None)
@given(choice=st.fixed_dictionaries({}, optional={
    "text": st.one_of(st.text(max_size=20), _JSON), "finish_reason": _JSON,
    "token_ids": st.one_of(_JSON, st.lists(st.integers(-5, 200000), max_size=8)),
    "prompt_token_ids": st.lists(st.integers(0, 9), max_size=5), "stop_reason": _JSON}),
       usage=_JSON, native=st.booleans(), meta=_JSON)
def test_any_answer_is_a_completion_or_a_retried_error(choice: dict[str, Any], usage: Any,
                                                       native: bool, meta: Any) -> None:
    """Whatever a server answers, the client returns a completion with valid ids or fails
    the attempt with a recorded kind: never another exception."""
    from synth.policy.openai import OpenAICompletionsClient
    from synth.policy.wire import AttemptError, parse_generate

    policy = _CLIENTS.setdefault(native, OpenAICompletionsClient(
        {"base_urls": ["http://127.0.0.1:9"], "server": "sglang-native" if native else "vllm"}))
    if native:
        body = {"text": choice.get("text", ""), "output_ids": choice.get("token_ids"),
                "meta_info": meta if not isinstance(meta, dict) else
                {**meta, "finish_reason": {"type": choice.get("finish_reason")}}}
    else:
        body = {"choices": [choice], "usage": usage}
    raw = json.dumps(body).encode()
    try:
        served = (parse_generate if native else parse_completions)(raw)
        c = policy._completion(served, policy.endpoints[0])
    except AttemptError as exc:
        assert exc.kind in {"bad_response", "aborted", "engine_error", "token_ids_missing",
                            "text_ids_mismatch"}
        return
    assert isinstance(c.text, str) and c.finish_reason in {"stop", "length", "error"}
    vocab = vocab_size_of(cached_tokenizer())
    assert c.token_ids is None or all(type(i) is int and 0 <= i < vocab for i in c.token_ids)


# -- 5. timeouts --------------------------------------------------------------------------------
def test_the_timeout_grows_with_max_tokens(prompt: Prompt) -> None:
    scaled = OpenAIPolicyConfig(base_urls=["http://h:1"], request_timeout_s=600,
                                min_decode_tokens_per_s=10)
    assert scaled.request_timeout_for(16384) == pytest.approx(600 + 1638.4)
    fixed = OpenAIPolicyConfig(base_urls=["http://h:1"], min_decode_tokens_per_s=None)
    assert fixed.request_timeout_for(16384) == fixed.request_timeout_s
    # a 0.5 s answer: too slow for a fixed 0.05 s budget, within 0.05 s + 100 tokens at 20/s
    slow = MockServerConfig(latency_s=0.5)
    short = Sampling(max_tokens=100)

    async def body(urls: list[str], _: list[MockServer]) -> list[Completion]:
        kw = {"request_timeout_s": 0.05, "max_retries": 0}
        fixed_c = await complete_all(client(urls, **kw), prompt, 1, short)
        scaled_c = await complete_all(client(urls, **kw, min_decode_tokens_per_s=20),
                                      prompt, 1, short)
        return fixed_c + scaled_c

    fixed_c, scaled_c = run(with_servers([slow], body))
    assert fixed_c.error == "timeout" and scaled_c.error is None


# -- 7. full queues and over-long requests --------------------------------------------------------
def test_a_full_queue_answers_503_with_sglangs_flat_body(prompt: Prompt) -> None:
    config = MockServerConfig(flavor="sglang", max_running=2, latency_s=0.3)

    async def body(urls: list[str], _: list[MockServer]) -> tuple[list[Any], list[Completion]]:
        payload = {"model": "scripted-dsv32", "prompt": prompt.token_ids, "max_tokens": 64,
                   "user": prompt.tag}

        async def post(s: aiohttp.ClientSession) -> tuple[int, Any]:
            async with s.post(urls[0] + "/v1/completions", json=payload) as r:
                return r.status, await r.json()

        async with aiohttp.ClientSession() as s:
            answers = await asyncio.gather(*(post(s) for _ in range(6)))
        done = await complete_all(client(urls, max_retries=50, backoff_max_s=0.2), prompt, 6)
        return answers, done

    answers, done = run(with_servers([config], body))
    errors = [b for status, b in answers if status == 503]
    assert errors and all(set(b) == {"object", "message", "type", "param", "code"} and
                          b["code"] == 503 for b in errors)
    assert all(c.error is None for c in done)  # 503 is retried
    assert any(c.attempts > 1 for c in done)


@pytest.mark.parametrize(("flavor", "accepted"), [("vllm", True), ("sglang", False)])
def test_over_long_requests_are_refused(prompt: Prompt, flavor: str, accepted: bool) -> None:
    n = len(prompt.token_ids or [])
    exact = MockServerConfig(flavor=flavor, max_model_len=n + SAMPLING.max_tokens)
    c = one(exact, prompt, max_retries=3)  # prompt + max_tokens == max_model_len
    assert (c.error is None) is accepted
    if not accepted:  # SGLang rejects at the limit: a 400, not retried
        assert (c.error, c.attempts, c.infrastructure) == ("http_400", 1, True)
    over = one(MockServerConfig(flavor=flavor, max_model_len=n + 10), prompt, max_retries=3)
    assert (over.error, over.attempts) == ("http_400", 1)


# -- 6. the start-up probe ----------------------------------------------------------------------
def test_the_start_up_probe_names_the_endpoint_and_the_numbers() -> None:
    dead = f"http://127.0.0.1:{free_port()}"

    async def body(urls: list[str], _: list[MockServer]) -> dict[str, str]:
        good, short, other = urls
        found: dict[str, str] = {}
        for name, base_urls, server in [("ok", [good], "vllm"),
                                        ("short", [good, short], "vllm"),
                                        ("other", [other], "sglang"),
                                        ("dead", [dead], "vllm"),
                                        ("sglang_edge", [short], "sglang"),
                                        ("vllm_edge", [short], "vllm")]:
            budget = 65536 if name.endswith("edge") else 131072
            config = {"base_urls": base_urls, "model": "scripted-dsv32", "server": server}
            try:
                await asyncio.to_thread(check_endpoints, config, budget, 5.0)
                found[name] = ""
            except EndpointProbeError as exc:
                found[name] = str(exc)
        found["urls"] = " ".join(urls)
        return found

    found = run(with_servers([MockServerConfig(),
                              MockServerConfig(max_model_len=65536),
                              MockServerConfig(served_model="another-model")], body))
    good, short, other = found["urls"].split()
    assert found["ok"] == "" and found["vllm_edge"] == ""  # vLLM: max_model_len >= budget
    assert short in found["short"] and "65536" in found["short"] and "131072" in found["short"]
    assert good not in found["short"]
    assert other in found["other"] and "'another-model'" in found["other"]
    assert dead in found["dead"] and "cannot reach" in found["dead"]
    assert short in found["sglang_edge"] and "65535" in found["sglang_edge"]  # SGLang: above


# -- waiting out an outage ------------------------------------------------------------------------
def test_wait_for_endpoints_probes_until_the_server_returns(prompt: Prompt) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"

    async def body() -> tuple[bool, bool, Completion]:
        policy = client([url], cooldown_failures=1, cooldown_s=3600, max_retries=0)
        try:
            down = await policy.wait_for_endpoints(0.3, interval_s=0.05)
            failed = await policy.complete(prompt, SAMPLING)  # puts it in cool-down
            assert failed.error == "connection" and failed.infrastructure
            assert policy.endpoints[0].cooldown_until > 0
            server = MockServer(MockServerConfig(), port=port)

            async def come_back() -> None:
                await asyncio.sleep(0.3)
                await server.start()

            back = asyncio.create_task(come_back())
            up = await policy.wait_for_endpoints(60.0, interval_s=0.05)
            await back
            try:
                assert policy.endpoints[0].cooldown_until == 0.0
                return down, up, await policy.complete(prompt, SAMPLING)
            finally:
                await server.stop()
        finally:
            await policy.close()

    down, up, after = run(body())
    assert (down, up) == (False, True) and after.error is None
    assert run(ScriptedModel().wait_for_endpoints(0.0))  # no servers: always reachable
