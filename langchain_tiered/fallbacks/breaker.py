"""Per-tier cooldowns: a circuit breaker for outages and a short backoff for rate limits.

Outages and rate limits are different animals. Five 500s in a row say the tier is down, and
skipping it for ``cooldown_seconds`` spares every caller a failing request. A burst of 429s
says only "not so fast": the tier is healthy, so it is backed off for a second or two,
doubling with each further 429, and never trips the outage breaker. An exhausted quota
(``insufficient_quota``) will not pass with time, so it opens the circuit at once.

The method surface (:meth:`CircuitBreaker.record_success`, :meth:`~CircuitBreaker.record_failure`,
:meth:`~CircuitBreaker.hold`, :meth:`~CircuitBreaker.is_open`,
:meth:`~CircuitBreaker.cooldown_remaining`, :meth:`~CircuitBreaker.state`) is what the call
engine uses, and what a shared (e.g. Redis-backed) cooldown store has to offer too; the
arithmetic lives in :func:`failure_effect` so both apply the same rules.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

from langchain_tiered._clock import Clock, SystemClock
from langchain_tiered.fallbacks.classify import ErrorCause

if TYPE_CHECKING:
    from langchain_tiered.fallbacks.classify import ErrorInfo

__all__ = ["BreakerState", "CircuitBreaker", "Cooldowns", "FailureEffect", "failure_effect"]

BreakerState = Literal["closed", "open", "half_open", "backoff"]
"""A tier's cooldown state; ``"backoff"`` is a rate-limit pause of an otherwise closed tier."""


@runtime_checkable
class Cooldowns(Protocol):
    """What the call engine needs from a cooldown store (local or shared across replicas).

    :class:`CircuitBreaker` is the in-process implementation. A shared one (Redis) applies
    :func:`failure_effect` the same way: ``pause`` is a short :meth:`hold` that does not
    count towards the threshold, ``open_now`` a :meth:`hold` for the cooldown.
    """

    def record_success(self, tier: str) -> None:
        """The tier answered: close it and forget its failures and rate-limit streak."""

    def record_failure(self, tier: str, info: ErrorInfo | None = None) -> float:
        """A retryable failure; returns the rate-limit pause imposed (0.0 for none)."""

    def hold(self, tier: str, seconds: float) -> None:
        """Skip the tier for ``seconds`` on every caller (a Retry-After not waited out)."""

    def is_open(self, tier: str) -> bool:
        """Whether to skip the tier now (may hand this caller the half-open probe)."""

    def cooldown_remaining(self, tier: str) -> float:
        """Seconds until the tier may be called again."""

    def state(self, tier: str) -> BreakerState:
        """For reporting; never takes the probe."""


@dataclass(frozen=True)
class FailureEffect:
    """What one failure does to a tier's cooldown state."""

    counts: bool
    """Whether it counts towards the outage threshold (consecutive failures)."""
    pause: float
    """Seconds to back the tier off at once (0 for none)."""
    open_now: bool
    """Whether it opens the outage circuit at once (an exhausted quota)."""


def failure_effect(
    info: ErrorInfo | None, rate_limit_streak: int, *, base: float, ceiling: float
) -> FailureEffect:
    """How a failure changes a tier's cooldown (pure, shared by local and shared breakers).

    Args:
        info: The classified failure; ``None`` counts as an outage-type failure.
        rate_limit_streak: Consecutive rate limits on this tier *including* this one.
        base: Backoff after the first rate limit without Retry-After, in seconds.
        ceiling: Largest rate-limit backoff.

    Returns:
        The effect: a rate limit without Retry-After pauses the tier for
        ``min(ceiling, base * 2 ** (streak - 1))`` and does not count towards the outage
        threshold; with Retry-After it neither pauses nor counts (the engine holds the tier
        for that long itself when it does not wait it out); an exhausted quota opens the
        circuit now; anything else counts.
    """
    if info is not None and info.cause is ErrorCause.RATE_LIMIT:
        if info.retry_after is not None:
            return FailureEffect(counts=False, pause=0.0, open_now=False)
        exponent = min(max(0, rate_limit_streak - 1), 64)
        return FailureEffect(counts=False, pause=min(ceiling, base * 2.0**exponent), open_now=False)
    if info is not None and info.cause is ErrorCause.QUOTA:
        return FailureEffect(counts=True, pause=0.0, open_now=True)
    return FailureEffect(counts=True, pause=0.0, open_now=False)


@dataclass
class _TierCircuit:
    failures: int = 0
    open_until: float | None = None
    probe_deadline: float | None = None
    rate_limits: int = 0
    backoff_until: float | None = None


