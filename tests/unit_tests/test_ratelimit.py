"""Tests for the per-tier RPM + TPM limiter (FakeClock only: nothing really sleeps)."""

from __future__ import annotations

import asyncio
import math
import threading
from typing import Any

import pytest

from langchain_tiered.errors import RateLimitExceededError
from langchain_tiered.ratelimit import TierRateLimiter
from langchain_tiered.testing import FakeClock


def test_no_limits_admits_everything() -> None:
    limiter = TierRateLimiter(clock=FakeClock())
    assert limiter.wait_time(10**9) == 0.0
    assert all(limiter.try_acquire(10**6) for _ in range(1000))
    assert limiter.requests_per_minute is None
    assert limiter.tokens_per_minute is None


def test_rpm_holds_over_a_window() -> None:
    clock = FakeClock()
    limiter = TierRateLimiter(requests_per_minute=3, clock=clock)
    assert [limiter.try_acquire(0) for _ in range(4)] == [True, True, True, False]
    assert limiter.wait_time(0) == pytest.approx(20.0)
    clock.advance(19.9)
    assert not limiter.try_acquire(0)
    clock.advance(0.1)
    assert limiter.try_acquire(0)
    assert not limiter.try_acquire(0)


def test_rpm_acquire_paces_a_loop() -> None:
    clock = FakeClock()
    limiter = TierRateLimiter(requests_per_minute=60, clock=clock)
    start = clock.monotonic()
    admitted_at = []
    for _ in range(120):
        limiter.acquire(0)
        admitted_at.append(clock.monotonic() - start)
    # A minute's burst, then one per second.
    assert admitted_at[59] == 0.0
    assert admitted_at[60] == pytest.approx(1.0)
    assert admitted_at[-1] == pytest.approx(60.0)
    _assert_bucket_bound([(t, 1) for t in admitted_at], capacity=60, per_minute=60)


def test_tpm_holds_over_a_window() -> None:
    clock = FakeClock()
    limiter = TierRateLimiter(tokens_per_minute=1000, clock=clock)
    assert limiter.try_acquire(600)
    assert limiter.wait_time(500) == pytest.approx(6.0)
    assert not limiter.try_acquire(500)
    assert limiter.acquire(500) == pytest.approx(6.0)
    assert clock.sleeps == [pytest.approx(6.0)]
    assert limiter.wait_time(1) > 0


def test_rpm_and_tpm_combine_with_the_longer_wait() -> None:
    clock = FakeClock()
    limiter = TierRateLimiter(requests_per_minute=2, tokens_per_minute=600, clock=clock)
    assert limiter.try_acquire(100)
    assert limiter.try_acquire(100)
    # Requests bucket needs 30 s for one request; tokens are plentiful.
    assert limiter.wait_time(10) == pytest.approx(30.0)
    clock.advance(30.0)
    # Now tokens are short: 400 + 300 refilled (capped at 600) => 600 available, 700 impossible.
    assert math.isinf(limiter.wait_time(700))
    assert limiter.try_acquire(600)


def test_max_wait_raises_without_consuming() -> None:
    clock = FakeClock()
    limiter = TierRateLimiter(tokens_per_minute=1000, clock=clock)
    limiter.acquire(1000)
    with pytest.raises(RateLimitExceededError) as info:
        limiter.acquire(500, max_wait=5.0, tier="budget")
    assert info.value.tier == "budget"
    assert info.value.wait_seconds == pytest.approx(30.0)
    assert "budget" in str(info.value)
    assert clock.sleeps == []
    # Nothing was taken: after 30 s exactly 500 are available.
    clock.advance(30.0)
    assert limiter.try_acquire(500)
    assert limiter.acquire(0, max_wait=0.0) == 0.0


def test_max_wait_allows_a_wait_within_bounds() -> None:
    clock = FakeClock()
    limiter = TierRateLimiter(requests_per_minute=1, clock=clock)
    limiter.acquire(0)
    assert limiter.acquire(0, max_wait=60.0) == pytest.approx(60.0)


def test_tokens_above_capacity_are_impossible() -> None:
    clock = FakeClock()
    limiter = TierRateLimiter(tokens_per_minute=1000, clock=clock)
    assert math.isinf(limiter.wait_time(1001))
    assert not limiter.try_acquire(1001)
    with pytest.raises(RateLimitExceededError, match="tokens_per_minute") as info:
        limiter.acquire(1001, tier="mini")  # no max_wait: would otherwise block forever
    assert math.isinf(info.value.wait_seconds)
    assert clock.sleeps == []
    assert limiter.try_acquire(1000)


