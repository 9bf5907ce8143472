"""Calling one tier: the child run its call nests in, and the direct path when nobody watches.

**One run per call for everyone but tracers.** The tiered call is the chat-model run a
caller sees: its tokens, its usage, its ``on_chat_model_start``. The tier's own call is a
*child* run that only tracers (``BaseTracer``: LangSmith, ``astream_log`` excluded) receive,
so a trace still shows the tier's model name and usage, while streaming consumers
(``astream_events``, LangGraph's ``stream_mode="messages"``), usage counters
(``get_usage_metadata_callback``) and plain handlers see every token and every call once.

**Direct calls.** With no tracer to serve, and a tier model without its own callbacks,
cache or rate limiter, the tier's ``_generate``/``_agenerate`` is called directly: no second
callback manager, run or ``inspect.signature`` per call.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from langchain_core.callbacks import AsyncCallbackManager, CallbackManager
from langchain_core.callbacks.manager import AsyncRunManager, ahandle_event, handle_event
from langchain_core.globals import get_llm_cache
from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import RunnableBinding
from langchain_core.tracers import context as _tracer_context
from langchain_core.tracers._streaming import (
    _StreamingCallbackHandler,
    _V2StreamingCallbackHandler,
)
from langchain_core.tracers.base import BaseTracer

from langchain_tiered.fallbacks import StreamError, response_failure

if TYPE_CHECKING:
    from langchain_core.messages import AIMessage, AIMessageChunk
    from langchain_core.outputs import ChatResult

    from langchain_tiered._call.actions import CallTier

__all__ = [
    "acall_tier",
    "aemit",
    "call_tier",
    "child_manager",
    "direct_target",
    "emit",
    "from_result",
    "has_content",
    "listeners",
    "stream_error",
    "tier_handlers",
    "unwrap",
]


def tier_handlers(handlers: Sequence[Any]) -> list[Any]:
    """The handlers a tier's child run reports to: tracers that do not stream tokens.

    Streaming handlers (``astream_events``, ``astream_log``, LangGraph's messages and tool
    streams) already receive every token from the tiered run; plain handlers (a usage
    counter, the cost callback, a user's logger) see the tiered run as *the* model call.
    """
    return [
        h
        for h in handlers
        if isinstance(h, BaseTracer)
        and not isinstance(h, (_StreamingCallbackHandler, _V2StreamingCallbackHandler))
    ]


def listeners(handlers: Sequence[Any]) -> list[Any]:
    """The handlers that want the call's events.

    All but the package's own bookkeeping (``tiered_internal``, e.g. the agents' root-run
    tracker attached to every run).
    """
    return [h for h in handlers if not getattr(h, "tiered_internal", False)]


def _event_args(run_manager: Any, name: str, data: Any) -> tuple[list[Any], tuple[Any, ...]]:
    handlers = listeners(run_manager.inheritable_handlers)
    return handlers, ("on_custom_event", "ignore_custom_event", name, data)


def emit(run_manager: Any, name: str, data: Any) -> None:
    """Dispatch a custom event of our run to its listeners.

    What ``CallbackManager.on_custom_event`` does, without building a manager per event.
    """
    handlers, args = _event_args(run_manager, name, data)
    if handlers:
        handle_event(
            handlers,
            *args,
            run_id=run_manager.run_id,
            tags=run_manager.inheritable_tags,
            metadata=run_manager.inheritable_metadata,
        )


async def aemit(run_manager: Any, name: str, data: Any) -> None:
    """Async twin of :func:`emit`."""
    handlers, args = _event_args(run_manager, name, data)
    if handlers:
        await ahandle_event(
            handlers,
            *args,
            run_id=run_manager.run_id,
            tags=run_manager.inheritable_tags,
            metadata=run_manager.inheritable_metadata,
        )


def child_manager(run_manager: Any, *, tier_call: bool = False) -> Any:
    """A callback manager whose runs are children of our (LLM) run.

    LLM run managers have no ``get_child`` (LangChain treats model runs as leaves); this
    mirrors ``ParentRunManager.get_child`` so the tier's own run nests under ours. With
    ``tier_call`` only the handlers of :func:`tier_handlers` are kept.
    """
    is_async = getattr(run_manager, "is_async", None)
    if is_async is None:
        is_async = isinstance(run_manager, AsyncRunManager)
    cls = AsyncCallbackManager if is_async else CallbackManager
    manager = cls(handlers=[], parent_run_id=run_manager.run_id)
    handlers = run_manager.inheritable_handlers
    manager.set_handlers(tier_handlers(handlers) if tier_call else handlers)
    manager.add_tags(run_manager.inheritable_tags)
    manager.add_metadata(run_manager.inheritable_metadata)
    return manager


def unwrap(runnable: Any, kwargs: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """Peel plain ``RunnableBinding`` layers (``bind_tools``) into kwargs for the model.

    Invoking a binding merges our config with the *ambient* one (inside a lambda or a graph
    node), and the ambient parent run would win: the tier's run must nest under ours.
    """
    while (
        isinstance(runnable, RunnableBinding)
        and not runnable.config
        and not runnable.config_factories
    ):
        kwargs = {**runnable.kwargs, **kwargs}
        runnable = runnable.bound
    return runnable, kwargs


def _serves_nothing(model: BaseChatModel) -> bool:
    """Whether ``_generate_with_cache`` would do nothing for ``model`` but call ``_generate``.

    A cache (its own or LangChain's global one), a rate limiter, its own callbacks, forced
    streaming or v1 output each need the full path.
    """
    if model.callbacks or model.rate_limiter is not None:
        return False
    if model.cache is not False and (model.cache is not None or get_llm_cache() is not None):
        return False
    # ``streaming`` is a field of some models only; a missing attribute would cost pydantic
    # a raised AttributeError per call.
    return not model.__dict__.get("streaming", False) and model.output_version != "v1"


def direct_target(action: CallTier, run_manager: Any) -> tuple[Any, dict[str, Any]] | None:
    """The chat model and kwargs to call without a child run, or ``None`` for a full invoke.

    Direct only when no tracer would see the tier's run, the call does not stream, the
    model does not override ``invoke`` and it has nothing for ``_generate_with_cache`` to do.
    """
    if action.stream:
        return None
    if run_manager is not None and tier_handlers(run_manager.inheritable_handlers):
        return None
    target, kwargs = unwrap(action.runnable, action.kwargs)
    if not isinstance(target, BaseChatModel) or type(target).__dict__.get("invoke") is not None:
        return None  # a model with its own invoke logic must go through it
    if not _serves_nothing(target):
        return None
    if "ls_structured_output_format" in kwargs:  # LangChain's generate() would pop it
        kwargs = {k: v for k, v in kwargs.items() if k != "ls_structured_output_format"}
    return target, kwargs


def from_result(result: ChatResult) -> AIMessage:
    """The answer of a direct ``_generate``, with the metadata LangChain would have merged.

    ``_generate_with_cache`` folds ``generation_info`` and ``llm_output`` (finish reason,
    model name, token usage) into the message's ``response_metadata``; done here in place.
    """
    generation = result.generations[0]
    message: Any = generation.message
    info = generation.generation_info
    if info or (len(result.generations) == 1 and result.llm_output):
        message.response_metadata = {
            **(result.llm_output or {}),
            **(info or {}),
            **message.response_metadata,
        }
    return message  # type: ignore[no-any-return]


def _muted_context() -> contextvars.Context | None:
    """A copy of the context with non-tracer configure-hook handlers switched off, if any.

    ``get_usage_metadata_callback`` (and similar context managers) attach their handler to
    every run configured while they are active, the tier's child run included, which would
    count its usage a second time. ``None`` when no such handler is active.
    """
    hooks = getattr(_tracer_context, "_configure_hooks", ())
    muted = [
        var
        for var, _inheritable, _cls, _env in hooks
        # bookkeeping handlers (tiered_internal) count nothing: left on, no context copy
        if (h := var.get()) is not None and not tier_handlers([h]) and listeners([h])
    ]
    if not muted:
        return None
    ctx = contextvars.copy_context()
    for var in muted:
        ctx.run(var.set, None)
    return ctx


def _child_config(run_manager: Any) -> dict[str, Any]:
    return {"callbacks": child_manager(run_manager, tier_call=True)} if run_manager else {}


def _open_stream(a: CallTier, run_manager: Any) -> tuple[list[AIMessageChunk], Iterator[Any]]:
    runnable, kwargs = unwrap(a.runnable, a.kwargs)
    it = iter(runnable.stream(a.messages, _child_config(run_manager), stop=a.stop, **kwargs))
    head: list[Any] = []
    for chunk in it:  # errors up to the first content chunk may still fall back
        failure = stream_error(chunk)
        if failure is not None:
            getattr(it, "close", lambda: None)()
            raise failure
        head.append(chunk)
        if has_content(chunk):
            break
    return head, it


def _invoke(a: CallTier, run_manager: Any) -> Any:
    runnable, kwargs = unwrap(a.runnable, a.kwargs)
    return runnable.invoke(a.messages, _child_config(run_manager), stop=a.stop, **kwargs)


def call_tier(a: CallTier, run_manager: Any) -> Any:
    """Call the tier: an ``AIMessage``, or ``(head chunks, rest iterator)`` when streaming."""
    direct = direct_target(a, run_manager)
    if direct is not None:
        model, kwargs = direct
        return from_result(model._generate(a.messages, stop=a.stop, **kwargs))
    work = _open_stream if a.stream else _invoke
    ctx = _muted_context()  # LangChain configures the child run on the first step only
    return work(a, run_manager) if ctx is None else ctx.run(work, a, run_manager)


async def _aopen_stream(
    a: CallTier, run_manager: Any
) -> tuple[list[AIMessageChunk], AsyncIterator[Any]]:
    runnable, kwargs = unwrap(a.runnable, a.kwargs)
    ait = runnable.astream(a.messages, _child_config(run_manager), stop=a.stop, **kwargs)
    ait = ait.__aiter__()
    head: list[Any] = []
    async for chunk in ait:  # errors up to the first content chunk may still fall back
        failure = stream_error(chunk)
        if failure is not None:
            aclose = getattr(ait, "aclose", None)
            if aclose is not None:
                await aclose()
            raise failure
        head.append(chunk)
        if has_content(chunk):
            break
    return head, ait


async def _ainvoke(a: CallTier, run_manager: Any) -> Any:
    runnable, kwargs = unwrap(a.runnable, a.kwargs)
    return await runnable.ainvoke(a.messages, _child_config(run_manager), stop=a.stop, **kwargs)


async def acall_tier(a: CallTier, run_manager: Any) -> Any:
    """Async twin of :func:`call_tier`."""
    direct = direct_target(a, run_manager)
    if direct is not None:
        model, kwargs = direct
        return from_result(await model._agenerate(a.messages, stop=a.stop, **kwargs))
    work = _aopen_stream if a.stream else _ainvoke
    ctx = _muted_context()
    if ctx is None:
        return await work(a, run_manager)
    # A task copies the context it is created in: created inside ``ctx``, it runs in it.
    return await ctx.run(asyncio.ensure_future, work(a, run_manager))


def has_content(chunk: Any) -> bool:
    """Whether a stream chunk carries output (text or a tool call), not just a role or usage.

    OpenAI-style streams open with an empty role chunk; falling back is still safe until
    the first chunk the caller could have shown.
    """
    return bool(chunk.content) or bool(getattr(chunk, "tool_call_chunks", None))


def stream_error(chunk: Any) -> StreamError | None:
    """The failure of a chunk that ends the stream with ``finish_reason: "error"``.

    OpenAI-compatible servers may send it without an error object, so the SDK raises
    nothing and the stream would just end: the engine raises this instead (before the
    first content chunk the call falls back; after it the caller gets the error).
    """
    meta = getattr(chunk, "response_metadata", None)
    if not meta or ("finish_reason" not in meta and "stop_reason" not in meta):
        return None
    failure = response_failure(chunk)
    return failure if isinstance(failure, StreamError) else None
