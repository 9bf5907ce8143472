"""Failure handling: classify errors, pace retries, cool failing tiers down, order fallbacks.

Everything here is pure or owns only its own small, locked state, so the chat model
can wire it in without this module knowing about tiers' models:

* :func:`classify_error` maps any exception to an :class:`ErrorInfo` whose
  :class:`ErrorKind` says whether another attempt (same tier or another) can help.
  langchain-core's taxonomy (``ModelError.is_retryable``) decides first; raw SDK
  errors fall back to status codes and transport error types, duck-typed so the
  Anthropic SDK and both ``httpx`` and ``httpx2`` work without imports.
* :class:`RetryPolicy` computes full-jitter exponential backoff honouring Retry-After.
* :class:`CircuitBreaker` keeps a failing tier out of rotation for a cooldown.
* :func:`fallback_order` lists the tiers to try after the routed one.
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from langchain_tiered._clock import Clock, SystemClock
from langchain_tiered.fallbacks.classify import (
    ErrorInfo,
    ErrorKind,
    classify_error,
    parse_retry_after,
)

FallbackOn = frozenset[ErrorKind]
DEFAULT_FALLBACK_ON: FallbackOn = frozenset({ErrorKind.RETRYABLE, ErrorKind.CONTEXT_OVERFLOW})
"""Fall back on retryable errors and context overflows; refusals only when configured."""

__all__ = [
    "DEFAULT_FALLBACK_ON",
    "CircuitBreaker",
    "ErrorInfo",
    "ErrorKind",
    "FallbackOn",
    "RetryPolicy",
    "classify_error",
    "fallback_order",
    "parse_retry_after",
]


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry one tier before falling back.

    Backoff is exponential with optional full jitter (AWS's recommendation: it spreads
    retrying clients best). ``retry_number`` counts retries from 1, so retry ``n`` waits up
    to ``min(max_delay, base_delay * 2 ** (n - 1))``.

    A provider's Retry-After is honoured as a lower bound. When it asks for more than
    ``max_delay``, :meth:`delay` returns ``math.inf``: waiting that long on a busy tier is
    worse than falling back to the next one, which is what the caller should do.
    """

    max_attempts: int = 2
    """Attempts per tier, including the first (1 means no retry)."""
    base_delay: float = 0.5
    """Ceiling of the first retry's delay, in seconds."""
    max_delay: float = 20.0
    """Largest single wait; a longer Retry-After means "fall back instead"."""
    max_total_seconds: float = 60.0
    """Time budget for one call across its retries, waits included."""
    jitter: bool = True
    """Full jitter: draw each delay uniformly from ``[0, ceiling]``."""

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            msg = f"max_attempts must be at least 1 (1 means no retry), got {self.max_attempts}"
            raise ValueError(msg)
        for name in ("base_delay", "max_delay", "max_total_seconds"):
            if not getattr(self, name) >= 0:
                msg = f"{name} must be a non-negative number of seconds"
                raise ValueError(msg)

    def delay(
        self, retry_number: int, retry_after: float | None, rng: random.Random | None = None
    ) -> float:
        """Seconds to wait before retry number ``retry_number`` (1 for the first retry).

        Args:
            retry_number: Which retry this is, counting from 1.
            retry_after: The provider's Retry-After in seconds, if any.
            rng: Source of jitter; pass a seeded one for reproducible delays.

        Returns:
            The delay, at least ``retry_after``; ``math.inf`` when ``retry_after`` exceeds
            ``max_delay`` (fall back instead of waiting).
        """
        if retry_after is not None and retry_after > self.max_delay:
            return math.inf
        exponent = max(0, retry_number - 1)
        # Cap the exponent so huge retry numbers can't overflow the float.
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** min(exponent, 1023))
        rng = rng or random.Random()  # noqa: S311 - jitter needs no cryptographic randomness
        backoff = rng.uniform(0.0, ceiling) if self.jitter else ceiling
        return max(backoff, retry_after or 0.0)

    def next_delay(
        self,
        attempts_made: int,
        *,
        elapsed: float,
        retry_after: float | None = None,
        rng: random.Random | None = None,
    ) -> float | None:
        """Decide whether to retry the same tier, and after how long.

        Args:
            attempts_made: Attempts already made on this tier (1 after the first failure).
            elapsed: Seconds spent on this call so far, including earlier waits.
            retry_after: The provider's Retry-After in seconds, if any.
            rng: Source of jitter.

        Returns:
            The seconds to wait before the next attempt, or ``None`` when the caller should
            stop retrying this tier (attempts used up, Retry-After too long, or the wait
            would overrun ``max_total_seconds``).
        """
        if attempts_made >= self.max_attempts:
            return None
        wait = self.delay(attempts_made, retry_after, rng)
        if math.isinf(wait) or elapsed + wait > self.max_total_seconds:
            return None
        return wait


