"""End to end on a real third-party corpus: Debian's dict-foldoc (fetched at setup by
tests/fetch_corpora.sh, never committed) imported, indexed, turned into verified questions and
rolled out with the scripted model."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from environments.search.family import SearchFamily
from synth.policy.scripted import ScriptedConfig, ScriptedModel
from synth.rollout.loop import run_rollout
from synth.samples import build_samples
from synth.search.dictd import find_dictionaries, read_dictd
from synth.search.facts import Fact
from synth.search.solver import passes, tool_caller
from synth.search.text import contains_phrase
from synth.template import encode_messages

CORPORA = Path(os.environ.get("SYNTH_TEST_CORPORA",
                              Path.home() / ".cache" / "synth" / "corpora"))
FOLDOC = CORPORA / "dict-foldoc" / "usr" / "share" / "dictd"



@pytest.fixture(scope="module", autouse=True)
def fetched() -> None:
    """Skip without the fetched corpus, or fail where it is required (CI fetches it)."""
    if (FOLDOC / "foldoc.index").is_file():
        return
    message = f"dict-foldoc is not in {FOLDOC}: run tests/fetch_corpora.sh (apt-get download)"
    if os.environ.get("SYNTH_CORPORA_REQUIRED") == "1":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def foldoc(tmp_path_factory) -> SearchFamily:
    return SearchFamily({"corpus": f"dictd:{FOLDOC}",
                         "cache_dir": str(tmp_path_factory.mktemp("foldoc"))})


@pytest.fixture(scope="module")
def tasks(foldoc):
    found = []
    for seed in range(60):
        task = foldoc.generate(seed, 1 + seed % 5).task
        if task is not None and task.check["kind"] == "qa":
            found.append(task)
        if len(found) == 6:
            return found
    raise AssertionError(f"only {len(found)} FOLDOC questions in 60 seeds: "
                         f"{dict(foldoc.maker.rejections)}")


def test_foldoc_imports_with_aliases_and_cross_references() -> None:
    [(index, data)] = find_dictionaries(FOLDOC)
    docs = list(read_dictd(index, data))
    assert len(docs) > 10000
    by_title = {d.title: d for d in docs}
    assert sum(1 for d in docs if d.links) > len(docs) / 2
    assert sum(1 for d in docs if d.aliases) > 1000
    assert any(d.text.startswith("<") for d in docs), "FOLDOC's <category> tags are kept"
    assert len(by_title) > 0.95 * len(docs)


def test_questions_cite_documents_that_contain_the_answer(foldoc, tasks) -> None:
    call = tool_caller(foldoc.tools, {"notes": []})
    for task in tasks:
        answer, evidence = task.check["answer"], task.metadata["evidence"]
        first = call("open_page", {"doc_id": evidence[0], "page": 1})
        assert contains_phrase(first["title"] + "\n" + first["text"], answer)
        assert len(evidence) == task.metadata["hops"] >= 2
        for hop in task.metadata["chain"]:  # every clue holds on its cited page
            for fact in [*hop["facts"], *([hop["link"]] if hop["link"] else [])]:
                fact = Fact.from_json(fact)
                found = call("find_in_page", {"doc_id": hop["doc_id"], "pattern": fact.probe})
                assert passes(fact, found), (hop["doc_id"], fact.clue)
        assert not contains_phrase(task.user_turns[0], answer)
        assert all(c["wrong_because"] for c in task.metadata["candidates"])


def test_scripted_rollouts_pass_and_sample_exactly(foldoc, tasks, tokenizer) -> None:
    model = ScriptedModel(ScriptedConfig(seed=2))
    model.prepare(foldoc, tasks)
    for task in tasks:
        traj = asyncio.run(run_rollout(task, foldoc, model, tokenizer=tokenizer))
        assert traj.finish_reason == "answered" and traj.passed, traj.verdict_reason
        assert traj.n_tool_calls == task.n_reference_calls
        (sample,) = build_samples(traj.messages, tokenizer, traj.completions)
        system, opening = sample.messages[:2]
        assert opening["role"] == "developer" and opening["tools"] == task.tools
        assert "tools" not in system  # the tools are rendered inside the developer turn
        text = encode_messages(sample.messages, thinking_mode="thinking", drop_thinking=True)
        assert tokenizer.encode(text) == sample.input_ids
