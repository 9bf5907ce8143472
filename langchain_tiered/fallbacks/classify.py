"""Error classification: what kind of failure an exception is, whatever raised it.

:func:`classify_error` maps any exception to an :class:`ErrorInfo` whose
:class:`ErrorKind` says whether another attempt (same tier or another) can help.
langchain-core's taxonomy (``ModelError.is_retryable``) decides first; raw SDK errors
fall back to error-body codes, status codes and transport error types, duck-typed so
the Anthropic SDK and both ``httpx`` and ``httpx2`` work without imports.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from enum import Enum
from typing import Any

from langchain_core.exceptions import (
    ContextOverflowError,
    ModelError,
    ModelInvalidRequestError,
    ModelRefusalError,
)

__all__ = ["ErrorInfo", "ErrorKind", "classify_error", "parse_retry_after"]


class ErrorKind(str, Enum):
    """What a failure means for the next attempt."""

    RETRYABLE = "retryable"
    """Transient (rate limit, overload, 5xx, timeout, connection): retry or try another tier."""
    CONTEXT_OVERFLOW = "context_overflow"
    """The prompt is too long for this model: only a tier with a larger window can help."""
    REFUSAL = "refusal"
    """The model or its content filter declined: another model may answer."""
    FATAL = "fatal"
    """Auth, permission, unknown model, invalid request or a bug: no attempt will help."""


"""Refusals are opt-in: silently asking another model to do what one refused is a policy choice."""


@dataclass(frozen=True)
class ErrorInfo:
    """A secret-free summary of one failure, safe to log and to put in response metadata."""

    kind: ErrorKind
    """How the failure should be handled."""
    error_type: str
    """The exception's class name, e.g. ``"ModelRateLimitError"``."""
    status: int | None
    """The HTTP status, if the error carries one."""
    retry_after: float | None
    """Seconds the provider asked to wait (Retry-After / retry-after-ms), if it said."""
    message: str
    """The error text, redacted and truncated."""


# Provider error codes that identify a condition exactly, wherever in the body they appear.
_CONTEXT_CODES = frozenset({"context_length_exceeded", "string_above_max_length"})
_REFUSAL_CODES = frozenset({"content_filter", "content_policy_violation"})
# Known provider phrasings of a context overflow. Only consulted for invalid-request errors,
# because some providers (Anthropic, OpenAI-compatible gateways) send no machine-readable code.
_CONTEXT_PHRASES = (
    "prompt is too long",
    "context_length_exceeded",
    "maximum context length",
    "exceeds the context window",
    "input tokens exceed the configured limit",
    "contextwindowexceedederror",
)
_INVALID_REQUEST_STATUSES = frozenset({400, 413, 422})
_RETRYABLE_STATUSES = frozenset({408, 409, 425, 429})
# Transport failures, matched by class name within SDK packages so neither httpx, httpx2 nor
# any provider SDK has to be importable. Names cover base classes (NetworkError, TimeoutException).
_SDK_PACKAGES = frozenset({"httpx", "httpx2", "httpcore", "openai", "anthropic"})
_TRANSIENT_SDK_TYPES = frozenset(
    {"APITimeoutError", "APIConnectionError", "TimeoutException", "NetworkError"}
    | {"RemoteProtocolError"}  # httpx: a peer dropped the connection mid-response
)
_REFUSAL_SDK_TYPES = frozenset({"ContentFilterFinishReasonError"})
# Group 1 is kept (the "api_key=" prefix), the rest replaced.
_SECRET_PATTERNS = (
    re.compile(r"()sk-[A-Za-z0-9_-]{8,}"),
    re.compile(r"(Bearer\s+)\S+", re.IGNORECASE),
    re.compile(r"(api[_-]?key[\"']?\s*[:=]\s*[\"']?)[^\s\"',}]+", re.IGNORECASE),
)
_MAX_MESSAGE = 200


def classify_error(exc: BaseException) -> ErrorInfo:
    """Summarise a model-call failure and decide how it should be handled.

    Args:
        exc: Whatever the tier's model raised.

    Returns:
        The error's kind, class name, HTTP status, Retry-After and a redacted message.
    """
    status = _status_of(exc)
    return ErrorInfo(
        kind=_kind_of(exc, status),
        error_type=type(exc).__name__,
        status=status,
        retry_after=_retry_after_of(exc),
        message=_safe_message(exc),
    )


