"""Drivers that run a call plan (:mod:`langchain_tiered._call.plan`) with blocking or async I/O.

The plan yields actions; a driver performs each one and sends the result back (or throws
the exception in, so the plan's ``try``/``except`` sees it exactly where it yielded).
Each action type is matched to one method of :class:`_SyncIO` / :class:`_AsyncIO`, side by
side.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Generator
from typing import TYPE_CHECKING, Any, TypeVar

from typing_extensions import assert_never

from langchain_tiered._call.actions import (
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
from langchain_tiered._call.tiercall import (
    acall_tier,
    aemit,
    call_tier,
    emit,
    has_content,
    listeners,
)

if TYPE_CHECKING:
    from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun

    from langchain_tiered._clock import Clock
    from langchain_tiered.ledger import Ledger

__all__ = ["adrive", "drive", "has_content"]

T = TypeVar("T")


def drive(
    plan: Generator[Action, Any, T],
    *,
    clock: Clock,
    ledger: Ledger | None,
    run_manager: CallbackManagerForLLMRun | None,
) -> T:
    """Run ``plan`` to completion with blocking I/O and return its value."""
    io = _SyncIO(clock, ledger, run_manager)
    send: Any = None
    throw: BaseException | None = None
    while True:
        try:
            action = plan.throw(throw) if throw is not None else plan.send(send)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        send, throw = None, None
        try:
            send = _perform(io, action)
        except BaseException as exc:  # aborts too: the plan releases what it holds, re-raises
            throw = exc


async def adrive(
    plan: Generator[Action, Any, T],
    *,
    clock: Clock,
    ledger: Ledger | None,
    run_manager: AsyncCallbackManagerForLLMRun | None,
) -> T:
    """Run ``plan`` to completion with async I/O and return its value."""
    io = _AsyncIO(clock, ledger, run_manager)
    send: Any = None
    throw: BaseException | None = None
    while True:
        try:
            action = plan.throw(throw) if throw is not None else plan.send(send)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        send, throw = None, None
        try:
            send = await _aperform(io, action)
        except BaseException as exc:  # cancellation too: the plan releases, then re-raises
            throw = exc


def _perform(io: _SyncIO, action: Action) -> Any:
    """Perform one action with blocking I/O; return what the plan receives."""
    result: Any = None
    match action:
        case CallTier():
            result = io.call(action)
        case Sleep():
            io.sleep(action)
        case AcquireRate():
            result = io.acquire(action)
        case Emit():
            io.emit(action)
        case Reserve():
            result = io.reserve(action)
        case Settle():
            io.settle(action)
        case Release():
            io.release(action)
        case Record():
            io.record(action)
        case _:
            assert_never(action)
    return result


async def _aperform(io: _AsyncIO, action: Action) -> Any:
    """Async twin of :func:`_perform`."""
    match action:
        case CallTier():
            pending = io.call(action)
        case Sleep():
            pending = io.sleep(action)
        case AcquireRate():
            pending = io.acquire(action)
        case Emit():
            pending = io.emit(action)
        case Reserve():
            pending = io.reserve(action)
        case Settle():
            pending = io.settle(action)
        case Release():
            pending = io.release(action)
        case Record():
            pending = io.record(action)
        case _:
            assert_never(action)
    return await pending


class _IO:
    """State shared by both drivers."""

    def __init__(self, clock: Clock, ledger: Ledger | None, run_manager: Any) -> None:
        self.clock = clock
        self._ledger = ledger
        self.run_manager = run_manager

    @property
    def ledger(self) -> Ledger:
        if self._ledger is None:  # pragma: no cover - the plan only yields these with one
            msg = "ledger action without a ledger"
            raise RuntimeError(msg)
        return self._ledger

    def listening(self) -> bool:
        return self.run_manager is not None and bool(listeners(self.run_manager.handlers))


class _SyncIO(_IO):
    def call(self, a: CallTier) -> Any:
        return call_tier(a, self.run_manager)

    def sleep(self, a: Sleep) -> None:
        self.clock.sleep(a.seconds)

    def acquire(self, a: AcquireRate) -> float:
        return a.limiter.acquire(a.tokens, max_wait=a.max_wait, tier=a.tier)

    def emit(self, a: Emit) -> None:
        if self.listening():
            emit(self.run_manager, a.name, a.data)

    def reserve(self, a: Reserve) -> Any:
        return self.ledger.reserve(a.limits, a.amount_usd, ttl_seconds=a.ttl_seconds, tier=a.tier)

    def settle(self, a: Settle) -> None:
        self.ledger.settle(a.reservation, a.actual_usd, a.record)

    def release(self, a: Release) -> None:
        self.ledger.release(a.reservation)

    def record(self, a: Record) -> None:
        self.ledger.record(a.record)


class _AsyncIO(_IO):
    async def call(self, a: CallTier) -> Any:
        return await acall_tier(a, self.run_manager)

    async def sleep(self, a: Sleep) -> None:
        await self.clock.asleep(a.seconds)

    async def acquire(self, a: AcquireRate) -> float:
        return await a.limiter.aacquire(a.tokens, max_wait=a.max_wait, tier=a.tier)

    async def emit(self, a: Emit) -> None:
        if self.listening():
            await aemit(self.run_manager, a.name, a.data)

    async def reserve(self, a: Reserve) -> Any:
        task, cancelled = await _run_through_cancel(
            self.ledger.areserve(a.limits, a.amount_usd, ttl_seconds=a.ttl_seconds, tier=a.tier)
        )
        if cancelled:
            # The hold may have been taken after the cancel hit (SQLite reserves in a worker
            # thread that runs on): give it back before letting the cancellation through.
            if not task.cancelled() and task.exception() is None:
                await _run_through_cancel(self.ledger.arelease(task.result()))
            raise asyncio.CancelledError
        return task.result()

    async def settle(self, a: Settle) -> None:
        await _finish(self.ledger.asettle(a.reservation, a.actual_usd, a.record))

    async def release(self, a: Release) -> None:
        await _finish(self.ledger.arelease(a.reservation))

    async def record(self, a: Record) -> None:
        await _finish(self.ledger.arecord(a.record))


async def _run_through_cancel(aw: Awaitable[T]) -> tuple[asyncio.Future[T], bool]:
    """Run ``aw`` to its end even if the calling task is cancelled meanwhile.

    Ledger writes must not be abandoned half-way: a reservation taken or a settlement
    written after the caller gave up would otherwise hold budget until it expires.

    Returns:
        The finished task and whether the caller was cancelled while waiting for it.
    """
    task = asyncio.ensure_future(aw)
    cancelled = False
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            cancelled = cancelled or not task.done()
        except Exception:  # noqa: S110 - the task's own failure, read from it below
            pass
    return task, cancelled


async def _finish(aw: Awaitable[T]) -> T:
    """Await ``aw`` to its end despite a cancel, then let the cancellation through."""
    task, cancelled = await _run_through_cancel(aw)
    if cancelled:
        raise asyncio.CancelledError
    return task.result()
