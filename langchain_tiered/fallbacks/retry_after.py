"""Reading how long a provider asked to wait: ``Retry-After`` and ``retry-after-ms``."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

__all__ = ["parse_retry_after", "retry_after_of"]


def safe_getattr(obj: object, name: str) -> Any:
    """``getattr(obj, name, None)``, also ``None`` when the attribute raises.

    Some SDK properties raise instead of returning None (httpx's ``RequestError.request``).
    """
    try:
        return getattr(obj, name, None)
    except Exception:  # a broken attribute means "unknown", not a crash
        return None


def retry_after_of(exc: BaseException) -> float | None:
    """The Retry-After of an SDK error's HTTP response, if it has one."""
    headers = safe_getattr(safe_getattr(exc, "response"), "headers")
    if not isinstance(headers, Mapping):
        return None
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    return parse_retry_after(lowered)


def parse_retry_after(headers: Mapping[str, str], *, now: datetime | None = None) -> float | None:
    """Read how long a provider asked to wait from response headers.

    ``retry-after-ms`` (OpenAI, Anthropic) wins over ``retry-after`` because it is more
    precise; ``retry-after`` may be seconds or an HTTP date.

    Args:
        headers: Response headers with lower-case names.
        now: The current UTC time, for HTTP dates (defaults to the system clock).

    Returns:
        Seconds to wait (never negative), or ``None`` when absent or unparseable.
    """
    millis = _parse_float(headers.get("retry-after-ms"))
    if millis is not None:
        return max(0.0, millis / 1000.0)
    raw = headers.get("retry-after")
    if raw is None:
        return None
    seconds = _parse_float(raw)
    if seconds is not None:
        return max(0.0, seconds)
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    current = now or datetime.now(timezone.utc)
    return max(0.0, (when - current).total_seconds())


def _parse_float(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        value = float(raw.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None
