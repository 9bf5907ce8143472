"""What a call through :class:`~langchain_tiered.deployments.Deployments` needs besides the model.

Pure helpers shared by the sync and async paths: the callback config that makes a
deployment's run a child of the tier's, the rate-limit error of one deployment, how many
tokens an answer used, and the give-up decision (wait for a limit, or fail the tier).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.callbacks import (
    AsyncCallbackManager,
    AsyncCallbackManagerForLLMRun,
    CallbackManager,
)
from langchain_core.exceptions import ModelRateLimitError
from langchain_core.outputs import ChatGenerationChunk
from langchain_core.runnables import RunnableConfig

__all__ = [
    "child_config",
    "chunk",
    "exhausted",
    "limited",
    "usage",
    "wait_for",
]


class _DeploymentLimitedError(ModelRateLimitError):
    """No deployment could take the call now (rate limits or cooldowns): retryable."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def limited(name: str, wait: float) -> _DeploymentLimitedError:
    """The error of deployment ``name``, whose rate limit admits the call in ``wait`` seconds."""
    return _DeploymentLimitedError(
        f"deployment {name!r} is at its rate limit for another {wait:.2f}s; "
        "raise its requests_per_minute/tokens_per_minute or add a deployment",
        retry_after=wait if wait != float("inf") else None,
    )


def wait_for(errors: Sequence[BaseException], waited: float, max_wait: float) -> float | None:
    """How long to wait for a rate limit before trying again, or ``None`` to give up.

    Only when every deployment was merely rate limited (none failed or cools down) and
    the soonest admission is within ``max_wait``; otherwise the tier should fall back.
    """
    waits = [getattr(e, "retry_after", None) for e in errors]
    if not errors or not all(isinstance(e, _DeploymentLimitedError) for e in errors):
        return None
    if any(w is None for w in waits):
        return None
    wait = min(w for w in waits if w is not None)
    return wait if waited + wait <= max_wait else None


def exhausted(
    errors: Sequence[BaseException], model_name: str | None, names: Sequence[str]
) -> BaseException:
    """The error the tier fails with: the last real failure, else a rate-limit error."""
    real = [e for e in errors if not isinstance(e, _DeploymentLimitedError)]
    if real:
        return real[-1]
    if errors:
        return errors[-1]
    return _DeploymentLimitedError(
        f"every deployment of {model_name!r} ({', '.join(names)}) is cooling down; "
        "the tier falls back, or add deployments / lower cooldown_seconds"
    )


def child_config(run_manager: Any) -> RunnableConfig:
    """Config whose callbacks make the deployment's run a child of ours.

    LLM run managers have no ``get_child`` (LangChain treats model runs as leaves), so build
    the child manager the way ``ParentRunManager.get_child`` does.
    """
    if run_manager is None:
        return {}
    is_async = isinstance(run_manager, AsyncCallbackManagerForLLMRun)
    manager = (AsyncCallbackManager if is_async else CallbackManager)(
        handlers=[], parent_run_id=run_manager.run_id
    )
    manager.set_handlers(run_manager.inheritable_handlers)
    manager.add_tags(run_manager.inheritable_tags)
    manager.add_metadata(run_manager.inheritable_metadata)
    return {"callbacks": manager}


def usage(message: Any) -> int:
    """Total tokens an answer or chunk reports (0 when it reports none)."""
    data = getattr(message, "usage_metadata", None) or {}
    return int(data.get("total_tokens", 0) or 0)


def chunk(part: Any, name: str) -> ChatGenerationChunk:
    """A stream chunk of deployment ``name``, marked with its name."""
    part.response_metadata["deployment"] = name
    return ChatGenerationChunk(message=part)