class CircuitBreaker:
    """Per-tier cooldown after repeated transient failures, and backoff after rate limits.

    After ``failure_threshold`` consecutive failures a tier is *open* for
    ``cooldown_seconds``. Then it is *half-open*: :meth:`is_open` lets exactly one caller
    through as a probe; its success closes the circuit, its failure reopens it. A probe
    whose outcome is never recorded (its caller crashed, or failed fatally and did not
    report) expires after another cooldown, so a tier can never stay stuck open.

    A rate limit without Retry-After does not count as a failure: it backs the tier off for
    ``rate_limit_backoff`` seconds, doubling with each consecutive rate limit up to
    ``rate_limit_max_backoff``; a success resets the streak. Thread-safe.

    Args:
        failure_threshold: Consecutive failures that open the circuit.
        cooldown_seconds: How long an open tier is skipped.
        rate_limit_backoff: Pause after a first rate limit without Retry-After, in seconds.
        rate_limit_max_backoff: Longest such pause, however many rate limits in a row.
        clock: Time source (defaults to the system clock).
    """

    def __init__(
        self,
        *,
        failure_threshold: int = 3,
        cooldown_seconds: float = 30.0,
        rate_limit_backoff: float = 1.0,
        rate_limit_max_backoff: float = 8.0,
        clock: Clock | None = None,
    ) -> None:
        if failure_threshold < 1:
            msg = f"failure_threshold must be at least 1, got {failure_threshold}"
            raise ValueError(msg)
        for name, value in (
            ("cooldown_seconds", cooldown_seconds),
            ("rate_limit_backoff", rate_limit_backoff),
            ("rate_limit_max_backoff", rate_limit_max_backoff),
        ):
            if not 0 <= value < float("inf"):
                msg = f"{name} must be a finite number of seconds >= 0, got {value}"
                raise ValueError(msg)
        self.failure_threshold = failure_threshold
        self.cooldown_seconds = cooldown_seconds
        self.rate_limit_backoff = rate_limit_backoff
        self.rate_limit_max_backoff = rate_limit_max_backoff
        self._clock: Clock = clock or SystemClock()
        self._lock = threading.Lock()
        self._tiers: dict[str, _TierCircuit] = {}

    def record_success(self, tier: str) -> None:
        """Close the tier's circuit and forget its failures and rate-limit streak."""
        if tier not in self._tiers:  # the common case, read without the lock (atomic)
            return
        with self._lock:
            self._tiers.pop(tier, None)

    def record_failure(self, tier: str, info: ErrorInfo | None = None) -> float:
        """Record a transient failure of ``tier`` (see :func:`failure_effect` for the rules).

        Args:
            tier: The tier that failed.
            info: The classified failure; without it the failure counts as an outage.

        Returns:
            The rate-limit backoff imposed now, in seconds (0 for other failures): the
            caller retrying the same tier should wait at least that long.
        """
        with self._lock:
            circuit = self._tiers.setdefault(tier, _TierCircuit())
            limited = info is not None and info.cause is ErrorCause.RATE_LIMIT
            circuit.rate_limits = circuit.rate_limits + 1 if limited else 0
            effect = failure_effect(
                info,
                circuit.rate_limits,
                base=self.rate_limit_backoff,
                ceiling=self.rate_limit_max_backoff,
            )
            now = self._clock.monotonic()
            if effect.pause > 0:
                circuit.backoff_until = max(circuit.backoff_until or 0.0, now + effect.pause)
            if effect.counts:
                circuit.failures += 1
                # At the threshold, or a half-open probe failed, or the quota is gone.
                tripped = circuit.failures >= self.failure_threshold
                if effect.open_now or tripped or circuit.open_until is not None:
                    circuit.open_until = now + self.cooldown_seconds
                    circuit.probe_deadline = None
            return effect.pause

    def hold(self, tier: str, seconds: float) -> None:
        """Open the tier's circuit for ``seconds`` at once: the provider asked for a pause.

        Used for a rate limit whose ``Retry-After`` the call will not wait out: every other
        caller should skip the tier for that long too, instead of each hitting the limit.
        """
        if not seconds > 0:
            return
        with self._lock:
            circuit = self._tiers.setdefault(tier, _TierCircuit())
            until = self._clock.monotonic() + seconds
            circuit.open_until = max(circuit.open_until or until, until)
            circuit.probe_deadline = None

    def is_open(self, tier: str) -> bool:
        """Whether the tier should be skipped now.

        A rate-limit backoff skips the tier until it ends, for everyone. Once an outage
        cooldown has passed, the first call returns ``False`` (the caller is the probe) and
        later calls return ``True`` until the probe's outcome is recorded.
        """
        # Never failed, or closed again (the common case): no lock needed to say so.
        return tier in self._tiers and self._open_now(tier)

    def _open_now(self, tier: str) -> bool:
        with self._lock:
            circuit = self._tiers.get(tier)
            if circuit is None:
                return False
            now = self._clock.monotonic()
            if circuit.backoff_until is not None and now < circuit.backoff_until:
                return True
            if circuit.open_until is None:
                return False
            if now < circuit.open_until:
                return True
            if circuit.probe_deadline is not None and now < circuit.probe_deadline:
                return True
            circuit.probe_deadline = now + self.cooldown_seconds
            return False

    def cooldown_remaining(self, tier: str) -> float:
        """Seconds until the tier may be called (or probed) again; 0 when it may be now."""
        with self._lock:
            circuit = self._tiers.get(tier)
            if circuit is None:
                return 0.0
            until = max(circuit.open_until or 0.0, circuit.backoff_until or 0.0)
            return max(0.0, until - self._clock.monotonic())

    def state(self, tier: str) -> BreakerState:
        """The tier's state, for reporting (does not take the probe).

        ``"backoff"`` is a rate-limit pause of a tier whose circuit is otherwise closed.
        """
        with self._lock:
            circuit = self._tiers.get(tier)
            if circuit is None:
                return "closed"
            now = self._clock.monotonic()
            if circuit.open_until is not None:
                return "open" if now < circuit.open_until else "half_open"
            if circuit.backoff_until is not None and now < circuit.backoff_until:
                return "backoff"
            return "closed"