def _kind_of(exc: BaseException, status: int | None) -> ErrorKind:
    # Most specific evidence first: the taxonomy's exact types, then provider codes (which
    # correct ChatOpenAI's plain invalid-request error for context_length_exceeded and
    # content-filter 400s), then is_retryable, then raw status codes and transport types.
    for classify in (_by_exact_type, _kind_from_body, _by_model_error, _by_status):
        kind = classify(exc, status)
        if kind is not None:
            return kind
    names = _sdk_type_names(exc)
    if names & _REFUSAL_SDK_TYPES:
        return ErrorKind.REFUSAL
    transient = isinstance(exc, (TimeoutError, asyncio.TimeoutError, ConnectionError))
    if transient or names & _TRANSIENT_SDK_TYPES:
        return ErrorKind.RETRYABLE
    return ErrorKind.FATAL


def _by_exact_type(exc: BaseException, _status: int | None) -> ErrorKind | None:
    if isinstance(exc, ContextOverflowError):
        return ErrorKind.CONTEXT_OVERFLOW
    if isinstance(exc, ModelRefusalError):
        return ErrorKind.REFUSAL
    return None


def _by_model_error(exc: BaseException, _status: int | None) -> ErrorKind | None:
    if isinstance(exc, ModelError):
        return ErrorKind.RETRYABLE if exc.is_retryable else ErrorKind.FATAL
    return None


def _by_status(_exc: BaseException, status: int | None) -> ErrorKind | None:
    if status is None:
        return None
    # 408 timeout, 409 conflict, 425 too early, 429 rate limit; any 5xx incl. 529 overloaded.
    retryable = status in _RETRYABLE_STATUSES or status >= 500  # noqa: PLR2004
    return ErrorKind.RETRYABLE if retryable else ErrorKind.FATAL


def _kind_from_body(exc: BaseException, status: int | None) -> ErrorKind | None:
    body = _safe_getattr(exc, "body")
    codes = _body_codes(body)
    code_attr = _safe_getattr(exc, "code")
    if isinstance(code_attr, str):
        codes.add(code_attr.lower())
    if codes & _CONTEXT_CODES:
        return ErrorKind.CONTEXT_OVERFLOW
    if codes & _REFUSAL_CODES:
        return ErrorKind.REFUSAL
    invalid_request = (
        status in _INVALID_REQUEST_STATUSES
        or "invalid_request_error" in codes
        or isinstance(exc, ModelInvalidRequestError)
    )
    if invalid_request:
        text = " ".join([*_body_messages(body), str(exc)]).lower()
        if any(phrase in text for phrase in _CONTEXT_PHRASES):
            return ErrorKind.CONTEXT_OVERFLOW
    return None


def _error_dicts(body: object) -> list[Mapping[str, Any]]:
    # OpenAI's SDK passes body["error"]; others pass the whole body with a nested "error".
    if not isinstance(body, Mapping):
        return []
    nested = body.get("error")
    return [body, nested] if isinstance(nested, Mapping) else [body]


def _body_codes(body: object) -> set[str]:
    return {
        str(d[key]).lower()
        for d in _error_dicts(body)
        for key in ("code", "type")
        if isinstance(d.get(key), (str, int))
    }


def _body_messages(body: object) -> list[str]:
    return [str(d["message"]) for d in _error_dicts(body) if isinstance(d.get("message"), str)]


def _sdk_type_names(exc: BaseException) -> set[str]:
    return {
        cls.__name__
        for cls in type(exc).__mro__
        if cls.__module__.split(".", 1)[0] in _SDK_PACKAGES
    }


def _safe_getattr(obj: object, name: str) -> Any:
    # Some SDK properties raise instead of returning None (httpx's RequestError.request).
    try:
        return getattr(obj, name, None)
    except Exception:  # a broken attribute means "unknown", not a crash
        return None


def _status_of(exc: BaseException) -> int | None:
    for source in (exc, _safe_getattr(exc, "response")):
        status = _safe_getattr(source, "status_code") if source is not None else None
        if isinstance(status, int) and not isinstance(status, bool):
            return status
    return None


def _retry_after_of(exc: BaseException) -> float | None:
    headers = _safe_getattr(_safe_getattr(exc, "response"), "headers")
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


def _safe_message(exc: BaseException) -> str:
    text = " ".join((str(exc) or type(exc).__name__).split())
    # Redact before truncating so a cut can't leave a key too short for the patterns.
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(r"\1[REDACTED]", text)
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 3] + "..."