@dataclass
class _TierCircuit:
    failures: int = 0
    open_until: float | None = None
    probe_deadline: float | None = None


class CircuitBreaker:
    """Per-tier cooldown after repeated transient failures (thread-safe).

    After ``failure_threshold`` consecutive failures a tier is *open* for
    ``cooldown_seconds``. Then it is *half-open*: :meth:`is_open` lets exactly one caller
    through as a probe; its success closes the circuit, its failure reopens it. A probe
    whose outcome is never recorded (its caller crashed, or failed fatally and did not
    report) expires after another cooldown, so a tier can never stay stuck open.

    Args:
        failure_threshold: Consecutive failures that open the circuit.
        cooldown_seconds: How long an open tier is skipped.
        clock: Time source (defaults to the system clock).
    """

    def __init__(
        self,
        *,
        failure_threshold: int = 3,
        cooldown_seconds: float = 30.0,
        clock: Clock | None = None,
    ) -> None:
        if failure_threshold < 1:
            msg = f"failure_threshold must be at least 1, got {failure_threshold}"
            raise ValueError(msg)
        if not cooldown_seconds >= 0:
            msg = f"cooldown_seconds must be non-negative, got {cooldown_seconds}"
            raise ValueError(msg)
        self.failure_threshold = failure_threshold
        self.cooldown_seconds = cooldown_seconds
        self._clock: Clock = clock or SystemClock()
        self._lock = threading.Lock()
        self._tiers: dict[str, _TierCircuit] = {}

    def record_success(self, tier: str) -> None:
        """Close the tier's circuit and forget its failures."""
        with self._lock:
            self._tiers.pop(tier, None)

    def record_failure(self, tier: str) -> None:
        """Count a transient failure; open the circuit at the threshold or on a failed probe."""
        with self._lock:
            circuit = self._tiers.setdefault(tier, _TierCircuit())
            circuit.failures += 1
            if circuit.failures >= self.failure_threshold or circuit.open_until is not None:
                circuit.open_until = self._clock.monotonic() + self.cooldown_seconds
                circuit.probe_deadline = None

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

        Once the cooldown has passed, the first call returns ``False`` (the caller is the
        probe) and later calls return ``True`` until the probe's outcome is recorded.
        """
        with self._lock:
            circuit = self._tiers.get(tier)
            if circuit is None or circuit.open_until is None:
                return False
            now = self._clock.monotonic()
            if now < circuit.open_until:
                return True
            if circuit.probe_deadline is not None and now < circuit.probe_deadline:
                return True
            circuit.probe_deadline = now + self.cooldown_seconds
            return False

    def cooldown_remaining(self, tier: str) -> float:
        """Seconds until the tier may be probed again (0 when closed or half-open)."""
        with self._lock:
            circuit = self._tiers.get(tier)
            if circuit is None or circuit.open_until is None:
                return 0.0
            return max(0.0, circuit.open_until - self._clock.monotonic())

    def state(self, tier: str) -> Literal["closed", "open", "half_open"]:
        """The tier's circuit state, for reporting (does not take the probe)."""
        with self._lock:
            circuit = self._tiers.get(tier)
            if circuit is None or circuit.open_until is None:
                return "closed"
            return "open" if self._clock.monotonic() < circuit.open_until else "half_open"


def fallback_order(
    tier_names: Sequence[str],
    routed: str,
    *,
    allow_upgrade: bool = True,
    overrides: Mapping[str, Sequence[str]] | None = None,
) -> list[str]:
    """The tiers to try for one call, in order, starting with the routed one.

    By default the routed tier is followed by the cheaper tiers (later in ``tier_names``,
    nearest first), then, if ``allow_upgrade``, the more capable ones (earlier, nearest
    first): a cheaper model is usually the cheaper way around an outage.

    Args:
        tier_names: All tier names, most capable first.
        routed: The tier the router chose.
        allow_upgrade: Whether to fall back to more expensive tiers at all.
        overrides: ``overrides[routed]`` replaces the default order after the routed tier.
            It is explicit configuration, so ``allow_upgrade`` does not filter it.

    Returns:
        Distinct tier names, ``routed`` first.

    Raises:
        ValueError: If ``routed`` or an override names an unknown tier.
    """
    known = list(tier_names)
    _check_known(known, [routed], "routed tier")
    index = known.index(routed)
    if overrides is not None and routed in overrides:
        rest: Iterable[str] = overrides[routed]
        _check_known(known, rest, f"overrides[{routed!r}]")
    else:
        rest = known[index + 1 :] + (known[:index][::-1] if allow_upgrade else [])
    order = [routed]
    for name in rest:
        if name not in order:
            order.append(name)
    return order


def _check_known(known: Sequence[str], names: Iterable[str], where: str) -> None:
    unknown = [n for n in names if n not in known]
    if unknown:
        msg = f"{where} names unknown tier(s) {unknown}; known tiers: {list(known)}"
        raise ValueError(msg)
