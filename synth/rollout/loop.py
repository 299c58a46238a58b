"""The thinking-with-tools loop for one task.

System prompt with tools, the user prompt (or a developer message carrying the tools, for
search tasks), then: render incrementally, ask the policy, parse, run the tool calls, append
the results, until the model answers without tool calls; follow-up user turns come from a user
simulator. Reasoning stays in context across tool calls and is dropped when a new user message
arrives, exactly as the V3.2 template renders it. A context that fills up is cut by the
configured strategy (`synth.rollout.context`). Every way a trajectory can end is a recorded
finish reason; nothing is raised out of `run_rollout`.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from synth.env import EnvFamily, Environment, Task
from synth.policy.base import FINISH_ERROR, FINISH_LENGTH, Completion, Policy, Prompt, Sampling
from synth.rollout import trajectory as fin
from synth.rollout.context import ContextManagement, ManagedContext
from synth.rollout.trajectory import CompletionRecord, Trajectory
from synth.rollout.users import ScriptedUser, UserSimulator
from synth.template import EOS, parse_completion
from synth.tokenizer import Tokenizer


class Budgets(BaseModel):
    """Limits of one trajectory, and what to do when its context fills up."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_tool_rounds: int = Field(32, ge=1, description="assistant messages with tool calls")
    max_context_tokens: int = Field(131072, ge=256, description="prompt + completion tokens")
    context: ContextManagement = ContextManagement()


def trajectory_id(task: Task, sample_index: int) -> str:
    return f"{task.task_id}#{sample_index}"


async def run_rollout(
    task: Task,
    family: EnvFamily,
    policy: Policy,
    *,
    sampling: Sampling | None = None,
    budgets: Budgets | None = None,
    user: UserSimulator | None = None,
    tokenizer: Tokenizer | None = None,
    sample_index: int = 0,
) -> Trajectory:
    """Roll out `task` once against `policy`, verify the outcome, and return the trajectory.

    With a tokenizer the prompt is kept as token ids too (sent to servers that take ids and
    used for the exact context budget); without one, the budget uses a length estimate.
    """
    started = time.perf_counter()
    traj = Trajectory(
        trajectory_id=trajectory_id(task, sample_index), task_id=task.task_id,
        family=task.family, difficulty=task.difficulty, seed=task.seed,
        sample_index=sample_index, messages=[], model=policy.model,
    )
    blocking = family.blocking_tools  # workspaces, kernels: set up and verify off the loop
    env = await asyncio.to_thread(Environment, family, task) if blocking else \
        Environment(family, task)
    budgets = budgets or Budgets()
    traj.context_strategy = budgets.context.strategy
    try:
        ctx = ManagedContext(task, tokenizer, budgets.context)
        answer: str | None = None
        try:
            answer = await _loop(task, policy, sampling or Sampling(), budgets,
                                 user or ScriptedUser(), env, ctx, traj)
        except Exception as exc:  # a bug must cost one trajectory, not the shard
            traj.finish_reason = f"{fin.FINISH_INTERNAL_ERROR}:{type(exc).__name__}"
            traj.verdict_reason = str(exc)[:500]
        traj.messages = ctx.messages
        traj.context_tokens = ctx.conv.n_tokens
        traj.context_resets = ctx.resets
        traj.n_tool_errors = env.errors
        if answer is not None:
            verdict = await asyncio.to_thread(env.verify, answer) if blocking else \
                env.verify(answer)
            traj.reward, traj.passed = verdict.score, bool(verdict.passed)
            traj.verdict_reason = verdict.reason
        elif not traj.verdict_reason:
            traj.verdict_reason = f"not answered: {traj.finish_reason}"
    finally:  # also when the rollout is cancelled: no workspace or kernel outlives it
        env.close()
    traj.wall_s = time.perf_counter() - started
    return traj


