"""Getting the current run to ``_stream`` when LangChain does not pass it.

langchain-core 1.8 calls ``_stream``/``_astream`` without the run manager (from
``stream()``, ``astream()`` and the streaming branch of ``invoke()``), but the tiered
model needs the run: the caller's metadata (tier override, ``budget_key``), the handlers
(to run the tier as a child run and to emit decision events) and the run id.

Every entry point therefore publishes its run in a context variable just before LangChain
reaches ``_stream``, which reads it once, synchronously, at its start:

* ``_generate_with_cache`` / ``_agenerate_with_cache`` publish the real run manager;
* ``stream`` / ``astream`` pick the run id themselves (``config["run_id"]``, which LangChain
  honours) and publish a :class:`StreamRun` built from the same config LangChain uses.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from langchain_core.callbacks import AsyncCallbackManager, CallbackManager
from langchain_core.globals import get_llm_cache
from langchain_core.outputs import ChatResult
from langchain_core.tracers._streaming import _V2StreamingCallbackHandler
from langchain_core.utils.utils import LC_ID_PREFIX

__all__ = ["StreamRun", "current_run", "plain_generate", "publish", "stamp_ids", "stream_run"]

_STREAMS: dict[type, bool] = {}  # handler type -> whether it makes an invoke stream


def _streams(handler: Any) -> bool:
    """Whether ``handler`` makes LangChain stream an invoke (astream_events, LangGraph).

    LangChain asks ``isinstance(h, _StreamingCallbackHandler)``, a runtime-checkable
    ``Protocol``: slow on every call. Same answer, memoized per handler type.
    """
    kind = type(handler)
    known = _STREAMS.get(kind)
    if known is None:
        known = hasattr(handler, "tap_output_iter") or isinstance(
            handler, _V2StreamingCallbackHandler
        )
        _STREAMS[kind] = known
    return known


def plain_generate(model: Any, run_manager: Any, kwargs: dict[str, Any]) -> bool:
    """Whether ``_generate_with_cache`` would do nothing for ``model`` but call ``_generate``.

    No cache (own or global), no rate limiter, no streaming asked for (``stream=``,
    ``streaming=True``, a streaming handler such as ``astream_events``'), no v1 output.
    Then the tiered model calls its ``_generate`` itself and skips LangChain's per-call
    ``inspect.signature`` and protocol checks.
    """
    if model.rate_limiter is not None or "stream" in kwargs or model.streaming:
        return False
    if model.cache is not False and (model.cache is not None or get_llm_cache() is not None):
        return False
    if model.output_version == "v1":
        return False
    handlers = run_manager.handlers if run_manager is not None else ()
    return not any(_streams(h) for h in handlers)


def stamp_ids(result: ChatResult, run_manager: Any) -> ChatResult:
    """Give each generation's message the id LangChain's ``_generate_with_cache`` would."""
    if run_manager is not None:
        for idx, generation in enumerate(result.generations):
            if generation.message.id is None:
                generation.message.id = f"{LC_ID_PREFIX}-{run_manager.run_id}-{idx}"
    return result


_CURRENT: ContextVar[tuple[int, Any] | None] = ContextVar("langchain_tiered_run", default=None)


@dataclass
class StreamRun:
    """Stands in for a run manager where LangChain does not hand one over."""

    run_id: uuid.UUID
    metadata: dict[str, Any]
    handlers: list[Any]
    inheritable_handlers: list[Any]
    inheritable_tags: list[str]
    inheritable_metadata: dict[str, Any]
    is_async: bool = False
    tags: list[str] = field(default_factory=list)
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    """``aclose`` of the tier streams opened for this run: an abandoned ``astream`` closes
    them itself, so the call settles before ``aclose()`` returns (an async generator left to
    the garbage collector would settle at some later turn of the event loop)."""


def stream_run(model: Any, config: dict[str, Any], *, is_async: bool) -> StreamRun:
    """The run ``stream()``/``astream()`` is about to create, from the same inputs LangChain uses.

    Sets ``config["run_id"]`` so LangChain's run and this stand-in share one id.
    """
    run_id = config.get("run_id") or uuid.uuid4()
    config["run_id"] = run_id
    cls = AsyncCallbackManager if is_async else CallbackManager
    manager = cls.configure(
        config.get("callbacks"),
        model.callbacks,
        model.verbose,
        config.get("tags"),
        model.tags,
        config.get("metadata"),
        model.metadata,
    )
    return StreamRun(
        run_id=run_id,
        metadata=dict(manager.metadata),
        handlers=list(manager.handlers),
        inheritable_handlers=list(manager.inheritable_handlers),
        inheritable_tags=list(manager.inheritable_tags),
        inheritable_metadata=dict(manager.inheritable_metadata),
        is_async=is_async,
    )


@contextmanager
def publish(owner: object, run: Any) -> Iterator[None]:
    """Make ``run`` the current run of ``owner`` for the duration of the block."""
    token = _CURRENT.set((id(owner), run))
    try:
        yield
    finally:
        try:
            _CURRENT.reset(token)
        except ValueError:  # a generator closed from another context: just clear
            _CURRENT.set(None)


def current_run(owner: object) -> Any:
    """The run published for ``owner``, if any."""
    value = _CURRENT.get()
    if value is None or value[0] != id(owner):
        return None
    return value[1]
