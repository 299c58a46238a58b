"""A scripted stand-in for DeepSeek-V3.2: follows the task's reference, with mistakes.

It writes reasoning, `</think>`, content and DSML tool calls exactly as V3.2 does (through the
template codec), so miniature runs exercise the real parsing, tool execution, verification and
serialization paths. It is stateless: the task comes from the prompt's tag (a trajectory id
starting with the task id) and the position from the prompt itself (user turns and tool-result
blocks so far). Every decision is drawn from (seed, tag, turn, step), so a retried request gets
the same answer and a run is reproducible. Mistakes make pass rates spread across tasks.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from synth.env import EnvFamily, Task, ToolCall, get_family, parse_task_id
from synth.policy.base import FINISH_LENGTH, FINISH_STOP, Completion, Policy, Prompt, Sampling
from synth.seeding import derive_seed
from synth.template import ASSISTANT, RESULTS_CLOSE, render_completion
from synth.template import USER as USER_MARK

_NUMBER = re.compile(r"\d+(?:\.\d+)?")

TaskResolver = Callable[[str], tuple[EnvFamily, Task] | None]


class MistakeRates(BaseModel):
    """Per-step probabilities of each kind of mistake (0 everywhere: a perfect model)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    wrong_argument: float = Field(0.0, ge=0, le=1)
    skipped_step: float = Field(0.0, ge=0, le=1)
    unknown_tool: float = Field(0.0, ge=0, le=1)
    malformed_dsml: float = Field(0.0, ge=0, le=1)
    wrong_final_answer: float = Field(0.0, ge=0, le=1)
    give_up: float = Field(0.0, ge=0, le=1)