def test_adjust_refunds_and_charges() -> None:
    clock = FakeClock()
    limiter = TierRateLimiter(tokens_per_minute=1000, clock=clock)
    limiter.acquire(900)  # estimate
    limiter.adjust(-700)  # only 200 used
    assert limiter.try_acquire(800)
    assert not limiter.try_acquire(1)
    limiter.adjust(500)  # used 500 more than estimated: bucket goes into debt
    assert limiter.wait_time(100) == pytest.approx(36.0)  # 600 tokens at 1000/min
    limiter.adjust(-10_000)  # refunds never exceed capacity
    assert limiter.try_acquire(1000)
    assert not limiter.try_acquire(1)


def test_adjust_without_token_limit_is_a_no_op() -> None:
    limiter = TierRateLimiter(requests_per_minute=1, clock=FakeClock())
    limiter.adjust(10_000)
    assert limiter.try_acquire(10_000)


def test_fractional_rpm_still_admits_single_requests() -> None:
    clock = FakeClock()
    limiter = TierRateLimiter(requests_per_minute=0.5, clock=clock)
    assert limiter.try_acquire(0)
    assert limiter.wait_time(0) == pytest.approx(120.0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"requests_per_minute": 0},
        {"tokens_per_minute": -5},
        {"tokens_per_minute": math.inf},
        {"requests_per_minute": math.nan},
    ],
)
def test_invalid_limits_are_rejected(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        TierRateLimiter(**kwargs)


def test_negative_tokens_are_rejected() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        TierRateLimiter(tokens_per_minute=10).try_acquire(-1)


class _LockCheckingClock(FakeClock):
    """Fails a test if the limiter sleeps while holding its lock."""

    limiter: TierRateLimiter | None = None

    def sleep(self, seconds: float) -> None:
        assert self.limiter is not None
        assert not self.limiter._lock.locked()
        super().sleep(seconds)


def test_never_sleeps_while_holding_the_lock() -> None:
    clock = _LockCheckingClock()
    limiter = TierRateLimiter(requests_per_minute=2, tokens_per_minute=100, clock=clock)
    clock.limiter = limiter
    for _ in range(10):
        limiter.acquire(40)
    assert len(clock.sleeps) >= 5


def test_threads_never_over_admit_at_one_instant() -> None:
    clock = FakeClock()
    limiter = TierRateLimiter(requests_per_minute=50, tokens_per_minute=1000, clock=clock)
    admitted: list[int] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait()
        for _ in range(200):
            if limiter.try_acquire(30):
                admitted.append(30)

    _run_threads(worker, 8)
    assert sum(admitted) == 990  # 33 requests of 30 tokens fit; never a 34th
    assert len(admitted) == 33


def test_threads_acquiring_stay_within_the_bucket_bound() -> None:
    clock = FakeClock()
    limiter = TierRateLimiter(requests_per_minute=20, tokens_per_minute=1000, clock=clock)
    start = clock.monotonic()
    admitted: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        for n in (100, 250, 50, 400, 120):
            limiter.acquire(n)
            with lock:
                admitted.append(n)

    _run_threads(worker, 6)
    elapsed = clock.monotonic() - start
    assert len(admitted) == 30  # everyone got through: no starvation, no deadlock
    # Over any span a token bucket admits at most capacity + refill during the span.
    assert sum(admitted) <= 1000 + 1000 * elapsed / 60 + 1e-6
    assert len(admitted) <= 20 + 20 * elapsed / 60 + 1e-6


async def test_aacquire_waits_with_asleep() -> None:
    clock = FakeClock()
    limiter = TierRateLimiter(tokens_per_minute=1000, clock=clock)
    assert await limiter.aacquire(600) == 0.0
    assert await limiter.aacquire(500) == pytest.approx(6.0)
    assert clock.sleeps == [pytest.approx(6.0)]
    with pytest.raises(RateLimitExceededError):
        await limiter.aacquire(900, max_wait=1.0, tier="t")
    with pytest.raises(RateLimitExceededError):
        await limiter.aacquire(5000)


async def test_concurrent_tasks_are_paced() -> None:
    clock = FakeClock()
    limiter = TierRateLimiter(requests_per_minute=6, clock=clock)
    start = clock.monotonic()
    times: list[float] = []

    async def call() -> None:
        await limiter.aacquire(0)
        times.append(clock.monotonic() - start)

    await asyncio.gather(*(call() for _ in range(12)))
    assert len(times) == 12
    _assert_bucket_bound([(t, 1) for t in sorted(times)], capacity=6, per_minute=6)
    assert max(times) >= 60.0 - 1e-6  # six beyond the burst need a minute at 6/min


def _run_threads(target: object, count: int) -> None:
    threads = [threading.Thread(target=target) for _ in range(count)]  # type: ignore[arg-type]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
        assert not t.is_alive(), "a worker hung"


def _assert_bucket_bound(
    events: list[tuple[float, int]], *, capacity: float, per_minute: float
) -> None:
    """Every window [a, b] admits at most capacity + refill over (b - a)."""
    for i, (a, _) in enumerate(events):
        total = 0
        for b, amount in events[i:]:
            total += amount
            assert total <= capacity + per_minute * (b - a) / 60 + 1e-6
