"""The policy contract: given a rendered prompt, return one completion. Never raise.

V3.2 has no server-side chat template, so a policy receives the prompt already rendered by
`synth.template` (text, and token ids when the caller has them) and returns the raw text the
model wrote, its token ids when known, and why it stopped. Failures after retries are
completions with `finish_reason="error"` and an error kind, so the rollout records them.

Two families of failure must never be confused: an *infrastructure* failure (no answer from
the server: connection, timeout, HTTP 5xx/429 after retries, a bad body, an abort) says
nothing about the model and must not enter pass rates; a *model* ending (a finish reason such
as vLLM's `repetition`) is an outcome like any other. `Completion.infrastructure` tells them
apart; `is_infrastructure_error` does the same for an error kind read back from a record.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from synth.env import EnvFamily, Task


class Sampling(BaseModel):
    """Sampling parameters; defaults are the model card's (temperature 1.0, top_p 0.95)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    temperature: float = Field(1.0, ge=0.0, le=2.0)
    top_p: float = Field(0.95, gt=0.0, le=1.0)
    max_tokens: int = Field(8192, ge=1)
    seed: int | None = None


@dataclass
class Prompt:
    """A rendered prompt. `tag` names the trajectory (for logs, routing and scripted models).

    `token_ids` is the rollout's own growing list (no copy per step): read it during the call,
    copy it to keep it."""

    text: str
    token_ids: list[int] | None = None
    tag: str = ""


FINISH_STOP = "stop"
FINISH_LENGTH = "length"
FINISH_ERROR = "error"

#: error kinds of model-caused endings start with this (`finish_repetition`, ...)
MODEL_FINISH_PREFIX = "finish_"


def is_infrastructure_error(kind: str | None) -> bool:
    """Whether an error kind (`Completion.error`, or the part after `policy_error:` in a
    trajectory's finish reason) is an infrastructure failure rather than a model ending."""
    return bool(kind) and not str(kind).startswith(MODEL_FINISH_PREFIX)


@dataclass
class Completion:
    """What the model wrote. `text` excludes nothing the model produced (EOS kept if sent).

    `infrastructure` is true when the call failed without a model answer (see the module
    docstring). `retokenized` names why the served token ids were replaced by the canonical
    tokenization of `text` (ids outside the vocabulary, ids that decode to other text, ids
    the server did not return); None when the ids are the server's own or there are none."""

    text: str
    finish_reason: str
    token_ids: list[int] | None = None
    error: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    attempts: int = 1
    endpoint: str | None = None
    infrastructure: bool = False
    retokenized: str | None = None
    extra: dict[str, object] = field(default_factory=dict)

    @classmethod
    def failed(cls, error: str, *, attempts: int = 1, latency_s: float = 0.0,
               endpoint: str | None = None) -> Completion:
        """A call that produced no model answer; `infrastructure` follows the error kind."""
        return cls(text="", finish_reason=FINISH_ERROR, error=error, attempts=attempts,
                   latency_s=latency_s, endpoint=endpoint,
                   infrastructure=is_infrastructure_error(error))


class Policy(ABC):
    """Something that completes prompts: a model server client or a scripted stand-in."""

    #: the model name recorded with every sample
    model: str = "unknown"
    #: whether callers should pass prompt token ids (kept incrementally by the rollout)
    wants_token_ids: bool = False

    @abstractmethod
    async def complete(self, prompt: Prompt, sampling: Sampling) -> Completion:
        """One completion for `prompt`. Must not raise: failures are error completions."""

    def prepare(self, family: EnvFamily, tasks: list[Task]) -> None:  # noqa: B027 - optional
        """Called with a shard's tasks before its rollouts (a stand-in reads them; a server
        client has nothing to do)."""

    async def wait_for_endpoints(self, timeout_s: float) -> bool:
        """Wait (up to `timeout_s`) until the model can be reached again after infrastructure
        failures; True when it can. A policy without servers is always reachable."""
        return True

    async def close(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Release connections; the default has none."""
