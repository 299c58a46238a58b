"""Task construction, answer agents and the verifier: questions with two answers and questions
an answer agent solves are rejected; answers match with aliases, near misses do not."""

from __future__ import annotations

import asyncio
import functools
import random
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from environments.search.family import SearchFamily
from synth.env import get_family
from synth.search.corpus import Document, write_corpus
from synth.search.encyclopedia import PATTERNS
from synth.search.facts import Fact
from synth.search.options import SearchOptions
from synth.search.question import Hop, Question
from synth.search.solver import tool_caller
from synth.search.verification import ScriptedVerifier

PEOPLE = [  # two glassmakers from Norvia born in the 1870s in Tessel Ford: not unique
    Document("anna", "Anna Vell", "Anna Vell was a glassmaker from Norvia. She was born in "
             "1873 in Tessel Ford. She died in 1931. Anna Vell is also known as A. Vell.",
             aliases=("A. Vell",)),
    Document("bert", "Bert Osk", "Bert Osk was a glassmaker from Norvia. He was born in 1875 "
             "in Tessel Ford. He died in 1950."),
    Document("cara", "Cara Lind", "Cara Lind was a glassmaker from Casmere. She was born in "
             "1874 in Tessel Ford. She died in 1931."),
    Document("tessel", "Tessel Ford", "Tessel Ford is a river town in Norvia. It was founded in "
             "1412 and had a population of 13,412 at the last census."),
]


@pytest.fixture(scope="module")
def people(tmp_path_factory) -> SearchFamily:
    folder = tmp_path_factory.mktemp("people")
    path = write_corpus(PEOPLE, str(folder / "people.jsonl"))
    return SearchFamily({"corpus": path, "cache_dir": str(folder),
                         "patterns": [p.model_dump() for p in PATTERNS],
                         "answer_agents": [{"name": "lookup", "strategy": "lookup",
                                            "tool_budget": 1}]})


def glassmaker(*extra: Fact) -> Question:
    facts = [Fact("phrase", "worked as a glassmaker", "glassmaker"),
             Fact("phrase", "came from Norvia", "Norvia"),
             Fact("decade", "was born in the 1870s", "1873", r"was born in (\d{4})", 1870, 1879),
             *extra]
    return Question([Hop("anna", "Anna Vell", facts)], ["A. Vell"])


def test_a_question_with_two_valid_answers_is_rejected(people) -> None:
    review = people.maker.review(glassmaker(), seed=1).review
    assert not review.accepted and review.reason == "not_unique"


def test_the_same_question_made_unique_is_kept_with_refuted_candidates(people) -> None:
    died = Fact("decade", "died in the 1930s", "1931", r"died in (\d{4})", 1930, 1939)
    outcome = people.maker.review(glassmaker(died), seed=1)
    assert outcome.review.accepted, outcome.review
    (candidate,) = outcome.review.candidates
    assert candidate.agent == "lookup" and candidate.wrong_because
    assert "Anna Vell" not in candidate.answer


def test_a_question_an_answer_agent_solves_is_rejected(people) -> None:
    died = Fact("decade", "died in the 1930s", "1931", r"died in (\d{4})", 1930, 1939)
    strong = SearchFamily({**people.options.model_dump(), "answer_agents": [
        {"name": "lookup", "strategy": "lookup", "tool_budget": 1},
        {"name": "strong", "strategy": "solver", "tool_budget": 20}]})
    review = strong.maker.review(glassmaker(died), seed=1).review
    assert not review.accepted and review.reason == "answered_by:strong"


def test_an_alias_or_the_page_itself_counts_as_solved(people) -> None:
    died = Fact("decade", "died in the 1930s", "1931", r"died in (\d{4})", 1930, 1939)
    question = glassmaker(died)
    call = tool_caller(people.tools, {"notes": []})
    from synth.search.answerers import Candidate

    for answer in ("A. Vell", "anna vell!", "The Anna Vell"):
        review = ScriptedVerifier().review(question, [Candidate("m", answer)], call)
        assert review.reason == "answered_by:m", answer
    wrong = ScriptedVerifier().review(question, [Candidate("m", "Bert Osk"),
                                                 Candidate("n", "Nobody Here"),
                                                 Candidate("o", "")], call)
    assert wrong.accepted
    reasons = [c.wrong_because for c in wrong.candidates]
    assert "does not satisfy 'died in the 1930s'" in reasons[0]
    assert reasons[1] == "no page is titled 'Nobody Here'" and reasons[2].startswith("no answer")


def test_a_wrong_ground_truth_is_rejected(people) -> None:
    question = glassmaker()
    question.hops[0].facts[1] = Fact("phrase", "came from Casmere", "Casmere")
    review = people.maker.review(question, seed=1).review
    assert review.reason == "ground_truth_unverified"


@functools.cache
def default_qa_task():
    return kept_qa_task(get_family("search"))


def kept_qa_task(family, level: int = 2):
    for seed in range(100):
        task = family.generate(seed, level).task
        if task is not None and task.check["kind"] == "qa" and task.check["aliases"]:
            return task
    raise AssertionError("no QA task with aliases in 100 seeds")


