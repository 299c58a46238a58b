"""The environment-family contract and self-validating task generation.

A family subclasses `EnvFamily`, declares its tools with `@tool` and implements `build` (a
seeded scenario: state, prompts, a solution that may only call tools, a verifier spec). A
family that checks the final state writes one projection, `outcome` (what must be true of the
state); the base class stores the reference's outcome in the check, verifies by the first
difference and derives generic wrong outcomes from it, so the family adds only an
`answer_problem` (a total the answer must state) and its domain `corruptions`. A family that
checks otherwise (constraints, model-written code) overrides `verify` and `corruptions`.
`generate` runs the solution through the tools on a fresh state, records it as the reference
trace, and emits the task only if the verifier accepts it and rejects every wrong outcome;
otherwise the task is discarded with a counted reason.
"""

from __future__ import annotations

import inspect
import json
import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple

from pydantic import BaseModel, ConfigDict

from synth.env.build import BuildStage
from synth.env.outcome import copy_state, first_difference, outcome_edits
from synth.env.task import ReferenceTurn, Task, Verdict, make_task_id
from synth.env.tools import Tool, ToolCall, execute_call, object_schema

MIN_CORRUPTIONS = 3
#: where an outcome-checking family's check keeps the reference's outcome
EXPECTED = "expected"


def _required_parameters(fn: Callable[..., Any], properties: dict[str, Any]) -> list[str]:
    """The properties whose parameter of `fn(self, state, ...)` has no default, in schema
    order; a parameter without a schema, or a property without a parameter, is an error."""
    params = list(inspect.signature(fn).parameters.values())[2:]
    named = {p.name: p for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params)
    needed = {name for name, p in named.items() if p.default is p.empty}
    if needed - set(properties):
        raise ValueError(f"tool {fn.__name__}: parameters {sorted(needed - set(properties))} "
                         "have no schema property")
    if not takes_any and set(properties) - set(named):
        raise ValueError(f"tool {fn.__name__}: properties {sorted(set(properties) - set(named))}"
                         " are not parameters of the function")
    return [name for name in properties if name in needed]


