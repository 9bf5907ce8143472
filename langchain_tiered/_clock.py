"""Clocks: the one seam through which every time-dependent piece reads time.

Retries, cooldowns, rate limits and budget periods take a :class:`Clock` so tests
can use :class:`FakeClock` and run deterministically without sleeping.
"""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "FakeClock", "SystemClock"]


@runtime_checkable
class Clock(Protocol):
    """Source of time for policies that wait or expire."""

    def monotonic(self) -> float:
        """Seconds on a monotonic clock (for durations)."""
        ...

    def now(self) -> datetime:
        """Current wall-clock time, timezone-aware UTC (for budget periods and records)."""
        ...

    def sleep(self, seconds: float) -> None:
        """Block the current thread for ``seconds``."""
        ...

    async def asleep(self, seconds: float) -> None:
        """Suspend the current task for ``seconds``."""
        ...


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        """Seconds from :func:`time.monotonic`."""
        return time.monotonic()

    def now(self) -> datetime:
        """Current UTC time."""
        return datetime.now(timezone.utc)

    def sleep(self, seconds: float) -> None:
        """Sleep with :func:`time.sleep`."""
        if seconds > 0:
            time.sleep(seconds)

    async def asleep(self, seconds: float) -> None:
        """Sleep with :func:`asyncio.sleep`."""
        if seconds > 0:
            await asyncio.sleep(seconds)


class FakeClock:
    """A clock that only moves when told to; sleeping advances it instantly.

    Args:
        start: Initial wall-clock time (UTC). Defaults to 2026-01-01T00:00:00Z.
        monotonic_start: Initial monotonic reading.
    """

    def __init__(self, start: datetime | None = None, monotonic_start: float = 1000.0) -> None:
        self._lock = threading.Lock()
        self._mono = monotonic_start
        self._wall = start or datetime(2026, 1, 1, tzinfo=timezone.utc)
        self.sleeps: list[float] = []
        """Every requested sleep, in order (tests assert waits on it)."""

    def monotonic(self) -> float:
        """Current fake monotonic reading."""
        with self._lock:
            return self._mono

    def now(self) -> datetime:
        """Current fake UTC time."""
        with self._lock:
            return self._wall

    def advance(self, seconds: float) -> None:
        """Move both clocks forward by ``seconds``."""
        with self._lock:
            self._mono += seconds
            self._wall += timedelta(seconds=seconds)

    def sleep(self, seconds: float) -> None:
        """Record the sleep and advance instantly."""
        self.sleeps.append(seconds)
        if seconds > 0:
            self.advance(seconds)

    async def asleep(self, seconds: float) -> None:
        """Record the sleep, advance instantly, and yield to the event loop once."""
        self.sleep(seconds)
        await asyncio.sleep(0)
