"""One handle on a Redis shared by every replica: ledgers, rate limiters, cooldowns."""

from __future__ import annotations

from typing import Any

from langchain_tiered._clock import Clock
from langchain_tiered.shared._client import ScriptClient
from langchain_tiered.shared._limit_lua import BREAKER_LUA, LIMIT_LUA
from langchain_tiered.shared._outage import OnUnavailable

__all__ = ["RedisState"]


class RedisState:
    """Factory of Redis-backed shared state that reuses one connection pool per replica.

    Example:
        .. code-block:: python

            state = RedisState("redis://redis:6379/0", prefix="my-service")
            ledger = state.ledger()
            Tier(name="fast", deployments=[...], shared_state=state, tokens_per_minute=90_000)

    Args:
        url: Redis URL.
        prefix: Key namespace shared by every replica of one service.
        socket_timeout: Seconds before Redis counts as unavailable.
        on_unavailable: Outage policy of limiters and ledgers (``"refuse"`` or ``"local"``).
        local_share: Fraction of each limit one replica may use while Redis is away.
        window_seconds: Rate-limit window (60 for per-minute limits).
        guard_seconds: Extra seconds admissions are counted for, absorbing the spread in how
            long requests take to reach the provider (see ``RedisRateLimiter``).
        clock: Optional time source instead of the Redis server's clock (tests).
    """

    def __init__(
        self,
        url: str = "redis://localhost:6379/0",
        *,
        prefix: str = "langchain_tiered",
        socket_timeout: float = 1.0,
        on_unavailable: OnUnavailable = "refuse",
        local_share: float = 0.0,
        window_seconds: float = 60.0,
        guard_seconds: float = 1.0,
        clock: Clock | None = None,
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.socket_timeout = socket_timeout
        self.on_unavailable: OnUnavailable = on_unavailable
        self.local_share = local_share
        self.window_seconds = window_seconds
        self.guard_seconds = guard_seconds
        self.clock = clock
        self.client = ScriptClient(
            url, {"limit": LIMIT_LUA, "breaker": BREAKER_LUA}, socket_timeout
        )

    def __repr__(self) -> str:
        return f"RedisState({self.url!r}, prefix={self.prefix!r})"

    def limiter(
        self,
        name: str,
        *,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
    ) -> Any:
        """A :class:`~langchain_tiered.shared.ratelimit.RedisRateLimiter` for ``name``."""
        from langchain_tiered.shared.ratelimit import RedisRateLimiter  # noqa: PLC0415

        return RedisRateLimiter(
            self.url,
            name=name,
            requests_per_minute=requests_per_minute,
            tokens_per_minute=tokens_per_minute,
            prefix=self.prefix,
            window_seconds=self.window_seconds,
            guard_seconds=self.guard_seconds,
            clock=self.clock,
            on_unavailable=self.on_unavailable,
            local_share=self.local_share,
            client=self.client,
        )

    def breaker(
        self,
        *,
        failure_threshold: int = 3,
        cooldown_seconds: float = 30.0,
        rate_limit_backoff: float = 1.0,
        rate_limit_max_backoff: float = 8.0,
    ) -> Any:
        """A :class:`~langchain_tiered.shared.breaker.RedisCircuitBreaker` on this Redis."""
        from langchain_tiered.shared.breaker import RedisCircuitBreaker  # noqa: PLC0415

        return RedisCircuitBreaker(
            self.url,
            failure_threshold=failure_threshold,
            cooldown_seconds=cooldown_seconds,
            rate_limit_backoff=rate_limit_backoff,
            rate_limit_max_backoff=rate_limit_max_backoff,
            prefix=self.prefix,
            clock=self.clock,
            client=self.client,
        )

    def ledger(self, **options: Any) -> Any:
        """A :class:`~langchain_tiered.ledger.redis.RedisLedger` under this prefix."""
        from langchain_tiered.ledger.redis import RedisLedger  # noqa: PLC0415

        options.setdefault("on_unavailable", self.on_unavailable)
        options.setdefault("local_share", self.local_share)
        options.setdefault("socket_timeout", self.socket_timeout)
        return RedisLedger(self.url, prefix=self.prefix, **options)
