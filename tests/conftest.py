"""Shared fixtures: one real local Ray per test session, the tokenizer, small job configs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

# A finished ray.init() writes ~/.ray/auth_token, after which `ray start` turns token auth on;
# tests choose explicitly.
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"

MISTAKES = {"wrong_argument": 0.06, "skipped_step": 0.05, "unknown_tool": 0.04,
            "malformed_dsml": 0.04, "wrong_final_answer": 0.06, "give_up": 0.03}


@pytest.fixture(scope="session")
def ray_session():
    """A real local Ray (started once: ~3 s), shut down at the end of the session."""
    import ray

    if not ray.is_initialized():
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def tokenizer():
    from synth.tokenizer import load_tokenizer

    return load_tokenizer()


def generic_examples(name: str, n: int) -> int:
    """How many tasks (seeds) a generic suite takes of a family: half as many (at least one) of
    families whose tasks need a build stage or blocking tools (an index, a sandbox, a kernel),
    which are slower to generate and roll out; their own test files cover them in depth."""
    from synth.bench.envs import is_procedural
    from synth.env import get_family

    return n if is_procedural(get_family(name)) else max(1, n // 2)


def small_job(output: str, families: list[str] | None = None, tasks: int = 6,
              **extra: Any) -> dict[str, Any]:
    """A small job config mapping (valid for `parse_config`)."""
    from synth.env import family_names

    names = families or family_names()
    config: dict[str, Any] = {
        "seed": 11,
        "output": output,
        "k": 4,
        "families": [{"name": n, "tasks": tasks} for n in names],
        "policy": {"kind": "scripted", "mistakes": MISTAKES},
        "shards": {"tasks_per_shard": 4, "max_in_flight": 32},
    }
    config.update(extra)
    return config


def isolated_sandbox(limits: Any, **options: Any) -> Any:
    """A bubblewrap ``Sandbox``, or skip the test (fail when SYNTH_SANDBOX_REQUIRED is set)."""
    from synth.sandbox import Sandbox, SandboxUnavailable, isolation_required

    try:
        return Sandbox(limits, backend="bwrap", **options)
    except SandboxUnavailable as exc:
        if isolation_required():
            pytest.fail(f"SYNTH_SANDBOX_REQUIRED is set but the sandbox is unusable: {exc}")
        pytest.skip(f"bubblewrap sandbox unavailable ({exc}); set SYNTH_SANDBOX_REQUIRED=1 to fail")