def tool(
    description: str,
    properties: dict[str, Any] | None = None,
    required: list[str] | None = None,
    *,
    writes: bool = False,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a family method `fn(self, state, **args)` as a tool with a closed object schema.
    Unless `required` says otherwise, the parameters without a default are required."""

    def mark(fn: Callable[..., Any]) -> Callable[..., Any]:
        props = properties or {}
        needed = required if required is not None else _required_parameters(fn, props)
        fn.__synth_tool__ = (description, object_schema(props, needed), writes)  # type: ignore[attr-defined]
        return fn

    return mark


class FamilyOptions(BaseModel):
    """Options of a family; subclasses add fields. Unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class SolutionError(Exception):
    """The reference solution hit a tool error: the scenario is inconsistent."""


class Discard(Exception):
    """Raised by `build` to give up on a draw with a reason that is counted as it is."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Toolbox:
    """What a reference solution sees: tool calls only, never the state itself.

    Results come back decoded from the same JSON text the model reads, so the solution cannot
    hold references into the state. Every call is recorded as the reference trace.
    """

    def __init__(self, tools: dict[str, Tool], state: Any) -> None:
        self._tools = tools
        self._state = state
        self.rounds: list[list[ToolCall]] = []

    def _run(self, name: str, arguments: dict[str, Any]) -> Any:
        result = execute_call(self._tools, self._state, name, arguments)
        if not result.ok:
            raise SolutionError(f"{name}({arguments}) -> {result.text}")
        return json.loads(result.text) if not isinstance(result.value, str) else result.value

    def __call__(self, name: str, /, **arguments: Any) -> Any:
        """Call one tool in its own round."""
        self.rounds.append([ToolCall(name, arguments)])
        return self._run(name, arguments)

    def parallel(self, *calls: tuple[str, dict[str, Any]]) -> list[Any]:
        """Call independent tools in one round (one assistant message with several calls)."""
        self.rounds.append([ToolCall(name, args) for name, args in calls])
        return [self._run(name, args) for name, args in calls]


Solution = Callable[[Toolbox], str]


@dataclass
class Draft:
    """What `build` returns: a scenario before validation."""

    state: Any
    system_prompt: str
    user_turns: list[str]
    solutions: list[Solution]
    check: dict[str, Any]
    tools: list[str] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


class Corruption(NamedTuple):
    """A wrong outcome (state, answer) that the verifier must reject. A generic corruption of
    an outcome-checking family holds the wrong outcome itself (`projected`), not a state."""

    kind: str
    state: Any
    answer: str
    projected: bool = False

    @classmethod
    def edit(cls, kind: str, state: Any, answer: str, change: Callable[[Any], object],
             *parts: str) -> Corruption:
        """`state` changed by `change` on a copy: of the top-level `parts` only when given
        (the rest is shared, since verifiers only read), else of all of it."""
        new = {**state, **{p: copy_state(state[p]) for p in parts}} if parts else copy_state(state)
        change(new)
        return cls(kind, new, answer)


def validation_failure(corruptions: Sequence[Corruption], verdicts: Callable[[], Iterable[bool]],
                       minimum: int = MIN_CORRUPTIONS) -> str | None:
    """Why a task does not validate itself, or None: fewer than `minimum` wrong outcomes, the
    reference fails its verifier, or a wrong outcome passes (the first one). `verdicts()` gives
    whether the reference passes, then each corruption in order; it is called only when there
    are enough corruptions and read lazily, so judging stops at the first failure."""
    if len(corruptions) < minimum:
        return "too_few_corruptions"
    passes = iter(verdicts())
    if not next(passes, False):
        return "reference_fails_verifier"
    for corruption, passed in zip(corruptions, passes, strict=True):
        if passed:
            return f"corruption_passes:{corruption.kind}"
    return None


@dataclass(frozen=True)
class Generated:
    """The result of generation: a task, or the reason it was discarded."""

    task: Task | None
    discard: str | None = None


class EnvFamily:
    """Base class of environment families. Subclasses set the class attributes below."""

    name: ClassVar[str]
    description: ClassVar[str]
    levels: ClassVar[tuple[int, ...]] = (1, 2, 3, 4, 5)
    multi_turn: ClassVar[bool] = False
    verification: ClassVar[str] = "state"  # "state", "answer" or "constraints"
    max_calls: ClassVar[int] = 12
    #: tools that block (e.g. run model-written code in a sandbox) run off the event loop
    blocking_tools: ClassVar[bool] = False
    Options: ClassVar[type[FamilyOptions]] = FamilyOptions
    #: whether the family writes `outcome` (and so is verified by comparing outcomes)
    compares_outcome: ClassVar[bool] = False
    _tool_specs: ClassVar[dict[str, tuple[str, dict[str, Any], bool]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        specs: dict[str, tuple[str, dict[str, Any], bool]] = {}
        for klass in reversed(cls.__mro__):
            for attr, value in vars(klass).items():
                if hasattr(value, "__synth_tool__"):
                    specs[attr] = value.__synth_tool__
        cls._tool_specs = specs
        cls.compares_outcome = cls.outcome is not EnvFamily.outcome

    def __init__(self, options: FamilyOptions | dict[str, Any] | None = None) -> None:
        if isinstance(options, self.Options):
            self.options = options
        else:  # a dict, or another family's options: validated field by field
            if isinstance(options, FamilyOptions):
                options = options.model_dump()
            self.options = self.Options.model_validate(options or {})
        self.tools: dict[str, Tool] = {
            name: Tool(name, desc, schema, getattr(self, name), writes)
            for name, (desc, schema, writes) in self._tool_specs.items()
        }

    # -- what a family implements -------------------------------------------------------
    def build(self, rng: random.Random, difficulty: int) -> Draft:
        """Draw a scenario. Draw the base scenario first and level additions after, so that
        the same seed at a higher level extends the same scenario (see `harder`)."""
        raise NotImplementedError

    def outcome(self, task: Task, state: Any) -> Any:
        """What must be true of a final state, as a JSON value in a path-independent form
        (e.g. balances and statuses of accounts, the bills paid). Families that verify by
        comparing the agent's outcome with the reference's write only this."""
        raise NotImplementedError(f"{type(self).__name__} must define outcome() or verify()")

    def answer_problem(self, task: Task, answer: str) -> str | None:
        """What the final answer fails to state (e.g. a total), on top of the outcome."""
        return None

    def corruptions(
        self, task: Task, state: Any, answer: str, rng: random.Random
    ) -> list[Corruption]:
        """Wrong outcomes only this family knows (a swapped entity, a wrong answer...);
        outcome-comparing families get the generic ones besides (`generic_corruptions`)."""
        return []

    def finalize_check(self, check: dict[str, Any], state: Any, answer: str) -> dict[str, Any]:
        """Complete the verifier spec from the reference outcome (e.g. an amount to report).
        Called once after the reference solution ran; the default keeps it as is."""
        return check

    # -- verification by outcome ----------------------------------------------------------
    def verify(self, task: Task, state: Any, answer: str) -> Verdict:
        """Judge the outcome (final state and final answer), never the path taken."""
        return self.judge(task, self.outcome(task, state), answer)

    def judge(self, task: Task, actual: Any, answer: str) -> Verdict:
        """The verdict on an outcome (already projected) and an answer."""
        problem = self.outcome_problem(task, actual) or self.answer_problem(task, answer)
        return Verdict.fail(problem) if problem else Verdict.ok()

    def outcome_problem(self, task: Task, actual: Any) -> str | None:
        """Where the outcome departs from the reference's; families whose tasks admit other
        outcomes (another valid flight) override this."""
        return first_difference(task.check[EXPECTED], actual)

    def generic_corruptions(self, task: Task, state: Any, answer: str) -> list[Corruption]:
        """For an outcome-comparing family whose reference changed the outcome: the untouched
        initial state, and the reference's outcome with a value it changed perturbed (first
        and last), that field dropped and an item of a list it changed duplicated."""
        if not self.compares_outcome:
            return []
        before, after = self.outcome(task, task.initial_state), task.check[EXPECTED]
        if before == after:
            return []
        return [self.missing_write(task, answer),
                *(Corruption(kind, value, answer, projected=True)
                  for kind, value in outcome_edits(before, after))]

    def wrong_outcomes(
        self, task: Task, state: Any, answer: str, rng: random.Random
    ) -> list[Corruption]:
        """Every wrong outcome a task's verifier must reject: generic, then domain."""
        return [*self.generic_corruptions(task, state, answer),
                *self.corruptions(task, state, answer, rng)]

    def verify_corruption(self, task: Task, corruption: Corruption) -> Verdict:
        """The verdict on a wrong outcome, whether a state or an already projected outcome."""
        if corruption.projected:
            return self.judge(task, corruption.state, corruption.answer)
        return self.verify(task, corruption.state, corruption.answer)

    # -- shared machinery ---------------------------------------------------------------
    def tool_schemas(self, names: list[str] | None = None) -> list[dict[str, Any]]:
        chosen = names if names is not None else list(self.tools)
        return [self.tools[n].to_openai() for n in chosen]

    def new_state(self, task: Task) -> Any:
        """A fresh, private copy of the task's initial state for one rollout."""
        return copy_state(task.initial_state)

    def build_stage(self) -> BuildStage | None:
        """Work the job must run (as committed Ray units) before generating tasks of this
        family, e.g. indexing a corpus; None when there is nothing to build."""
        return None

    def release_state(self, state: Any) -> None:
        """Free what `new_state` acquired (a workspace, a kernel) when a rollout ends, however
        it ends. Plain JSON states hold nothing; the default does nothing."""

    def missing_write(self, task: Task, answer: str) -> Corruption:
        """The untouched initial state with the right answer: fails when writes are required."""
        return Corruption("missing_write", self.new_state(task), answer)

    def run_reference(self, task: Task) -> tuple[Any, str]:
        """Replay the recorded reference trace on a fresh state: (final state, final answer)."""
        state = self.new_state(task)
        for turn in task.reference:
            for round_ in turn.rounds:
                for call in round_:
                    execute_call(self.tools, state, call.name, call.arguments)
        return state, task.reference[-1].answer

    def generate(self, seed: int, difficulty: int) -> Generated:
        """Build, solve through the tools, verify and corrupt; emit only a validated task."""
        if difficulty not in self.levels:
            raise ValueError(f"{self.name}: difficulty {difficulty} not in {self.levels}")
        try:
            draft = self.build(random.Random(seed), difficulty)
        except Discard as exc:
            return Generated(None, exc.reason)
        except Exception as exc:
            return Generated(None, f"build_error:{type(exc).__name__}")
        if len(draft.solutions) != len(draft.user_turns) or not draft.user_turns:
            return Generated(None, "solutions_mismatch_turns")
        exposed = draft.tools if draft.tools is not None else list(self.tools)
        initial = copy_state(draft.state)
        state = draft.state
        reference: list[ReferenceTurn] = []
        try:
            for solve in draft.solutions:
                box = Toolbox({n: self.tools[n] for n in exposed}, state)
                answer = solve(box)
                reference.append(ReferenceTurn(box.rounds, str(answer)))
        except SolutionError:
            return Generated(None, "solution_tool_error")
        except Exception as exc:
            return Generated(None, f"solution_error:{type(exc).__name__}")
        n_calls = sum(t.n_calls for t in reference)
        if n_calls < 1 or n_calls > self.max_calls:
            return Generated(None, "calls_out_of_range")
        metadata = {"required_calls": n_calls, **draft.metadata}
        answer = reference[-1].answer
        task = Task(
            task_id=make_task_id(self.name, difficulty, seed),
            family=self.name,
            seed=seed,
            difficulty=difficulty,
            system_prompt=draft.system_prompt,
            user_turns=list(draft.user_turns),
            tools=self.tool_schemas(exposed),
            initial_state=initial,
            reference=reference,
            check=dict(draft.check),
            metadata=metadata,
        )
        task.check = self._final_check(task, copy_state(state), answer)
        return self._validated(task, state, answer, seed)

    def _final_check(self, task: Task, final: Any, answer: str) -> dict[str, Any]:
        """The draft's check completed by the family, then the reference's outcome (last)."""
        expected = self.outcome(task, final) if self.compares_outcome else None
        check = self.finalize_check(dict(task.check), final, answer)
        if self.compares_outcome:
            check[EXPECTED] = expected
        return check

    def _validated(self, task: Task, state: Any, answer: str, seed: int) -> Generated:
        def verdicts() -> Iterator[bool]:
            yield bool(self.verify(task, copy_state(state), answer).passed)
            for corruption in wrong:
                yield bool(self.verify_corruption(task, corruption).passed)

        try:
            wrong = self.wrong_outcomes(task, state, answer, random.Random(seed ^ 0x5EED))
            problem = validation_failure(wrong, verdicts)
        except Exception as exc:
            return Generated(None, f"verifier_error:{type(exc).__name__}")
        return Generated(task if problem is None else None, problem)

    def harder(self, task: Task) -> Generated:
        """Escalate one level: the same seed's scenario with more calls and constraints."""
        if task.difficulty >= max(self.levels):
            return Generated(None, "already_hardest")
        return self.generate(task.seed, task.difficulty + 1)
