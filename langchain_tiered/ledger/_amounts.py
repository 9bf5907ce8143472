"""Units every ledger shares: UTC instants, wall-clock seconds, nano-dollar amounts.

Amounts are integer nano-dollars inside every ledger: reservations round up, settled actuals
to nearest and limits down (see :mod:`.base`). Kept apart from the ledger contract in
:mod:`.base`, which re-exports these names.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import datetime, timezone
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from functools import lru_cache

from langchain_tiered._clock import Clock, SystemClock

__all__ = [
    "actual_nanos",
    "as_utc",
    "expiry",
    "limit_nanos",
    "reserve_nanos",
    "to_usd",
    "wall_seconds",
]

_NANOS_PER_USD = Decimal(1_000_000_000)


def as_utc(value: datetime) -> datetime:
    """Return ``value`` as timezone-aware UTC, taking naive datetimes to be UTC already."""
    tz = value.tzinfo
    if tz is timezone.utc:
        return value  # the common case (every clock's now()), without a new object
    if tz is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def wall_seconds(clock: Clock) -> Callable[[], float]:
    """A function returning ``clock.now()`` as epoch seconds (reservation expiry times).

    The system clock's is :func:`time.time` itself: ``datetime.now(timezone.utc)
    .timestamp()`` reads the same clock but cost ~1.5 us on every reservation.
    """
    if type(clock) is SystemClock:  # a subclass may move now(): ask it
        return time.time
    return lambda: clock.now().timestamp()


# Below $1,000, usd * 1e9 in floats is within 2.3e-4 nano-dollars of the exact product of
# the amount's shortest decimal (two roundings of at most 2**-53 relative each, on at most
# 1e12). A product whose fraction is farther than _MARGIN from a whole number and from one
# half therefore rounds (up, down or to nearest) exactly as the decimal would.
_FAST_BELOW_USD = 1_000.0
_MARGIN = 1e-3


def _to_nanos(usd: float, what: str, rounding: str) -> int:
    # Worst cases and actual costs differ from call to call, so the exact decimal path
    # (~3.5 us) would run on almost every call: take it only near a rounding boundary.
    if 0.0 <= usd < _FAST_BELOW_USD:  # False for NaN and infinities
        scaled = usd * 1e9
        whole = int(scaled)
        frac = scaled - whole  # exact (Sterbenz): whole <= scaled < whole + 1
        if _MARGIN < frac < 1.0 - _MARGIN and abs(frac - 0.5) > _MARGIN:
            if rounding == ROUND_CEILING:
                return whole + 1
            if rounding == ROUND_FLOOR:
                return whole
            return whole + 1 if frac > 0.5 else whole  # noqa: PLR2004 - one half
    return _exact_nanos(usd, what, rounding)


@lru_cache(maxsize=1024)  # pure; limits and the same worst cases repeat on every call
def _exact_nanos(usd: float, what: str, rounding: str) -> int:
    if not math.isfinite(usd) or usd < 0:
        msg = f"{what} must be a finite amount >= 0 USD, got {usd!r}"
        raise ValueError(msg)
    # repr() gives the shortest decimal that round-trips, so 0.1 is exactly 0.1 here
    # rather than 0.1000000000000000055..., which a plain ceil(usd * 1e9) would bump up.
    return int((Decimal(repr(float(usd))) * _NANOS_PER_USD).to_integral_value(rounding))


def reserve_nanos(usd: float) -> int:
    """Nano-dollars for a reservation, rounded up so the hold never understates the cost."""
    return _to_nanos(usd, "amount_usd", ROUND_CEILING)


def actual_nanos(usd: float) -> int:
    """Nano-dollars for a settled actual cost, rounded to nearest."""
    return _to_nanos(usd, "actual_usd", ROUND_HALF_EVEN)


def limit_nanos(usd: float) -> int:
    """Nano-dollars for a limit, rounded down so rounding never grants extra room."""
    return _to_nanos(usd, "limit", ROUND_FLOOR)


def expiry(now: float, ttl_seconds: float) -> float:
    """Epoch seconds at which a reservation made at ``now`` stops holding room."""
    if not math.isfinite(ttl_seconds) or ttl_seconds <= 0:
        msg = f"ttl_seconds must be a finite number of seconds > 0, got {ttl_seconds!r}"
        raise ValueError(msg)
    return now + ttl_seconds


def to_usd(nanos: int) -> float:
    """Convert nano-dollars back to USD."""
    return nanos / 1_000_000_000
