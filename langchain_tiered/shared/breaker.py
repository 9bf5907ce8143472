"""Cooldowns shared by every replica: a tier that fails on one cools down on all of them.

:class:`RedisCircuitBreaker` has the methods of the in-process
:class:`~langchain_tiered.fallbacks.CircuitBreaker` (same threshold, cooldown and single
half-open probe, now one probe across all replicas). If Redis is away it keeps working from
an in-process breaker: a cooldown is an optimisation, not a budget, so it fails open.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from langchain_tiered._clock import Clock
from langchain_tiered.fallbacks import CircuitBreaker
from langchain_tiered.shared._client import ScriptClient, unreachable_errors
from langchain_tiered.shared._limit_lua import BREAKER_LUA

__all__ = ["RedisCircuitBreaker"]

_log = logging.getLogger(__name__)


class RedisCircuitBreaker:
    """Per-tier (or per-deployment) cooldown state kept in Redis.

    Args:
        url: Redis URL (ignored when ``client`` is given).
        failure_threshold: Consecutive failures (across replicas) that open the circuit.
        cooldown_seconds: How long an open circuit is skipped.
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
        prefix: str = "langchain_tiered",
        clock: Clock | None = None,
        socket_timeout: float = 1.0,
        client: ScriptClient | None = None,
    ) -> None:
        self._local = CircuitBreaker(
            failure_threshold=failure_threshold, cooldown_seconds=cooldown_seconds, clock=clock
        )
        self.failure_threshold = failure_threshold
        self.cooldown_seconds = cooldown_seconds
        self._clock = clock
        self._client = client or ScriptClient(url, {"breaker": BREAKER_LUA}, socket_timeout)
        self._tag = "{" + prefix + "}"

    def __repr__(self) -> str:
        return (
            f"RedisCircuitBreaker(threshold={self.failure_threshold}, "
            f"cooldown={self.cooldown_seconds:g}s)"
        )

    def record_success(self, tier: str) -> None:
        """Close the tier's circuit on every replica."""
        self._run(tier, "success", fallback=lambda: self._local.record_success(tier))

    def record_failure(self, tier: str) -> None:
        """Count a failure; the threshold counts failures from all replicas together."""
        self._run(tier, "failure", fallback=lambda: self._local.record_failure(tier))

    def hold(self, tier: str, seconds: float) -> None:
        """Open the tier's circuit for ``seconds`` on every replica (a provider's Retry-After)."""
        if seconds > 0:
            self._run(tier, "hold", seconds, fallback=lambda: self._local.hold(tier, seconds))

    def is_open(self, tier: str) -> bool:
        """Whether to skip the tier now; after the cooldown exactly one replica probes it."""
        reply = self._run(tier, "check", fallback=lambda: self._local.is_open(tier))
        if isinstance(reply, bool):
            return reply
        return reply[0] in ("open", "half_open")

    def cooldown_remaining(self, tier: str) -> float:
        """Seconds until the tier may be probed again (0 when closed or half-open)."""
        reply = self._run(tier, "state", fallback=lambda: self._local.cooldown_remaining(tier))
        return float(reply) if isinstance(reply, float) else float(reply[1])

    def state(self, tier: str) -> Literal["closed", "open", "half_open"]:
        """The tier's circuit state, for reporting (does not take the probe)."""
        reply = self._run(tier, "state", fallback=lambda: self._local.state(tier))
        value = reply if isinstance(reply, str) else reply[0]
        return "open" if value == "open" else "half_open" if value == "half_open" else "closed"

    def _run(self, tier: str, op: str, seconds: float = 0.0, *, fallback: Any) -> Any:
        now = repr(self._clock.now().timestamp()) if self._clock else "-1"
        args = [now, op, self.failure_threshold, repr(self.cooldown_seconds), repr(seconds)]
        try:
            reply = self._client.call("breaker", [f"{self._tag}:cb:{tier}"], args)
        except unreachable_errors() as exc:
            _log.warning("Redis unavailable (%s); using this replica's own cooldowns", exc)
            return fallback()
        return [_text(part) for part in reply]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
