"""Drivers that run a call plan (:mod:`langchain_tiered._engine`) with blocking or async I/O.

The plan yields actions; a driver performs each one and sends the result back (or throws
the exception in, so the plan's ``try``/``except`` sees it exactly where it yielded).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from langchain_tiered._actions import (
    AcquireRate,
    Action,
    CallTier,
    Emit,
    Record,
    Release,
    Reserve,
    Settle,
    Sleep,
)

if TYPE_CHECKING:
    from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun

    from langchain_tiered._clock import Clock
    from langchain_tiered.ledger import Ledger

__all__ = ["drive", "adrive"]

T = TypeVar("T")


def drive(
    plan: Generator[Action, Any, T],
    *,
    clock: Clock,
    ledger: Ledger | None,
    run_manager: CallbackManagerForLLMRun | None,
) -> T:
    """Run ``plan`` to completion with blocking I/O and return its value."""
    send: Any = None
    throw: BaseException | None = None
    while True:
        try:
            action = plan.throw(throw) if throw is not None else plan.send(send)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        send, throw = None, None
        try:
            send = _perform(action, clock, ledger, run_manager)
        except Exception as exc:  # noqa: BLE001 - handed to the plan, which decides
            throw = exc


async def adrive(
    plan: Generator[Action, Any, T],
    *,
    clock: Clock,
    ledger: Ledger | None,
    run_manager: AsyncCallbackManagerForLLMRun | None,
) -> T:
    """Run ``plan`` to completion with async I/O and return its value."""
    send: Any = None
    throw: BaseException | None = None
    while True:
        try:
            action = plan.throw(throw) if throw is not None else plan.send(send)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        send, throw = None, None
        try:
            send = await _aperform(action, clock, ledger, run_manager)
        except Exception as exc:  # noqa: BLE001 - handed to the plan, which decides
            throw = exc


def _child_manager(run_manager: Any) -> Any:
    """A callback manager whose runs are children of our (LLM) run.

    LLM run managers have no ``get_child`` (LangChain treats model runs as leaves); this
    mirrors ``ParentRunManager.get_child`` so the tier's own run nests under ours.
    """
    from langchain_core.callbacks import AsyncCallbackManager, CallbackManager  # noqa: PLC0415
    from langchain_core.callbacks.manager import AsyncRunManager  # noqa: PLC0415

    cls = AsyncCallbackManager if isinstance(run_manager, AsyncRunManager) else CallbackManager
    manager = cls(handlers=[], parent_run_id=run_manager.run_id)
    manager.set_handlers(run_manager.inheritable_handlers)
    manager.add_tags(run_manager.inheritable_tags)
    manager.add_metadata(run_manager.inheritable_metadata)
    return manager


def _child_config(run_manager: Any) -> dict[str, Any]:
    return {"callbacks": _child_manager(run_manager)} if run_manager is not None else {}


def _direct_target(action: CallTier, run_manager: Any) -> tuple[Any, dict[str, Any]] | None:
    """The chat model and kwargs to call without a child run, when nobody is listening.

    With no callback handlers there is no one to see the tier's own run, so the tier's
    generation is called directly: this halves the per-call overhead (no second callback
    manager, no second run). As soon as any handler is attached (a tracer, our cost
    callback) the tier runs as a proper child run instead.
    """
    if action.stream or (run_manager is not None and run_manager.handlers):
        return None
    from langchain_core.language_models import BaseChatModel  # noqa: PLC0415
    from langchain_core.runnables import RunnableBinding  # noqa: PLC0415

    target, kwargs = action.runnable, action.kwargs
    if isinstance(target, RunnableBinding) and not target.config:
        kwargs = {**target.kwargs, **kwargs}
        target = target.bound
    if type(target).__dict__.get("invoke") is not None or not isinstance(target, BaseChatModel):
        return None  # a model with its own invoke logic must go through it
    return target, kwargs


def _perform(
    action: Action, clock: Clock, ledger: Ledger | None, run_manager: Any
) -> Any:
    if isinstance(action, CallTier):
        direct = _direct_target(action, run_manager)
        if direct is not None:
            model, kwargs = direct
            result = model._generate_with_cache(action.messages, stop=action.stop, **kwargs)  # noqa: SLF001
            return result.generations[0].message
        config = _child_config(run_manager)
        if action.stream:
            it = iter(action.runnable.stream(
                action.messages, config, stop=action.stop, **action.kwargs
            ))
            return next(it, None), it
        return action.runnable.invoke(action.messages, config, stop=action.stop, **action.kwargs)
    if isinstance(action, Sleep):
        clock.sleep(action.seconds)
        return None
    if isinstance(action, AcquireRate):
        return action.limiter.acquire(action.tokens, max_wait=action.max_wait, tier=action.tier)
    if isinstance(action, Emit):
        if run_manager is not None and run_manager.handlers:
            _child_manager(run_manager).on_custom_event(
                action.name, action.data, run_id=run_manager.run_id
            )
        return None
    return _perform_ledger(action, _need(ledger))


def _perform_ledger(action: Action, ledger: Ledger) -> Any:
    if isinstance(action, Reserve):
        return ledger.reserve(
            action.limits, action.amount_usd, ttl_seconds=action.ttl_seconds, tier=action.tier
        )
    if isinstance(action, Settle):
        return ledger.settle(action.reservation, action.actual_usd, action.record)
    if isinstance(action, Release):
        return ledger.release(action.reservation)
    if isinstance(action, Record):
        return ledger.record(action.record)
    msg = f"unknown action {action!r}"  # pragma: no cover - exhaustive above
    raise TypeError(msg)


async def _aperform(
    action: Action, clock: Clock, ledger: Ledger | None, run_manager: Any
) -> Any:
    if isinstance(action, CallTier):
        direct = _direct_target(action, run_manager)
        if direct is not None:
            model, kwargs = direct
            result = await model._agenerate_with_cache(  # noqa: SLF001
                action.messages, stop=action.stop, **kwargs
            )
            return result.generations[0].message
        config = _child_config(run_manager)
        if action.stream:
            ait = action.runnable.astream(
                action.messages, config, stop=action.stop, **action.kwargs
            ).__aiter__()
            return await anext_or_none(ait), ait
        return await action.runnable.ainvoke(
            action.messages, config, stop=action.stop, **action.kwargs
        )
    if isinstance(action, Sleep):
        await clock.asleep(action.seconds)
        return None
    if isinstance(action, AcquireRate):
        return await action.limiter.aacquire(
            action.tokens, max_wait=action.max_wait, tier=action.tier
        )
    if isinstance(action, Emit):
        if run_manager is not None and run_manager.handlers:
            await _child_manager(run_manager).on_custom_event(
                action.name, action.data, run_id=run_manager.run_id
            )
        return None
    return await _aperform_ledger(action, _need(ledger))


async def _aperform_ledger(action: Action, ledger: Ledger) -> Any:
    if isinstance(action, Reserve):
        return await ledger.areserve(
            action.limits, action.amount_usd, ttl_seconds=action.ttl_seconds, tier=action.tier
        )
    if isinstance(action, Settle):
        return await ledger.asettle(action.reservation, action.actual_usd, action.record)
    if isinstance(action, Release):
        return await ledger.arelease(action.reservation)
    if isinstance(action, Record):
        return await ledger.arecord(action.record)
    msg = f"unknown action {action!r}"  # pragma: no cover - exhaustive above
    raise TypeError(msg)


def _need(ledger: Ledger | None) -> Ledger:
    if ledger is None:  # pragma: no cover - the plan only yields ledger actions with one
        msg = "ledger action without a ledger"
        raise RuntimeError(msg)
    return ledger


async def anext_or_none(ait: AsyncIterator[T]) -> T | None:
    """``anext(ait, None)`` for Python 3.10 compatibility."""
    try:
        return await ait.__anext__()
    except StopAsyncIteration:
        return None


def next_or_none(it: Iterator[T]) -> T | None:
    """``next(it, None)``, named for symmetry with :func:`anext_or_none`."""
    return next(it, None)
