"""Shared rate limits and cooldowns against the real Redis, driven by a FakeClock."""

from __future__ import annotations

import math
import threading
from typing import Any

import pytest

from langchain_tiered.errors import RateLimitExceededError
from langchain_tiered.shared.errors import SharedStateUnavailableError
from langchain_tiered.testing import FakeClock
from tests.integration_tests import _services
from tests.integration_tests._services import REDIS_URL

pytestmark = pytest.mark.integration
redis_prefix = _services.redis_prefix


def limiter(prefix: str, clock: FakeClock, **kw: Any) -> Any:
    from langchain_tiered.shared.ratelimit import RedisRateLimiter

    kw.setdefault("guard_seconds", 0.0)  # exact windows here; the guard has its own test
    return RedisRateLimiter(REDIS_URL, name="main", prefix=prefix, clock=clock, **kw)


def test_two_replicas_share_one_token_window(redis_prefix: str) -> None:
    clock = FakeClock()
    a = limiter(redis_prefix, clock, tokens_per_minute=1000)
    b = limiter(redis_prefix, clock, tokens_per_minute=1000)
    assert a.try_acquire(600)
    assert not b.try_acquire(600)  # 1200 > 1000 across both
    assert b.try_acquire(400)
    assert a.wait_time(1) == pytest.approx(60.0)
    clock.advance(30)
    assert b.wait_time(600) == pytest.approx(30.0)
    clock.advance(30.001)
    assert b.try_acquire(1000)


def test_sliding_window_never_admits_more_than_the_limit(redis_prefix: str) -> None:
    clock = FakeClock()
    replicas = [limiter(redis_prefix, clock, tokens_per_minute=10_000) for _ in range(4)]
    admitted: list[tuple[float, int]] = []
    for step in range(600):  # 10 minutes in 1 s steps, every replica asks every second
        for i, r in enumerate(replicas):
            tokens = 700 + 37 * ((step + i) % 5)
            if r.try_acquire(tokens):
                admitted.append((clock.now().timestamp(), tokens))
        clock.advance(1.0)
    times = [t for t, _ in admitted]
    worst = max(sum(n for t, n in admitted if start <= t < start + 60) for start in times)
    assert worst <= 10_000
    assert worst >= 9_000  # the limiter is the constraint, not an idle test
    assert sum(n for _, n in admitted) > 9 * 10_000


def test_requests_per_minute_and_waiting(redis_prefix: str) -> None:
    clock = FakeClock()
    rl = limiter(redis_prefix, clock, requests_per_minute=2)
    assert rl.acquire(0) == 0.0
    assert rl.acquire(0) == 0.0
    with pytest.raises(RateLimitExceededError) as info:
        rl.acquire(0, max_wait=5, tier="main")
    assert info.value.wait_seconds == pytest.approx(60.0)
    assert rl.acquire(0, max_wait=90) == pytest.approx(60.0)
    assert clock.sleeps == [pytest.approx(60.0)]


def test_a_request_larger_than_the_window_never_fits(redis_prefix: str) -> None:
    rl = limiter(redis_prefix, FakeClock(), tokens_per_minute=100)
    assert math.isinf(rl.wait_time(101))
    with pytest.raises(RateLimitExceededError, match="raise tokens_per_minute"):
        rl.acquire(101)


def test_adjust_charges_overruns_and_ignores_refunds(redis_prefix: str) -> None:
    clock = FakeClock()
    rl = limiter(redis_prefix, clock, tokens_per_minute=1000)
    assert rl.try_acquire(500)
    rl.adjust(-400)
    assert not rl.try_acquire(600)
    rl.adjust(300)
    assert not rl.try_acquire(300)
    assert rl.try_acquire(200)


async def test_async_acquire_uses_the_same_window(redis_prefix: str) -> None:
    clock = FakeClock()
    rl = limiter(redis_prefix, clock, tokens_per_minute=1000)
    assert await rl.aacquire(800) == 0.0
    assert await rl.aacquire(800) == pytest.approx(60.0)
    await rl.aclose()


def test_limiter_fails_closed_or_uses_its_local_share() -> None:
    from langchain_tiered.shared.ratelimit import RedisRateLimiter

    down = "redis://127.0.0.1:1/0"
    closed = RedisRateLimiter(down, name="t", tokens_per_minute=1000, socket_timeout=0.2)
    with pytest.raises(SharedStateUnavailableError):
        closed.acquire(10)
    local = RedisRateLimiter(
        down,
        name="t",
        tokens_per_minute=1000,
        socket_timeout=0.2,
        on_unavailable="local",
        local_share=0.25,
        clock=FakeClock(),
    )
    assert local.try_acquire(250)
    assert not local.try_acquire(1)