class ScriptedConfig(BaseModel):
    """How the scripted model behaves."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int = 0
    mistakes: MistakeRates = MistakeRates()
    reasoning_sentences: int = Field(2, ge=1, le=200)
    extra_read_rounds: int = Field(0, ge=0, description="re-check rounds before the reference")
    latency_s: float = Field(0.0, ge=0, description="simulated time per completion")
    spread: bool = Field(True, description="scale mistake rates by level and a per-task "
                                            "hardness, so pass rates spread across tasks")
    model: str = "scripted-dsv32"


def registry_resolver(cache_size: int = 4096) -> TaskResolver:
    """Regenerate a task from its id through the family registry (cached)."""
    cache: OrderedDict[str, tuple[EnvFamily, Task] | None] = OrderedDict()

    def resolve(task_id: str) -> tuple[EnvFamily, Task] | None:
        if task_id in cache:
            return cache[task_id]
        try:
            name, difficulty, seed = parse_task_id(task_id)
            family = get_family(name)
            task = family.generate(seed, difficulty).task
            found = None if task is None else (family, task)
        except (KeyError, ValueError):
            found = None
        cache[task_id] = found
        if len(cache) > cache_size:
            cache.popitem(last=False)
        return found

    return resolve


class ScriptedModel(Policy):
    """Deterministic, reference-following policy with configurable mistakes."""

    def __init__(self, config: ScriptedConfig | None = None,
                 resolver: TaskResolver | None = None) -> None:
        self.config = config or ScriptedConfig()
        self.model = self.config.model
        self.resolver = resolver or registry_resolver()
        self._known: dict[str, tuple[EnvFamily, Task]] = {}

    def prepare(self, family: EnvFamily, tasks: list[Task]) -> None:
        """Tasks the caller already generated, so they need not be regenerated from ids."""
        self._known.update((t.task_id, (family, t)) for t in tasks)

    async def complete(self, prompt: Prompt, sampling: Sampling) -> Completion:
        if self.config.latency_s:
            await asyncio.sleep(self.config.latency_s)
        return self.complete_now(prompt, sampling)

    def complete_now(self, prompt: Prompt, sampling: Sampling) -> Completion:
        """The synchronous core (the mock server and benchmarks call it directly)."""
        task_id = prompt.tag.rsplit("#", 1)[0]
        found = self._known.get(task_id) or self.resolver(task_id)
        if found is None:
            message = {"role": "assistant", "reasoning_content": "I have no task for this.",
                       "content": "I cannot help with that."}
        else:
            message = self._next_message(found[1], prompt)
        how = message.pop("_malform", None)
        text = render_completion(message, thinking_mode="thinking")
        if how is not None:
            text = malform(text, how)
        limit = sampling.max_tokens * 3  # a cheap token estimate: ~3 characters per token
        if len(text) > limit:
            return Completion(text=text[:limit], finish_reason=FINISH_LENGTH,
                              completion_tokens=sampling.max_tokens)
        return Completion(text=text, finish_reason=FINISH_STOP,
                          completion_tokens=max(1, len(text) // 3))

    # -- deciding the next message ---------------------------------------------------------
    def _position(self, text: str) -> tuple[int, int, str]:
        """(user turn, step within the turn, text of the latest tool results)."""
        last_user = text.rfind(USER_MARK)
        turn = text.count(USER_MARK) - 1
        # count after the turn's own text: a developer turn's tools block shows an example
        # result block
        step = text.count(RESULTS_CLOSE, text.find(ASSISTANT, last_user)) if last_user >= 0 else 0
        tail = text[text.rfind("<function_results>"):] if step else ""
        return max(turn, 0), step, tail

    def _rng(self, tag: str, turn: int, step: int) -> random.Random:
        return random.Random(derive_seed(self.config.seed, tag, turn, step))

    def _scale(self, task: Task) -> float:
        """How error-prone this task makes the model: more at higher levels, and a per-task
        hardness (log-uniform in [1/4, 2]) so that some tasks are rarely solved."""
        if not self.config.spread:
            return 1.0
        hardness = 2 ** random.Random(derive_seed(self.config.seed, task.task_id)).uniform(-2, 1)
        return (0.5 + 0.25 * task.difficulty) * hardness

    def _decide(self, rng: random.Random, scale: float = 1.0) -> str:
        rates = self.config.mistakes
        roll = rng.random()
        for kind in ("malformed_dsml", "unknown_tool", "skipped_step", "wrong_argument",
                     "give_up"):
            p = getattr(rates, kind) * scale
            if roll < p:
                return kind
            roll -= p
        return "follow"

    def _next_message(self, task: Task, prompt: Prompt) -> dict[str, Any]:
        turn, step, results = self._position(prompt.text)
        turn = min(turn, len(task.reference) - 1)
        reference = task.reference[turn]
        extra = self.config.extra_read_rounds
        scale = self._scale(task)
        cursor = 0  # reference rounds consumed before this step
        for earlier in range(step):
            if earlier < extra:
                continue
            kind = self._decide(self._rng(prompt.tag, turn, earlier), scale)
            cursor += {"follow": 1, "wrong_argument": 1, "skipped_step": 2}.get(kind, 0)
        rng = self._rng(prompt.tag, turn, step)
        kind = self._decide(rng, scale)
        noticed = "Error:" in results
        if step < extra and reference.rounds:
            return self._call_message(task, reference.rounds[0], "Let me re-check the data.", rng)
        if cursor >= len(reference.rounds):
            return self._final_message(task, reference.answer, rng, scale)
        if kind == "give_up":
            return {"role": "assistant", "reasoning_content": self._reasoning(
                rng, "This looks too complicated to finish."),
                "content": "I'm sorry, I can't complete this request with the available tools."}
        calls = reference.rounds[cursor]
        if kind == "skipped_step" and cursor + 1 < len(reference.rounds):
            calls = reference.rounds[cursor + 1]
        elif kind == "wrong_argument":
            calls = [_perturb_call(calls[0], rng), *calls[1:]]
        elif kind == "unknown_tool":
            calls = [ToolCall(f"{calls[0].name}_v2", calls[0].arguments)]
        message = self._call_message(task, calls, "The previous call failed; adjusting."
                                     if noticed else "", rng)
        if kind == "malformed_dsml":
            message["_malform"] = rng.choice(_MALFORMS)
        return message

    def _call_message(self, task: Task, calls: list[ToolCall], note: str,
                      rng: random.Random) -> dict[str, Any]:
        names = ", ".join(c.name for c in calls)
        thought = f"{note} Next I call {names} to make progress on the request.".strip()
        return {"role": "assistant", "reasoning_content": self._reasoning(rng, thought),
                "content": "", "tool_calls": [c.to_openai() for c in calls]}

    def _final_message(self, task: Task, answer: str, rng: random.Random,
                       scale: float) -> dict[str, Any]:
        if rng.random() < self.config.mistakes.wrong_final_answer * scale:
            answer = _wrong_answer(answer, rng)
        thought = "I have what I need; summarizing the outcome for the user."
        return {"role": "assistant", "reasoning_content": self._reasoning(rng, thought),
                "content": answer}

    def _reasoning(self, rng: random.Random, core: str) -> str:
        extra = [rng.choice(_FILLERS) for _ in range(self.config.reasoning_sentences - 1)]
        return " ".join([core, *extra])


def _perturb_call(call: ToolCall, rng: random.Random) -> ToolCall:
    args = dict(call.arguments)
    if not args:
        return ToolCall(call.name, {"unexpected": True})
    key = rng.choice(sorted(args))
    value = args[key]
    if isinstance(value, bool):
        args[key] = not value
    elif isinstance(value, int | float):
        args[key] = value + rng.choice([1, 7, 100])
    elif isinstance(value, str):
        args[key] = value[:-1] + ("X" if not value.endswith("X") else "Y") if value else "X"
    else:
        args[key] = None
    return ToolCall(call.name, args)


def _wrong_answer(answer: str, rng: random.Random) -> str:
    match = _NUMBER.search(answer)
    if match is None:
        return "I could not determine the result."
    bumped = str(float(match.group()) + rng.choice([1, 3, 10]))
    return answer[: match.start()] + bumped + answer[match.end():]


_FILLERS = (
    "I should double-check the constraints before acting.",
    "The tool results so far are consistent with the request.",
    "Let me keep the user's conditions in mind.",
    "Nothing in the data contradicts the plan.",
    "I will be careful with the exact identifiers.",
)

# Ways V3.2-family models have been seen to break DSML (see reference/TEMPLATE.md).
_MALFORMS = ("unclosed_wrapper", "single_newline", "bad_wrapper_name", "bare_invoke",
             "dsml_in_reasoning", "bad_json")


def malform(text: str, how: str) -> str:
    """Break a well-formed completion with tool calls in one of the known ways."""
    wrapper_open, wrapper_close = "<｜DSML｜function_calls>", "</｜DSML｜function_calls>"
    if how == "unclosed_wrapper":
        return text.replace(wrapper_close, "")
    if how == "single_newline":
        return text.replace("\n\n" + wrapper_open, "\n" + wrapper_open)
    if how == "bad_wrapper_name":
        return text.replace(wrapper_open, "<｜DSML｜function_call>")
    if how == "bare_invoke":
        return text.replace("\n\n" + wrapper_open + "\n", "\n\n").replace(
            "\n" + wrapper_close, "")
    if how == "dsml_in_reasoning":
        head, _, tail = text.partition("</think>")
        return head + tail
    return text.replace('string="false">', 'string="false">{not json ', 1) if (
        'string="false">' in text) else text.replace(wrapper_close, "")