def test_aliases_accepted_near_misses_rejected() -> None:
    family = get_family("search")
    task = default_qa_task()
    state = family.new_state(task)
    title, alias = task.check["answer"], task.check["aliases"][0]
    for good in (f"Answer: {title}", title.upper(), f"After searching...\nAnswer:  {title}.",
                 f"Answer: {alias}", f"answer: the {title}", f" {title} "):
        assert family.verify(task, state, good).passed, good
    others = [h["title"] for h in task.metadata["chain"][1:]]
    for bad in (f"Answer: {title[:-1]}", f"Answer: {title}s", f"Answer: {title} {others[0]}",
                f"Answer: {others[0]}", "Answer:", "", f"Answer: {title.split()[0]}"):
        assert not family.verify(task, state, bad).passed, bad


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_answer_matching_is_blind_to_case_space_and_punctuation_only(data) -> None:
    family = get_family("search")
    task = default_qa_task()
    state, title = family.new_state(task), task.check["answer"]
    spaced = data.draw(st.sampled_from([" ", "  ", " - ", ", "]))
    variant = spaced.join(w.upper() if data.draw(st.booleans()) else w.lower()
                          for w in title.split())
    variant += data.draw(st.sampled_from(["", ".", "!", " ."]))
    assert family.verify(task, state, f"Answer: {variant}").passed
    at = data.draw(st.integers(0, len(title) - 1))
    if title[at].isalnum():
        changed = title[:at] + ("q" if title[at].lower() != "q" else "z") + title[at + 1:]
        assert not family.verify(task, state, f"Answer: {changed}").passed


def test_kept_questions_cite_evidence_and_refute_every_candidate() -> None:
    family = get_family("search")
    call = tool_caller(family.tools, {"notes": []})
    checked = 0
    for seed in range(12):
        task = family.generate(seed, 1 + seed % 5).task
        if task is None or task.check["kind"] != "qa":
            continue
        meta = task.metadata
        first = call("open_page", {"doc_id": meta["evidence"][0], "page": 1})
        assert first["title"] == task.check["answer"]
        assert meta["constraints"] == sum(len(h["facts"]) + bool(h["link"])
                                          for h in meta["chain"])
        assert len(meta["chain"]) == meta["hops"] and meta["candidates"]
        for candidate in meta["candidates"]:
            assert candidate["wrong_because"], candidate
        for hop in meta["chain"]:  # no name from the chain appears in the question
            assert hop["title"] not in task.user_turns[0]
        assert task.metadata["prompt_role"] == "developer"
        checked += 1
    assert checked >= 5


def test_rejections_are_counted_by_reason() -> None:
    family = SearchFamily({"attempts": 1})
    reasons = [family.generate(seed, 1).discard for seed in range(40)]
    discards = [r for r in reasons if r]
    assert discards and all(r.startswith("rejected:") for r in discards)
    assert sum(family.maker.rejections.values()) == len(discards)
    kept = [SearchFamily().generate(s, 1).task for s in range(10)]
    assert any(t is not None and "rejections" in t.metadata for t in kept)


def test_rubric_tasks_scored_by_the_judge() -> None:
    family = SearchFamily({"rubric_fraction": 1.0})
    task = next(t for s in range(40) if (t := family.generate(s, 3).task) is not None)
    rubric = task.check["rubric"]
    assert task.check["kind"] == "rubric" and len(rubric["criteria"]) == 2 * 4 + 1
    state, answer = family.run_reference(task)
    verdict = family.verify(task, state, answer)
    assert verdict.passed and verdict.score == 1.0
    half = "\n".join(answer.split("\n")[:1])
    partial = family.verify(task, state, half)
    assert not partial.passed and 0.0 < partial.score < rubric["threshold"]
    assert "not met" in partial.reason


def test_options_errors_name_the_field() -> None:
    with pytest.raises(ValidationError, match="service_url"):
        SearchOptions(backend="http")
    with pytest.raises(ValidationError, match=r"patterns\.0\.regex"):
        SearchOptions(patterns=[{"regex": "(a)(b)", "kind": "phrase", "clue": "x"}])
    with pytest.raises(ValidationError, match=r"answer_agents\.0"):
        SearchOptions(answer_agents=[{"name": "m", "kind": "model"}])
    with pytest.raises(ValidationError, match="depth"):
        SearchOptions(depth=9)
    with pytest.raises(ValidationError, match="unique"):
        SearchOptions(answer_agents=[{"name": "a"}, {"name": "a"}])
    with pytest.raises(ValidationError, match=r"prepared\.difficulties"):
        SearchOptions(prepared={"location": "p", "seed": 1, "tasks": 2, "difficulties": [7]})
    with pytest.raises(ValidationError, match=r"prepared\.tasks"):
        SearchOptions(prepared={"location": "p", "seed": 1, "tasks": 0})


def test_model_answer_agent_over_http() -> None:
    """A model answer agent runs the real rollout loop against an OpenAI-compatible server
    (the mock server on loopback): its prompt, the search tools, its answer line."""
    from synth.policy.mock_server import MockServer

    loop = asyncio.new_event_loop()
    server = MockServer()
    started = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert started.wait(30)
    try:
        endpoint = {"prompt": "answer.md", "policy": {"base_urls": [server.base_url],
                                                       "model": server.config.model_name,
                                                       "send": "text", "max_retries": 0}}
        family = SearchFamily({"answer_agents": [
            {"name": "served", "kind": "model", "tool_budget": 3, "model": endpoint}]})
        task = default_qa_task()
        question = Question.from_json({"hops": task.metadata["chain"],
                                       "aliases": task.check["aliases"]})
        outcome = family.maker.review(question, seed=random.Random(0).getrandbits(32))
        (candidate,) = outcome.candidates
        assert candidate.agent == "served" and candidate.note == ""
        assert candidate.answer == "I cannot help with that."  # the mock knows no such task
        assert outcome.review.accepted
        assert "no page is titled" in outcome.review.candidates[0].wrong_because
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
