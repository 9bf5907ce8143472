"""Per-tier client-side rate limiting by requests *and* tokens per minute, sync and async.

Two token buckets per tier, one counting requests and one counting tokens, each holding
one minute's allowance and refilling continuously. A full bucket admits a burst of a
whole minute's allowance, then admission follows the refill rate, which is how OpenAI
and Anthropic describe their own limits (continuously replenished). Token usage is
estimated before the call and corrected with :meth:`TierRateLimiter.adjust` afterwards;
a bucket may go into debt, so overspending delays later calls instead of being lost.

Why hand-written: langchain-core's ``InMemoryRateLimiter`` counts requests only.
``aiolimiter`` is async-only and reads the event loop's clock. ``pyrate-limiter`` keeps a
log entry per unit of weight (a 100k-token call is 100k entries), sleeps with the real
``time``/``asyncio`` clocks and cannot refund. ``limits`` has weighted hits but no blocking
acquire, no wait-time answer for weighted requests and no injectable clock. Tests here
need a fake clock that sleeps instantly, so the ~150 lines below are the smaller risk.
"""

from __future__ import annotations

import math
import threading
from typing import Protocol, runtime_checkable

from langchain_tiered._clock import Clock, SystemClock
from langchain_tiered.errors import RateLimitExceededError

__all__ = ["RateLimiter", "TierRateLimiter"]

_WINDOW = 60.0
# Float refills can land a hair short of the amount just waited for; without slack the
# waiter would loop on sleeps of 1e-15 s.
_EPSILON = 1e-9


@runtime_checkable
class RateLimiter(Protocol):
    """What the call engine needs from a tier's limiter: local or shared across replicas.

    :class:`TierRateLimiter` counts in this process;
    :class:`~langchain_tiered.shared.ratelimit.RedisRateLimiter` counts for every replica.
    """

    @property
    def requests_per_minute(self) -> float | None:
        """The request limit, or ``None``."""
        ...

    @property
    def tokens_per_minute(self) -> float | None:
        """The token limit, or ``None``."""
        ...

    def wait_time(self, tokens: int) -> float:
        """Seconds until a request of ``tokens`` would be admitted (``inf`` if never)."""
        ...

    def try_acquire(self, tokens: int) -> bool:
        """Admit one request now if possible, without waiting."""
        ...

    def acquire(
        self, tokens: int, *, max_wait: float | None = None, tier: str | None = None
    ) -> float:
        """Block until admitted (or raise ``RateLimitExceededError``); seconds waited."""
        ...

    async def aacquire(
        self, tokens: int, *, max_wait: float | None = None, tier: str | None = None
    ) -> float:
        """Async twin of :meth:`acquire`."""
        ...

    def adjust(self, tokens_delta: int) -> None:
        """Correct the token count once the call's real usage is known."""
        ...


class _Bucket:
    """A continuously refilling allowance of ``capacity`` units per minute (not locked)."""

    def __init__(self, per_minute: float, capacity: float, now: float) -> None:
        self.per_minute = per_minute
        self.capacity = capacity
        self.level = capacity
        self.updated = now

    def refill(self, now: float) -> None:
        elapsed = max(0.0, now - self.updated)
        self.level = min(self.capacity, self.level + elapsed * self.per_minute / _WINDOW)
        self.updated = now

    def wait_for(self, amount: float) -> float:
        if amount > self.capacity + _EPSILON:
            return math.inf
        deficit = amount - self.level
        return 0.0 if deficit <= _EPSILON else deficit * _WINDOW / self.per_minute

    def take(self, amount: float) -> None:
        self.level = min(self.capacity, self.level - amount)


class WaitsForAdmission:
    """The waiting loop of a limiter, written once for the sync and async paths.

    A subclass says whether a request is taken now (:meth:`_take` returns 0.0) or how long
    until it could be, and which waits are too long (:meth:`_check_wait` raises). The loop
    re-checks after every sleep, because another caller may have taken the allowance.
    """

    _clock: Clock

    def _take(self, tokens: int) -> float:
        raise NotImplementedError

    async def _atake(self, tokens: int) -> float:
        return self._take(tokens)

    def _check_wait(
        self, tokens: int, waited: float, wait: float, max_wait: float | None, tier: str | None
    ) -> None:
        raise NotImplementedError

    def _wait_and_take(self, tokens: int, max_wait: float | None, tier: str | None) -> float:
        start = self._clock.monotonic()
        while True:
            wait = self._take(tokens)
            waited = self._clock.monotonic() - start
            if wait == 0.0:
                return waited
            self._check_wait(tokens, waited, wait, max_wait, tier)
            self._clock.sleep(wait)

    async def _await_and_take(self, tokens: int, max_wait: float | None, tier: str | None) -> float:
        start = self._clock.monotonic()
        while True:
            wait = await self._atake(tokens)
            waited = self._clock.monotonic() - start
            if wait == 0.0:
                return waited
            self._check_wait(tokens, waited, wait, max_wait, tier)
            await self._clock.asleep(wait)