def test_cooldown_on_one_replica_is_seen_by_all(redis_prefix: str) -> None:
    from langchain_tiered.shared.breaker import RedisCircuitBreaker

    clock = FakeClock()
    a, b = (
        RedisCircuitBreaker(
            REDIS_URL, failure_threshold=2, cooldown_seconds=30, prefix=redis_prefix, clock=clock
        )
        for _ in range(2)
    )
    a.record_failure("main")
    assert not b.is_open("main")
    b.record_failure("main")  # the second failure, counted across replicas
    assert a.is_open("main")
    assert b.is_open("main")
    assert a.state("main") == "open"
    assert b.cooldown_remaining("main") == pytest.approx(30.0)
    clock.advance(30.5)
    probes = [r.is_open("main") for r in (a, b, a)]
    assert probes == [False, True, True]  # exactly one replica probes
    b.record_success("main")
    assert not a.is_open("main")
    a.hold("main", 5)
    assert b.is_open("main")
    assert b.cooldown_remaining("main") == pytest.approx(5.0)


def test_breaker_falls_back_to_local_cooldowns_when_redis_is_away() -> None:
    from langchain_tiered.shared.breaker import RedisCircuitBreaker

    cb = RedisCircuitBreaker(
        "redis://127.0.0.1:1/0", failure_threshold=1, socket_timeout=0.2, clock=FakeClock()
    )
    cb.record_failure("main")
    assert cb.is_open("main")
    assert cb.state("main") == "open"


def test_many_threads_one_probe(redis_prefix: str) -> None:
    from langchain_tiered.shared.breaker import RedisCircuitBreaker

    clock = FakeClock()
    cb = RedisCircuitBreaker(
        REDIS_URL, failure_threshold=1, cooldown_seconds=10, prefix=redis_prefix, clock=clock
    )
    cb.record_failure("main")
    clock.advance(11)
    let_through: list[bool] = []
    threads = [
        threading.Thread(target=lambda: let_through.append(not cb.is_open("main")))
        for _ in range(16)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert let_through.count(True) == 1


def _info(cause: str, retry_after: float | None = None) -> Any:
    from langchain_tiered.fallbacks.classify import ErrorCause, ErrorInfo, ErrorKind

    return ErrorInfo(
        kind=ErrorKind.RETRYABLE,
        error_type="X",
        status=429,
        retry_after=retry_after,
        message="m",
        cause=ErrorCause(cause),
    )


def test_rate_limits_back_off_every_replica_without_counting_as_an_outage(
    redis_prefix: str,
) -> None:
    from langchain_tiered.fallbacks.classify import ErrorCause
    from langchain_tiered.shared.breaker import RedisCircuitBreaker

    clock = FakeClock()
    a, b = (
        RedisCircuitBreaker(
            REDIS_URL, failure_threshold=2, cooldown_seconds=30, prefix=redis_prefix, clock=clock
        )
        for _ in range(2)
    )
    limited = _info(ErrorCause.RATE_LIMIT.value)
    assert a.record_failure("main", limited) == 1.0
    assert b.state("main") == "backoff"
    assert b.is_open("main")
    assert b.record_failure("main", limited) == 2.0  # the streak is shared: doubled
    assert a.cooldown_remaining("main") == pytest.approx(2.0)
    clock.advance(2.5)
    assert not a.is_open("main")  # rate limits never opened the outage circuit
    assert a.state("main") == "closed"
    a.record_failure("main", _info(ErrorCause.QUOTA.value))
    assert b.state("main") == "open"  # an exhausted quota opens it at once


def test_the_guard_counts_admissions_a_little_longer(redis_prefix: str) -> None:
    clock = FakeClock()
    rl = limiter(redis_prefix, clock, requests_per_minute=1, guard_seconds=1.0)
    assert rl.try_acquire(0)
    assert rl.wait_time(0) == pytest.approx(61.0)  # a request arriving late still fits
    clock.advance(60.5)
    assert not rl.try_acquire(0)
    clock.advance(0.5)
    assert rl.try_acquire(0)
