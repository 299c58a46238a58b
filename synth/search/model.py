"""Model-backed agents: the question, answer and verification agents and the rubric judge as
configured endpoints (vLLM/SGLang serving the model), with prompts from
`configs/prompts/search/`. Agents that search run the real rollout loop against the search
tools; their final reply is parsed (an `Answer:` line, or one JSON object).

Construction runs inside `build`, which is synchronous and may be called while an event loop
runs (a shard's), so each agent call runs its coroutine on a private loop in a worker thread.
"""

from __future__ import annotations

import asyncio
import json
import re
import string
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from synth.env.task import ReferenceTurn, Task
from synth.search.answerers import AnswerAgent, Call, Candidate
from synth.search.construct import Rejected, ScriptedQuestionAgent
from synth.search.facts import Fact
from synth.search.question import Hop, Question
from synth.search.rubric import Judge, Rubric
from synth.search.text import extract_answer
from synth.search.verification import Review, ScriptedVerifier

_JSON_OBJECT = re.compile(r"\{.*\}", re.DOTALL)
SEARCH_TOOLS = ("search", "open_page", "find_in_page", "list_links")


def run_sync(make: Any) -> Any:
    """Run the coroutine `make()` to completion from synchronous code."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()


def fill(template: str, **values: Any) -> str:
    """A prompt with `$name` placeholders filled (JSON braces in prompts stay as they are)."""
    return string.Template(template).safe_substitute(
        {k: v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
         for k, v in values.items()})


def last_json(text: str) -> dict[str, Any] | None:
    """The JSON object a reply ends with (fenced or bare), or None."""
    found = _JSON_OBJECT.findall(text.replace("```json", "").replace("```", ""))
    for candidate in reversed(found):
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


class ModelAgent:
    """One endpoint with its prompt; `ask` runs a rollout with the search tools and returns
    (final reply, finish reason)."""

    def __init__(self, endpoint: Any, family: Any) -> None:
        self.endpoint = endpoint
        self.prompt = endpoint.prompt_text()
        self.family = family

    def ask(self, request: str, tag: str, tool_budget: int) -> tuple[str, str]:
        from synth.policy.openai import OpenAICompletionsClient
        from synth.rollout.loop import Budgets, run_rollout

        if self.family is None:
            raise ValueError("a model agent needs the search family to run its tools")
        tools = [t for t in self.family.tool_schemas() if t["function"]["name"] in SEARCH_TOOLS]
        task = Task(task_id=tag, family=self.family.name, seed=0, difficulty=1,
                    system_prompt=self.prompt, user_turns=[request], tools=tools,
                    initial_state={"notes": []}, reference=[ReferenceTurn([], "")],
                    check={"kind": "qa", "answer": "", "aliases": []},
                    metadata={"prompt_role": "developer", "tools_in": "developer"})

        async def go() -> tuple[str, str]:
            policy = OpenAICompletionsClient(self.endpoint.policy)
            try:
                traj = await run_rollout(task, self.family, policy,
                                         sampling=self.endpoint.sampling,
                                         budgets=Budgets(max_tool_rounds=tool_budget))
            finally:
                await policy.close()
            replies = [m for m in traj.messages if m["role"] == "assistant"]
            text = (replies[-1].get("content") or "") if replies else ""
            return text, traj.finish_reason

        return run_sync(go)


class ModelAnswerAgent(AnswerAgent):
    """An answer agent served by an endpoint (its prompt, sampling and tool budget)."""

    def __init__(self, spec: Any, family: Any = None) -> None:
        super().__init__(spec)
        self.agent = ModelAgent(spec.model, family)

    def answer(self, question: Question, call: Call, seed: int) -> Candidate:
        text, finish = self.agent.ask(question.text, f"answer-{self.name}-{seed}",
                                      self.spec.tool_budget)
        note = "" if finish == "answered" else finish
        return Candidate(self.name, extract_answer(text) if not note else "", 0, note)


class ModelQuestionAgent(ScriptedQuestionAgent):
    """The endpoint explores the entity and writes the chain as JSON; as for scripted
    questions, the verifier then proves it unique and `generate` replays the reference
    within the call budget."""

    def __init__(self, spec: Any, patterns: Any, generic: bool, family: Any = None) -> None:
        super().__init__(patterns, generic)
        self.agent = ModelAgent(spec.model, family)

    def construct(self, entity_id: str, depth: int, breadth: int, rng: Any,
                  caller: Any) -> Question:
        request = fill(self.agent.prompt, entity_id=entity_id, depth=depth, breadth=breadth)
        text, finish = self.agent.ask(request, f"question-{entity_id}", 40)
        data = last_json(text) if finish == "answered" else None
        try:
            hops = [Hop(h["doc_id"], h["title"], [Fact.from_json(f) for f in h["facts"]],
                        Fact.from_json(h["link"]) if h.get("link") else None)
                    for h in (data or {})["hops"]]
        except (KeyError, TypeError, ValueError):
            raise Rejected("question_agent_unparsable") from None
        if not hops or hops[0].doc_id != entity_id:
            raise Rejected("question_agent_wrong_entity")
        return Question(hops, [str(a) for a in (data or {}).get("aliases", [])])


class ModelVerifier(ScriptedVerifier):
    """The tool checks of the scripted verifier, then `passes` model reviews that must all
    confirm the ground truth, its uniqueness and every candidate's refutation."""

    def __init__(self, spec: Any, passes: int, family: Any = None) -> None:
        super().__init__(passes)
        self.agent = ModelAgent(spec.model, family)

    def review(self, question: Question, candidates: list[Candidate], call: Call) -> Review:
        checked = super().review(question, candidates, call)
        if not checked.accepted:
            return checked
        request = fill(self.agent.prompt, question=question.text, answer=question.answer,
                       aliases=question.aliases, evidence=question.evidence,
                       candidates=[{"agent": c.agent, "answer": c.answer}
                                   for c in checked.candidates])
        for number in range(self.n_passes):
            text, finish = self.agent.ask(request, f"verify-{question.answer_id}-{number}", 40)
            verdict = last_json(text) if finish == "answered" else None
            if verdict is None:
                return Review(False, "model_verifier_unparsable", checked.passes)
            if not verdict.get("ground_truth_correct") or not verdict.get("unique"):
                return Review(False, "model_verifier_rejects_ground_truth", checked.passes)
            wrong = {c.get("agent"): c for c in verdict.get("candidates", [])
                     if isinstance(c, dict)}
            for candidate in checked.candidates:
                if not wrong.get(candidate.agent, {}).get("wrong"):
                    return Review(False, f"model_verifier_accepts:{candidate.agent}",
                                  checked.passes)
            checked.passes.append(f"model pass {number + 1} agrees")
        return checked


class ModelJudge(Judge):
    """A generative reward model: the endpoint reads the rubric and the answer and says which
    criteria are met (`{"met": [true, false, ...]}`)."""

    def __init__(self, spec: Any, family: Any = None) -> None:
        self.agent = ModelAgent(spec.model, family)

    def score(self, prompt: str, rubric: Rubric, answer: str) -> tuple[float, list[str]]:
        request = fill(self.agent.prompt, task=prompt, answer=answer,
                       criteria=[c.text for c in rubric.criteria])
        text, finish = self.agent.ask(request, "judge", 1)
        verdict = last_json(text) if finish == "answered" else None
        met = verdict.get("met") if verdict else None
        if not isinstance(met, list) or len(met) != len(rubric.criteria):
            return 0.0, [f"judge reply unusable ({finish})"]
        total = sum(c.weight for c in rubric.criteria) or 1.0
        score = sum(c.weight for c, ok in zip(rubric.criteria, met, strict=True) if ok is True)
        return score / total, [f"{'met' if ok is True else 'not met'}: {c.text}"
                               for c, ok in zip(rubric.criteria, met, strict=True)]