async def _complete(policy: Policy, sampling: Sampling, ctx: ManagedContext, traj: Trajectory,
                    turn: int, step: int) -> tuple[dict[str, Any] | None, Completion]:
    """One model call in the current context: the parsed message, or None with the finish
    reason set."""
    conv = ctx.conv
    prompt = Prompt(conv.prompt_text, conv.prompt_ids, tag=traj.trajectory_id)
    completion = await policy.complete(prompt, sampling)
    traj.completions.append(_record(completion, turn, step, ctx.segment))
    if completion.finish_reason == FINISH_ERROR:
        return _end(traj, f"{fin.FINISH_POLICY_ERROR}:{completion.error}"), completion
    if completion.finish_reason == FINISH_LENGTH:
        return _end(traj, fin.FINISH_TRUNCATED), completion
    parsed = parse_completion(completion.text, thinking_mode="thinking")
    if not parsed.ok or parsed.message is None:
        kind = (parsed.error or "unknown").split("@", 1)[0]
        return _end(traj, f"{fin.FINISH_PARSE_ERROR}:{kind}"), completion
    message = parsed.message
    if not message.get("tool_calls") and not message.get("reasoning_content"):
        # the V3.2 template cannot render a final answer without reasoning in thinking mode
        return _end(traj, f"{fin.FINISH_PARSE_ERROR}:empty_reasoning"), completion
    return message, completion


async def _summarize(policy: Policy, sampling: Sampling, ctx: ManagedContext,
                     traj: Trajectory, budgets: Budgets, turn: int) -> bool:
    """The `summary` strategy: a context of its own for the summary, then a restart from it.
    False (finish reason set) when the summary could not be had."""
    ctx.begin_summary()
    if ctx.conv.n_tokens + sampling.max_tokens > budgets.max_context_tokens:
        _end(traj, fin.FINISH_CONTEXT_BUDGET)
        return False
    message, completion = await _complete(policy, sampling, ctx, traj, turn, 0)
    if message is None:
        return False
    ctx.conv.add_completion(message, completion.text, completion.token_ids)
    ctx.restart_from_summary(message.get("content") or "")
    return True


async def _loop(task: Task, policy: Policy, sampling: Sampling, budgets: Budgets,
                user: UserSimulator, env: Environment, ctx: ManagedContext,
                traj: Trajectory) -> str | None:
    """Run the conversation; return the final answer, or None with the finish reason set."""
    turn, step, rounds = 0, 0, 0
    traj.n_turns = 1
    while True:
        if ctx.wants_reset(budgets.max_context_tokens):
            if budgets.context.strategy == "summary":
                if not await _summarize(policy, sampling, ctx, traj, budgets, turn):
                    return None
            else:
                ctx.discard()
        conv = ctx.conv
        if conv.n_tokens + sampling.max_tokens > budgets.max_context_tokens:
            return _end(traj, fin.FINISH_CONTEXT_BUDGET)
        message, completion = await _complete(policy, sampling, ctx, traj, turn, step)
        step += 1
        if message is None:
            return None
        calls = message.get("tool_calls") or []
        conv.add_completion(message, completion.text, completion.token_ids)
        if calls:
            rounds += 1
            if rounds > budgets.max_tool_rounds:
                return _end(traj, fin.FINISH_TOOL_BUDGET)
            results = []
            for index, call in enumerate(calls):
                function = call["function"]
                if env.family.blocking_tools:
                    result = await asyncio.to_thread(env.call, function["name"],
                                                     function["arguments"])
                else:
                    result = env.call(function["name"], function["arguments"])
                results.append({"role": "tool", "tool_call_id": f"call_{step}_{index}",
                                "content": result.text})
            traj.n_tool_calls += len(calls)
            conv.add_tool_results(results)
            continue
        try:
            follow_up = await user.follow_up(task, turn + 1, conv.messages, traj.trajectory_id)
        except Exception as exc:
            traj.verdict_reason = str(exc)[:500]
            return _end(traj, fin.FINISH_USER_ERROR)
        if follow_up is None:
            traj.finish_reason = fin.FINISH_ANSWERED
            return message.get("content") or ""
        turn, step = turn + 1, 0
        traj.n_turns += 1
        conv.add_user(follow_up)


def _record(completion: Completion, turn: int, step: int, segment: int) -> CompletionRecord:
    return CompletionRecord(
        turn=turn, step=step, segment=segment, text=completion.text,
        finish_reason=completion.finish_reason,
        token_ids=completion.token_ids, error=completion.error,
        prompt_tokens=completion.prompt_tokens, completion_tokens=completion.completion_tokens,
        latency_s=completion.latency_s, attempts=completion.attempts,
        eos_stripped=completion.finish_reason == "stop" and not completion.text.endswith(EOS),
        infrastructure=completion.infrastructure, retokenized=completion.retokenized,
    )


def _end(traj: Trajectory, reason: str) -> None:
    traj.finish_reason = reason
