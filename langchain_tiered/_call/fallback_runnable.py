"""``TieredChatModel.as_fallback_runnable``: the tiers as a plain LCEL ``RunnableWithFallbacks``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from langchain_core.exceptions import (
    ContextOverflowError,
    ModelAPIError,
    ModelConnectionError,
    ModelRateLimitError,
    ModelTimeoutError,
)

from langchain_tiered.fallbacks import fallback_order

if TYPE_CHECKING:
    from langchain_core.callbacks import BaseCallbackHandler
    from langchain_core.runnables import Runnable, RunnableWithFallbacks

    from langchain_tiered._call.state import Runtime

__all__ = ["FALLBACK_EXCEPTIONS", "fallback_runnable"]


FALLBACK_EXCEPTIONS: tuple[type[BaseException], ...] = (
    ModelRateLimitError,
    ModelAPIError,
    ModelConnectionError,
    ModelTimeoutError,
    ContextOverflowError,
    TimeoutError,
    ConnectionError,
)
"""Exception types the LCEL fallback chain falls back on: langchain-core's retryable
errors and context overflows. (The tiered model itself classifies finer, e.g. OpenAI's
``context_length_exceeded`` inside an invalid-request error; ``RunnableWithFallbacks``
can only match on types.)"""


def fallback_runnable(
    rt: Runtime,
    *,
    primary: str | None,
    callbacks: Sequence[BaseCallbackHandler] | None,
) -> RunnableWithFallbacks[Any, Any]:
    """Build the chain: ``primary`` first, then the tiered model's default fallback order."""
    start = primary if primary is not None else rt.names[0]
    if start not in rt.by_name:
        msg = f"unknown tier {start!r}; valid tier names: {', '.join(rt.names)}"
        raise ValueError(msg)
    order = fallback_order(
        rt.names, start, allow_upgrade=rt.settings.allow_upgrade, overrides=rt.fallback_overrides
    )

    def attach(name: str) -> Runnable[Any, Any]:
        model = rt.models[name]
        named = model.with_config(run_name=f"tier:{name}", tags=[f"tier:{name}"])
        return named.with_config(callbacks=list(callbacks)) if callbacks else named

    first, *rest = (attach(n) for n in order)
    return first.with_fallbacks(rest, exceptions_to_handle=FALLBACK_EXCEPTIONS)
