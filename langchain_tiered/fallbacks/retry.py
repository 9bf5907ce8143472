"""Retry pacing: full-jitter exponential backoff that honours Retry-After."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

__all__ = ["RetryPolicy"]


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
    rate_limit_backoff: float = 1.0
    """Seconds a tier backs off after a 429 without Retry-After; doubles with each 429 in a
    row (the tier is skipped meanwhile; a retry of the same tier waits it out)."""
    rate_limit_max_backoff: float = 8.0
    """Ceiling of that doubling back-off, in seconds."""

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            msg = f"max_attempts must be at least 1 (1 means no retry), got {self.max_attempts}"
            raise ValueError(msg)
        for name in ("base_delay", "max_delay", "max_total_seconds"):
            if not getattr(self, name) >= 0:
                msg = f"{name} must be a non-negative number of seconds"
                raise ValueError(msg)
        for name in ("rate_limit_backoff", "rate_limit_max_backoff"):
            if not 0 <= getattr(self, name) < math.inf:
                msg = f"{name} must be a finite, non-negative number of seconds"
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
