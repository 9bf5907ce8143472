"""Cooldowns shared by every replica: a tier that fails on one cools down on all of them.

:class:`RedisCircuitBreaker` implements :class:`~langchain_tiered.fallbacks.breaker.Cooldowns`,
the interface the call engine uses, with the rules of the in-process
:class:`~langchain_tiered.fallbacks.CircuitBreaker` (the pure
:func:`~langchain_tiered.fallbacks.breaker.failure_effect` decides what a failure does): an
outage opens the circuit after ``failure_threshold`` failures counted over all replicas and
exactly one replica probes it after the cooldown; rate limits back the tier off briefly on
every replica without counting as an outage. If Redis is away it keeps working from an
in-process breaker: a cooldown is an optimisation, not a budget, so it fails open.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from langchain_tiered._clock import Clock
from langchain_tiered.fallbacks.breaker import BreakerState, CircuitBreaker, failure_effect
from langchain_tiered.fallbacks.classify import ErrorCause
from langchain_tiered.shared._client import ScriptClient, unreachable_errors
from langchain_tiered.shared._limit_lua import BREAKER_LUA

if TYPE_CHECKING:
    from langchain_tiered.fallbacks.classify import ErrorInfo

__all__ = ["RedisCircuitBreaker"]

_log = logging.getLogger(__name__)
_STATES: dict[str, BreakerState] = {
    "open": "open",
    "half_open": "half_open",
    "backoff": "backoff",
    "closed": "closed",
    "probe": "half_open",
}


class RedisCircuitBreaker:
    """Per-tier (or per-deployment) cooldown state kept in Redis.

    Args:
        url: Redis URL (ignored when ``client`` is given).
        failure_threshold: Consecutive failures (across replicas) that open the circuit.
        cooldown_seconds: How long an open circuit is skipped.
        rate_limit_backoff: Pause after a first rate limit without Retry-After, in seconds.
        rate_limit_max_backoff: Longest such pause.
        prefix: Key namespace.
        clock: Optional time source instead of the Redis server's clock (tests).
        socket_timeout: Seconds before Redis counts as unavailable.
        client: A shared :class:`ScriptClient`.
    """

    def __init__(
        self,
        url: str = "redis://localhost:6379/0",
        *,
        failure_threshold: int = 3,
        cooldown_seconds: float = 30.0,
        rate_limit_backoff: float = 1.0,
        rate_limit_max_backoff: float = 8.0,
        prefix: str = "langchain_tiered",
        clock: Clock | None = None,
        socket_timeout: float = 1.0,
        client: ScriptClient | None = None,
    ) -> None:
        self._local = CircuitBreaker(
            failure_threshold=failure_threshold,
            cooldown_seconds=cooldown_seconds,
            rate_limit_backoff=rate_limit_backoff,
            rate_limit_max_backoff=rate_limit_max_backoff,
            clock=clock,
        )
        self.failure_threshold = failure_threshold
        self.cooldown_seconds = cooldown_seconds
        self._backoff = (rate_limit_backoff, rate_limit_max_backoff)
        self._clock = clock
        self._client = client or ScriptClient(url, {"breaker": BREAKER_LUA}, socket_timeout)
        self._tag = "{" + prefix + "}"

    def __repr__(self) -> str:
        return (
            f"RedisCircuitBreaker(threshold={self.failure_threshold}, "
            f"cooldown={self.cooldown_seconds:g}s)"
        )

    def record_success(self, tier: str) -> None:
        """Close the tier's circuit on every replica and forget its rate-limit streak."""
        self._run(tier, "success", fallback=lambda: self._local.record_success(tier))

    def record_failure(self, tier: str, info: ErrorInfo | None = None) -> float:
        """Record a failure for every replica; returns the rate-limit pause imposed (s)."""
        limited = info is not None and info.cause is ErrorCause.RATE_LIMIT
        reply = self._run(
            tier,
            "streak",
            "1" if limited else "0",
            fallback=lambda: self._local.record_failure(tier, info),
        )
        if isinstance(reply, float):
            return reply  # Redis away: the local breaker decided
        base, ceiling = self._backoff
        effect = failure_effect(info, int(reply[1]), base=base, ceiling=ceiling)
        flags = ("1" if effect.counts else "0", "1" if effect.open_now else "0")
        self._run(tier, "apply", repr(effect.pause), *flags, fallback=lambda: 0.0)
        return effect.pause

    def hold(self, tier: str, seconds: float) -> None:
        """Skip the tier for ``seconds`` on every replica (a Retry-After not waited out)."""
        if seconds > 0:
            self._run(tier, "hold", repr(seconds), fallback=lambda: self._local.hold(tier, seconds))

    def is_open(self, tier: str) -> bool:
        """Whether to skip the tier now; after an outage cooldown exactly one replica probes."""
        reply = self._run(tier, "check", fallback=lambda: self._local.is_open(tier))
        if isinstance(reply, bool):
            return reply
        return reply[0] in ("open", "half_open", "backoff")

    def cooldown_remaining(self, tier: str) -> float:
        """Seconds until the tier may be called (or probed) again; 0 when it may be now."""
        reply = self._run(tier, "state", fallback=lambda: self._local.cooldown_remaining(tier))
        return reply if isinstance(reply, float) else float(reply[1])

    def state(self, tier: str) -> BreakerState:
        """The tier's state, for reporting (does not take the probe)."""
        reply = self._run(tier, "state", fallback=lambda: [self._local.state(tier)])
        return _STATES[reply[0]]

    def _run(self, tier: str, op: str, *extra: str, fallback: Any) -> Any:
        now = repr(self._clock.now().timestamp()) if self._clock else "-1"
        args = [now, op, self.failure_threshold, repr(self.cooldown_seconds), *extra]
        try:
            reply = self._client.call("breaker", [f"{self._tag}:cb:{tier}"], args)
        except unreachable_errors() as exc:
            _log.warning("Redis unavailable (%s); using this replica's own cooldowns", exc)
            return fallback()
        return [part.decode() if isinstance(part, bytes) else str(part) for part in reply]
