"""Error classification: what kind of failure an exception is, whatever raised it.

:func:`classify_error` maps any exception to an :class:`ErrorInfo` whose
:class:`ErrorKind` says whether another attempt (same tier or another) can help and whose
:class:`ErrorCause` says why (rate limit, exhausted quota, overload, ...). Evidence is
weighed most specific first: langchain-core's exact types, provider codes in the error body
(:mod:`langchain_tiered.fallbacks.shapes`; they also cover errors sent inside an HTTP 200
stream, where the status says nothing), ``ModelError.is_retryable``, the HTTP status, then
transport error types, duck-typed so the Anthropic and OpenAI SDKs, Google's clients and
both ``httpx`` and ``httpx2`` work without imports. A wrapper that says nothing specific
(``ChatGoogleGenerativeAIError`` around a ``google.genai`` error) is classified by its
``__cause__``. :func:`response_failure` does the same for answers that arrived as
successes but are failures (refusals, ``finish_reason="error"``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from langchain_core.exceptions import (
    ContextOverflowError,
    ModelAPIError,
    ModelConnectionError,
    ModelError,
    ModelInvalidRequestError,
    ModelRateLimitError,
    ModelRefusalError,
    ModelTimeoutError,
)

from langchain_tiered._redact import redact
from langchain_tiered.fallbacks import shapes
from langchain_tiered.fallbacks.info import KIND_OF, ErrorCause, ErrorInfo, ErrorKind, StreamError
from langchain_tiered.fallbacks.retry_after import parse_retry_after, retry_after_of, safe_getattr

__all__ = [
    "ErrorCause",
    "ErrorInfo",
    "ErrorKind",
    "StreamError",
    "classify_error",
    "parse_retry_after",
    "response_failure",
]


_INVALID_REQUEST_STATUSES = frozenset({400, 413, 422})
_STATUS_CAUSES: dict[int, ErrorCause] = {
    402: ErrorCause.QUOTA,  # DeepSeek "Insufficient Balance", OpenRouter, Anthropic billing
    408: ErrorCause.TIMEOUT,
    409: ErrorCause.SERVER_ERROR,  # conflict: retry
    425: ErrorCause.SERVER_ERROR,  # too early: retry
    429: ErrorCause.RATE_LIMIT,
    503: ErrorCause.OVERLOADED,
    504: ErrorCause.TIMEOUT,
    529: ErrorCause.OVERLOADED,  # Anthropic
}
_HTTP_OK, _HTTP_ERRORS = 200, range(400, 600)
# Transport failures, matched by class name within SDK packages so neither httpx, httpx2 nor
# any provider SDK has to be importable. Names cover base classes (NetworkError, TimeoutException).
_SDK_PACKAGES = frozenset({"httpx", "httpx2", "httpcore", "openai", "anthropic", "google"})
_TIMEOUT_SDK_TYPES = frozenset({"APITimeoutError", "TimeoutException", "DeadlineExceeded"})
_CONNECTION_SDK_TYPES = frozenset(
    {"APIConnectionError", "NetworkError", "ServiceUnavailable"}
    | {"RemoteProtocolError"}  # httpx: a peer dropped the connection mid-response
)
_REFUSAL_SDK_TYPES = frozenset({"ContentFilterFinishReasonError"})
# (cause, codes) in order of precedence: a quota 429 is a quota problem, not a rate limit.
_CODE_TABLE: tuple[tuple[ErrorCause, frozenset[str]], ...] = (
    (ErrorCause.CONTEXT_OVERFLOW, shapes.CONTEXT_CODES),
    (ErrorCause.REFUSAL, shapes.REFUSAL_CODES),
    (ErrorCause.QUOTA, shapes.QUOTA_CODES),
    (ErrorCause.RATE_LIMIT, shapes.RATE_LIMIT_CODES),
    (ErrorCause.OVERLOADED, shapes.OVERLOAD_CODES),
    (ErrorCause.TIMEOUT, shapes.TIMEOUT_CODES),
    (ErrorCause.SERVER_ERROR, shapes.SERVER_ERROR_CODES),
)
_MODEL_ERROR_CAUSES: tuple[tuple[type[ModelError], ErrorCause], ...] = (
    (ModelRateLimitError, ErrorCause.RATE_LIMIT),
    (ModelTimeoutError, ErrorCause.TIMEOUT),
    (ModelConnectionError, ErrorCause.CONNECTION),
    (ModelAPIError, ErrorCause.SERVER_ERROR),
)
_MAX_MESSAGE = 200
_MAX_CAUSE_DEPTH = 4


def classify_error(exc: BaseException) -> ErrorInfo:
    """Summarise a model-call failure and decide how it should be handled.

    Args:
        exc: Whatever the tier's model raised.

    Returns:
        The error's kind and cause, class name, HTTP status, Retry-After and a redacted
        message.
    """
    status = _status_of(exc)
    cause = _cause_of(exc, status)
    return ErrorInfo(
        kind=KIND_OF.get(cause, ErrorKind.RETRYABLE),
        error_type=type(exc).__name__,
        status=status,
        retry_after=retry_after_of(exc),
        message=_safe_message(exc),
        cause=cause,
    )


def _cause_of(exc: BaseException, status: int | None, depth: int = 0) -> ErrorCause:
    # Most specific evidence first: the taxonomy's exact types, then provider codes (which
    # correct ChatOpenAI's plain invalid-request error for context_length_exceeded and
    # content-filter 400s, and place errors sent inside a 200 stream), then is_retryable,
    # then raw status codes and transport types.
    for classify in (_by_exact_type, _by_body, _by_model_error, _by_status, _by_sdk_type):
        cause = classify(exc, status)
        if cause is not None:
            return cause
    inner = exc.__cause__
    if inner is not None and depth < _MAX_CAUSE_DEPTH:  # a wrapper that says nothing itself
        return _cause_of(inner, _status_of(inner), depth + 1)
    return ErrorCause.REJECTED


def _by_exact_type(exc: BaseException, _status: int | None) -> ErrorCause | None:
    if isinstance(exc, ContextOverflowError):
        return ErrorCause.CONTEXT_OVERFLOW
    if isinstance(exc, ModelRefusalError):
        return ErrorCause.REFUSAL
    if isinstance(exc, StreamError):
        return exc.cause
    return None


def _by_model_error(exc: BaseException, _status: int | None) -> ErrorCause | None:
    if not isinstance(exc, ModelError):
        return None
    if not exc.is_retryable:
        return ErrorCause.REJECTED
    for cls, cause in _MODEL_ERROR_CAUSES:
        if isinstance(exc, cls):
            return cause
    return ErrorCause.TRANSIENT


def _by_status(_exc: BaseException, status: int | None) -> ErrorCause | None:
    # A 200 says nothing: the error arrived inside the body (an SSE error event).
    if status is None or status == _HTTP_OK:
        return None
    if status in _STATUS_CAUSES:
        return _STATUS_CAUSES[status]
    return ErrorCause.SERVER_ERROR if status >= 500 else ErrorCause.REJECTED  # noqa: PLR2004


def _by_sdk_type(exc: BaseException, _status: int | None) -> ErrorCause | None:
    names = _sdk_type_names(exc)
    if names & _REFUSAL_SDK_TYPES:
        return ErrorCause.REFUSAL
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)) or names & _TIMEOUT_SDK_TYPES:
        return ErrorCause.TIMEOUT
    if isinstance(exc, ConnectionError) or names & _CONNECTION_SDK_TYPES:
        return ErrorCause.CONNECTION
    return None


def _by_body(exc: BaseException, status: int | None) -> ErrorCause | None:
    body = safe_getattr(exc, "body")
    if body is None and exc.args and isinstance(exc.args[0], Mapping):
        body = exc.args[0]  # ChatOpenAI: ValueError(error object) for an error body on a 200
    codes = _body_codes(body) | _attribute_codes(exc)
    for cause, known in _CODE_TABLE:
        if codes & known:
            return cause
    invalid_request = (
        status in _INVALID_REQUEST_STATUSES
        or codes & shapes.INVALID_REQUEST_CODES
        or isinstance(exc, ModelInvalidRequestError)
    )
    if invalid_request:
        text = " ".join([*_body_messages(body), str(exc)]).lower()
        if any(phrase in text for phrase in shapes.CONTEXT_PHRASES):
            return ErrorCause.CONTEXT_OVERFLOW
        if any(phrase in text for phrase in shapes.QUOTA_PHRASES):
            return ErrorCause.QUOTA
    if status in (None, _HTTP_OK):  # an in-stream error body with only a numeric code
        numeric = _numeric_code(body)
        return _by_status(exc, numeric) if numeric is not None else None
    return None


def _attribute_codes(exc: BaseException) -> set[str]:
    # openai/anthropic errors: .code/.type; google.genai APIError: .status ("UNAVAILABLE").
    values = (safe_getattr(exc, name) for name in ("code", "type", "status"))
    return {v.lower() for v in values if isinstance(v, str)}


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
        for key in ("code", "type", "status")
        if isinstance(d.get(key), (str, int))
    }


def _numeric_code(body: object) -> int | None:
    # Mid-stream errors carry the HTTP status they stand for in error.code: an int from
    # OpenRouter and vLLM, a string ("500") from the LiteLLM proxy.
    for d in _error_dicts(body):
        code = d.get("code")
        if isinstance(code, str) and code.isdigit():
            code = int(code)
        if isinstance(code, int) and not isinstance(code, bool) and code in _HTTP_ERRORS:
            return code
    return None


def _body_messages(body: object) -> list[str]:
    return [str(d["message"]) for d in _error_dicts(body) if isinstance(d.get("message"), str)]


def _sdk_type_names(exc: BaseException) -> set[str]:
    return {
        cls.__name__
        for cls in type(exc).__mro__
        if cls.__module__.split(".", 1)[0] in _SDK_PACKAGES
    }


def _status_of(exc: BaseException) -> int | None:
    for source in (exc, safe_getattr(exc, "response")):
        status = safe_getattr(source, "status_code") if source is not None else None
        if isinstance(status, int) and not isinstance(status, bool):
            return status
    # google.genai / google.api_core errors carry the HTTP status as an int ``code``.
    code = safe_getattr(exc, "code")
    if isinstance(code, int) and not isinstance(code, bool) and code in _HTTP_ERRORS:
        return code
    return None


def response_failure(message: Any) -> BaseException | None:
    """The failure hidden in an answer that arrived as a success, if any.

    Providers report some failures as a normal response: a refusal (Anthropic
    ``stop_reason="refusal"``), a content or safety filter (``finish_reason`` of
    ``"content_filter"``, Google's ``"SAFETY"``), or an upstream error
    (``finish_reason="error"``, sent by OpenRouter mid-stream). A truncated answer
    (``"length"``/``"max_tokens"``) is not a failure: it is what the output cap asked for.

    Args:
        message: An ``AIMessage`` or a stream chunk.

    Returns:
        A ``ModelRefusalError`` or :class:`StreamError` to raise or classify, or ``None``.
    """
    meta = safe_getattr(message, "response_metadata")
    if not isinstance(meta, Mapping):
        return None
    reason = meta.get("finish_reason") or meta.get("stop_reason")
    if not isinstance(reason, str):
        return None
    lowered = reason.lower()
    if lowered in shapes.REFUSAL_FINISH_REASONS:
        text = f"the model's answer was withheld (finish reason {reason!r})"
        return ModelRefusalError(text, raw_message=message)
    if lowered == "error":
        text = "the provider ended the stream with finish_reason 'error'"
        return StreamError(text, cause=ErrorCause.SERVER_ERROR, finish_reason=reason)
    return None


def _safe_message(exc: BaseException) -> str:
    # Redact before truncating so a cut can't leave a key too short for the patterns.
    text = redact(" ".join((str(exc) or type(exc).__name__).split()))
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 3] + "..."