class TierRateLimiter(WaitsForAdmission):
    """Client-side requests-per-minute and tokens-per-minute limit for one tier.

    Thread-safe and asyncio-friendly: the lock is held only to check and take the
    allowance, never while sleeping, and a waiter re-checks after waking because another
    caller may have taken the allowance meanwhile. Waiters are not queued in order.

    Args:
        requests_per_minute: Requests allowed per minute, or ``None`` for no limit. A limit
            below 1 still admits single requests, at that average rate.
        tokens_per_minute: Tokens allowed per minute, or ``None`` for no limit.
        clock: Time source (defaults to the system clock; tests pass a ``FakeClock``).

    Raises:
        ValueError: If a limit is not a positive number.
    """

    def __init__(
        self,
        *,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        clock: Clock | None = None,
    ) -> None:
        for name, value in (
            ("requests_per_minute", requests_per_minute),
            ("tokens_per_minute", tokens_per_minute),
        ):
            if value is not None and not (value > 0 and math.isfinite(value)):
                msg = f"{name} must be a positive number or None, got {value!r}"
                raise ValueError(msg)
        self._clock: Clock = clock or SystemClock()
        self._lock = threading.Lock()
        now = self._clock.monotonic()
        self._requests = (
            _Bucket(requests_per_minute, max(1.0, requests_per_minute), now)
            if requests_per_minute is not None
            else None
        )
        self._tokens = (
            _Bucket(tokens_per_minute, tokens_per_minute, now)
            if tokens_per_minute is not None
            else None
        )

    @property
    def requests_per_minute(self) -> float | None:
        """The request limit, or ``None``."""
        return self._requests.per_minute if self._requests else None

    @property
    def tokens_per_minute(self) -> float | None:
        """The token limit, or ``None``."""
        return self._tokens.per_minute if self._tokens else None

    def wait_time(self, tokens: int) -> float:
        """Seconds until one request of ``tokens`` tokens would be admitted.

        Args:
            tokens: Estimated tokens of the request (prompt plus reserved output).

        Returns:
            0 if it would be admitted now; ``math.inf`` if ``tokens`` exceeds a minute's
            token allowance, so no wait would ever be enough.
        """
        _check_tokens(tokens)
        with self._lock:
            return self._wait_locked(tokens)

    def try_acquire(self, tokens: int) -> bool:
        """Admit one request of ``tokens`` tokens if possible now, without waiting.

        Returns:
            Whether the request was admitted (and its allowance taken).
        """
        _check_tokens(tokens)
        return self._take(tokens) == 0.0

    def acquire(
        self, tokens: int, *, max_wait: float | None = None, tier: str | None = None
    ) -> float:
        """Block until one request of ``tokens`` tokens is admitted, then take its allowance.

        Args:
            tokens: Estimated tokens of the request.
            max_wait: Longest acceptable total wait in seconds (``None``: no limit).
            tier: Tier name, for the error.

        Returns:
            Seconds spent waiting.

        Raises:
            RateLimitExceededError: If admission would need more than ``max_wait`` seconds
                (or could never happen); nothing is taken then.
        """
        _check_tokens(tokens)
        return self._wait_and_take(tokens, max_wait, tier)

    async def aacquire(
        self, tokens: int, *, max_wait: float | None = None, tier: str | None = None
    ) -> float:
        """Async twin of :meth:`acquire`: waits with ``clock.asleep``, never blocking the loop.

        Args:
            tokens: Estimated tokens of the request.
            max_wait: Longest acceptable total wait in seconds (``None``: no limit).
            tier: Tier name, for the error.

        Returns:
            Seconds spent waiting.

        Raises:
            RateLimitExceededError: If admission would need more than ``max_wait`` seconds
                (or could never happen); nothing is taken then.
        """
        _check_tokens(tokens)
        return await self._await_and_take(tokens, max_wait, tier)

    def adjust(self, tokens_delta: int) -> None:
        """Correct the token allowance once a call's real usage is known.

        Args:
            tokens_delta: Actual minus estimated tokens. Positive charges more (the bucket
                may go into debt, delaying later calls); negative refunds, up to capacity.
        """
        if self._tokens is None or tokens_delta == 0:
            return
        with self._lock:
            self._tokens.refill(self._clock.monotonic())
            self._tokens.take(tokens_delta)

    def _wait_locked(self, tokens: int) -> float:
        now = self._clock.monotonic()
        wait = 0.0
        for bucket, amount in ((self._requests, 1), (self._tokens, tokens)):
            if bucket is not None:
                bucket.refill(now)
                wait = max(wait, bucket.wait_for(amount))
        return wait

    def _take(self, tokens: int) -> float:
        # Check and take under one lock so two callers can't both spend the same allowance.
        with self._lock:
            wait = self._wait_locked(tokens)
            if wait == 0.0:
                if self._requests is not None:
                    self._requests.take(1)
                if self._tokens is not None:
                    self._tokens.take(tokens)
            return wait

    def _check_wait(
        self, tokens: int, waited: float, wait: float, max_wait: float | None, tier: str | None
    ) -> None:
        total = waited + wait
        if math.isinf(wait):
            msg = (
                f"a request of {tokens} tokens exceeds tier {tier!r}'s limit of "
                f"{self.tokens_per_minute:g} tokens per minute; raise tokens_per_minute, lower "
                "max_tokens or route the call to a tier with a larger limit"
            )
            raise RateLimitExceededError(msg, tier=tier, wait_seconds=math.inf)
        if max_wait is not None and total > max_wait:
            msg = (
                f"tier {tier!r} is rate limited for another {wait:.2f}s, more than the allowed "
                f"wait of {max_wait:g}s; raise max_wait or fall back to another tier"
            )
            raise RateLimitExceededError(msg, tier=tier, wait_seconds=total)


def _check_tokens(tokens: int) -> None:
    if tokens < 0:
        msg = f"tokens must be non-negative, got {tokens}"
        raise ValueError(msg)
