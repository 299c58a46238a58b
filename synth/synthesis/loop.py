"""The synthesis loop: a policy in thinking-with-tools mode writes one environment.

Like the rollout loop, but the tools are the synthesis tools over a `Session`: render the
prompt incrementally, ask the policy, parse its DSML, run the calls, append the results, until
the last level is accepted, a level is discarded, the agent stops or the step budget runs out.
Tool errors and failed checks go back to the agent as tool results so it can repair.
"""

from __future__ import annotations

import json
from typing import Any

from synth import __version__
from synth.conversation import Conversation
from synth.env import execute_call
from synth.policy.base import FINISH_ERROR, FINISH_LENGTH, Policy, Prompt
from synth.synthesis.config import SynthesisConfig
from synth.synthesis.prompts import category_prompt, system_prompt
from synth.synthesis.runner import CodeRunner
from synth.synthesis.session import Session
from synth.template import parse_completion
from synth.tokenizer import Tokenizer


async def synthesize_environment(config: SynthesisConfig, env_id: str, category: str,
                                 policy: Policy, runner: CodeRunner,
                                 tokenizer: Tokenizer | None = None) -> Session:
    """Run the agent on one environment; the returned session holds files, levels and log."""
    session = Session(env_id=env_id, category=category, config=config, runner=runner)
    tools = session.tools()
    conv = Conversation(tokenizer)
    conv.add_system({"role": "system", "content": system_prompt(),
                     "tools": [t.to_openai() for t in tools.values()]})
    conv.add_user(category_prompt(category, config.levels, config.budgets))
    try:
        await _steps(session, tools, conv, policy, config)
    finally:
        session.transcript = conv.messages
    return session


async def _steps(session: Session, tools: dict[str, Any], conv: Conversation, policy: Policy,
                 config: SynthesisConfig) -> None:
    while not session.finished:
        if session.step >= config.budgets.max_steps:
            session.end("step_budget_exhausted")
            return
        if conv.n_tokens + config.sampling.max_tokens > config.budgets.max_context_tokens:
            session.end("context_budget_exhausted")
            return
        prompt = Prompt(conv.prompt_text, conv.prompt_ids, tag=session.env_id)
        completion = await policy.complete(prompt, config.sampling)
        session.step += 1
        if completion.finish_reason == FINISH_ERROR:
            session.end(f"agent_policy_error:{completion.error}")
            return
        if completion.finish_reason == FINISH_LENGTH:
            session.end("agent_truncated")
            return
        parsed = parse_completion(completion.text, thinking_mode="thinking")
        if not parsed.ok or parsed.message is None:
            session.end(f"agent_parse_error:{parsed.error_kind}")
            return
        message = parsed.message
        try:
            conv.add_completion(message, completion.text, completion.token_ids)
        except ValueError:
            session.end("agent_parse_error:unrenderable")
            return
        calls = message.get("tool_calls") or []
        if not calls:
            session.end("completed" if session.accepted else "agent_stopped")
            return
        results = []
        for index, call in enumerate(calls):
            function = call["function"]
            result = execute_call(tools, session, function["name"], function["arguments"])
            if not result.ok and result.error != "tool_error":
                session.record(function["name"], False, f"agent_{result.error}", result.text,
                               level=session.next_level)
            results.append({"role": "tool", "tool_call_id": f"call_{session.step}_{index}",
                            "content": result.text})
        conv.add_tool_results(results)


def environment_row(session: Session, *, category_key: str, index: int, seed: int,
                    model: str, wall_s: float) -> dict[str, Any]:
    """One row of the output table (see `synth.synthesis.job.ENV_SCHEMA`)."""
    levels = sorted(session.accepted)
    if levels:
        status, reason = "accepted", None
    else:
        status = "discarded"
        reason = session.end_reason if session.end_reason not in (None, "completed") else (
            "no_level_accepted")
    specs = [session.accepted[n].to_json() for n in levels]
    return {
        "env_id": session.env_id, "category": session.category, "category_key": category_key,
        "index": index, "seed": seed, "status": status, "discard_reason": reason,
        "end_reason": session.end_reason, "levels": levels, "n_tasks": len(levels),
        "files": json.dumps(session.files, ensure_ascii=False),
        "tasks": json.dumps(specs, ensure_ascii=False),
        "validation_log": json.dumps(session.log, ensure_ascii=False),
        "failure_counts": json.dumps(session.failure_counts()),
        "transcript": json.dumps(session.transcript, ensure_ascii=False),
        "steps": session.step, "submissions": sum(session.attempts.values()),
        "model": model, "isolation": session.runner.isolation, "wall_s": round(wall_s, 3),
        "synth_version": __version__,
    }
