"""Failure shapes without a server: Google's errors, wrappers, codes on 200, and the breaker.

Google's clients are not installed here, so their errors are replayed as duck-typed stand-ins
with the attributes and module names ``google.genai.errors.APIError`` and
``google.api_core.exceptions`` carry (``code`` = HTTP status, ``status`` = gRPC name); the
wrapper ``langchain-google-genai`` raises around them is classified through ``__cause__``.
"""

from __future__ import annotations

from typing import Any, cast

import pytest
from langchain_core.exceptions import ModelRefusalError
from langchain_core.messages import AIMessage, AIMessageChunk

from langchain_tiered.fallbacks import (
    CircuitBreaker,
    Cooldowns,
    ErrorCause,
    ErrorInfo,
    ErrorKind,
    StreamError,
    classify_error,
    failure_effect,
    response_failure,
)
from langchain_tiered.testing import FakeClock

R, REF, F = ErrorKind.RETRYABLE, ErrorKind.REFUSAL, ErrorKind.FATAL


def google_error(code: int, status: str, message: str = "") -> Exception:
    """A stand-in for ``google.genai.errors.APIError`` (same attributes, same module)."""
    cls = type("APIError", (Exception,), {"__module__": "google.genai.errors"})
    exc: Any = cls(f"{code} {status}. {message}")
    exc.code = code
    exc.status = status
    exc.details = {"error": {"code": code, "status": status, "message": message}}
    return cast("Exception", exc)


def wrapped(inner: Exception) -> Exception:
    """What langchain-google-genai raises: its own error, ``from`` the client's."""
    cls = type(
        "ChatGoogleGenerativeAIError", (Exception,), {"__module__": "langchain_google_genai"}
    )
    try:
        raise cls(f"Error calling model: {inner}") from inner
    except Exception as exc:
        return exc


@pytest.mark.parametrize(
    ("code", "status", "cause"),
    [
        (429, "RESOURCE_EXHAUSTED", ErrorCause.RATE_LIMIT),
        (503, "UNAVAILABLE", ErrorCause.OVERLOADED),
        (500, "INTERNAL", ErrorCause.SERVER_ERROR),
        (504, "DEADLINE_EXCEEDED", ErrorCause.TIMEOUT),
    ],
)
def test_google_transient_errors_direct_and_wrapped(
    code: int, status: str, cause: ErrorCause
) -> None:
    for exc in (google_error(code, status), wrapped(google_error(code, status))):
        info = classify_error(exc)
        assert (info.kind, info.cause) == (R, cause), exc


def test_google_invalid_argument_overflow_and_fatal_errors() -> None:
    overflow = google_error(
        400,
        "INVALID_ARGUMENT",
        "The input token count (1048577) exceeds the maximum number of tokens allowed (1048576).",
    )
    assert classify_error(overflow).kind is ErrorKind.CONTEXT_OVERFLOW
    assert classify_error(google_error(400, "INVALID_ARGUMENT", "bad schema")).kind is F
    assert classify_error(wrapped(google_error(403, "PERMISSION_DENIED"))).kind is F


def test_api_core_style_error_by_class_name() -> None:
    # google.api_core.exceptions.ServiceUnavailable: code is the HTTP status.
    cls = type("ServiceUnavailable", (Exception,), {"__module__": "google.api_core.exceptions"})
    exc: Any = cls("503 The service is currently unavailable.")
    exc.code = 503
    assert classify_error(exc).cause is ErrorCause.OVERLOADED


def test_wrapper_with_nothing_underneath_stays_fatal() -> None:
    assert classify_error(RuntimeError("bug")).kind is F
    outer = ValueError("outer")
    outer.__cause__ = KeyError("inner")
    assert classify_error(outer).kind is F


def test_openrouter_numeric_code_inside_a_200_stream() -> None:
    # OpenAI SDK: APIError(body=data["error"]) without a status; OpenRouter puts the upstream
    # status in error.code.
    cls = type("APIError", (Exception,), {"__module__": "openai"})
    exc: Any = cls("Provider returned error")
    exc.body = {"code": 502, "message": "Provider returned error"}
    info = classify_error(exc)
    assert (info.kind, info.cause, info.status) == (R, ErrorCause.SERVER_ERROR, None)
    exc.body = {"code": 401, "message": "No auth credentials found"}
    assert classify_error(exc).kind is F


def test_error_object_on_a_200_json_body() -> None:
    # langchain-openai raises ValueError(response["error"]) for a 200 carrying an error object.
    exc = ValueError({"message": "The server had an error", "type": "server_error"})
    assert classify_error(exc).cause is ErrorCause.SERVER_ERROR
    quota = ValueError({"message": "quota", "code": "insufficient_quota"})
    assert classify_error(quota).cause is ErrorCause.QUOTA
    assert classify_error(ValueError("plain text")).kind is F


def test_quota_falls_back_without_retrying_the_same_tier() -> None:
    info = classify_error(ValueError({"code": "insufficient_quota"}))
    assert info.kind is R  # another tier (another provider account) can answer
    assert not info.retry_same_tier  # waiting will not refill the account
    assert classify_error(ValueError({"type": "billing_error"})).cause is ErrorCause.QUOTA


def test_stream_error_round_trips_its_cause() -> None:
    exc = StreamError("upstream", cause=ErrorCause.OVERLOADED, finish_reason="error")
    assert classify_error(exc).cause is ErrorCause.OVERLOADED


# -- answers that are failures ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("meta", "expected"),
    [
        ({"stop_reason": "refusal"}, ModelRefusalError),  # Anthropic
        ({"finish_reason": "content_filter"}, ModelRefusalError),  # OpenAI, DeepSeek
        ({"finish_reason": "SAFETY"}, ModelRefusalError),  # Google safety block
        ({"finish_reason": "PROHIBITED_CONTENT"}, ModelRefusalError),
        ({"finish_reason": "error"}, StreamError),  # OpenRouter mid-stream
        ({"finish_reason": "length"}, None),
        ({"stop_reason": "max_tokens"}, None),
        ({"finish_reason": "STOP"}, None),
        ({}, None),
    ],
)
def test_response_failure(meta: dict[str, Any], expected: type | None) -> None:
    answer = AIMessage(content="", response_metadata=meta)
    for message in (answer, AIMessageChunk(content="", response_metadata=meta)):
        found = response_failure(message)
        if expected is None:
            assert found is None
        else:
            assert isinstance(found, expected)


# -- rate limits versus outages ---------------------------------------------------------------


def info_of(cause: ErrorCause, retry_after: float | None = None) -> ErrorInfo:
    return ErrorInfo(R, "X", 429, retry_after, "x", cause)


def test_failure_effect_rules() -> None:
    limited = info_of(ErrorCause.RATE_LIMIT)
    pauses = [failure_effect(limited, n, base=1.0, ceiling=8.0).pause for n in range(1, 7)]
    assert pauses == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert not failure_effect(limited, 1, base=1.0, ceiling=8.0).counts
    told = failure_effect(info_of(ErrorCause.RATE_LIMIT, 5.0), 1, base=1.0, ceiling=8.0)
    assert (told.counts, told.pause) == (False, 0.0)  # the engine holds for Retry-After
    quota = failure_effect(info_of(ErrorCause.QUOTA), 0, base=1.0, ceiling=8.0)
    assert (quota.counts, quota.open_now) == (True, True)
    outage = failure_effect(info_of(ErrorCause.SERVER_ERROR), 0, base=1.0, ceiling=8.0)
    assert (outage.counts, outage.open_now, outage.pause) == (True, False, 0.0)
    assert failure_effect(None, 0, base=1.0, ceiling=8.0) == outage


def test_burst_of_429s_without_retry_after_never_trips_the_outage_breaker() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=3, cooldown_seconds=30.0, clock=clock)
    limited = info_of(ErrorCause.RATE_LIMIT)
    pauses = []
    for _ in range(50):
        pauses.append(breaker.record_failure("t", limited))
        assert breaker.state("t") == "backoff"
        assert breaker.cooldown_remaining("t") <= 8.0  # seconds, never the 30 s cooldown
    assert pauses[:5] == [1.0, 2.0, 4.0, 8.0, 8.0]
    assert breaker.is_open("t")  # skipped during the pause, by everyone
    clock.advance(8.0)
    assert not breaker.is_open("t")
    assert not breaker.is_open("t")  # no probe dance: a backoff is not an open circuit
    breaker.record_success("t")
    assert breaker.record_failure("t", limited) == 1.0  # the streak starts over


def test_outages_still_open_the_breaker_after_429s() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=3, cooldown_seconds=30.0, clock=clock)
    breaker.record_failure("t", info_of(ErrorCause.RATE_LIMIT))
    for _ in range(3):
        assert breaker.record_failure("t", info_of(ErrorCause.SERVER_ERROR)) == 0.0
    assert breaker.state("t") == "open"
    assert breaker.cooldown_remaining("t") == 30.0


def test_exhausted_quota_opens_the_breaker_at_once() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=3, cooldown_seconds=30.0, clock=clock)
    breaker.record_failure("t", info_of(ErrorCause.QUOTA))
    assert breaker.state("t") == "open"
    assert breaker.cooldown_remaining("t") == 30.0


@pytest.mark.parametrize(
    "kwargs", [{"rate_limit_backoff": -1.0}, {"rate_limit_max_backoff": float("inf")}]
)
def test_breaker_validates_backoff(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        CircuitBreaker(**kwargs)


def test_circuit_breaker_satisfies_the_cooldowns_protocol() -> None:
    assert isinstance(CircuitBreaker(), Cooldowns)


@pytest.mark.parametrize(
    ("body", "kind", "cause"),
    [
        # vLLM: {"object": "error", "type": "InternalServerError", "code": 500}
        (
            {"object": "error", "message": "boom", "type": "InternalServerError", "code": 500},
            R,
            ErrorCause.SERVER_ERROR,
        ),
        (
            {"object": "error", "message": "bad", "type": "BadRequestError", "code": 400},
            F,
            ErrorCause.REJECTED,
        ),
        # LiteLLM proxy: every field a string
        (
            {"message": "upstream 503", "type": "None", "param": "None", "code": "503"},
            R,
            ErrorCause.OVERLOADED,
        ),
        (
            {"message": "limit", "type": "None", "param": "None", "code": "429"},
            R,
            ErrorCause.RATE_LIMIT,
        ),
    ],
)
def test_in_stream_error_objects_of_self_hosted_servers(
    body: dict[str, Any], kind: ErrorKind, cause: ErrorCause
) -> None:
    cls = type("APIError", (Exception,), {"__module__": "openai"})
    exc: Any = cls(body["message"])
    exc.body = body  # the openai SDK passes data["error"] of the SSE event
    info = classify_error(exc)
    assert (info.kind, info.cause) == (kind, cause)


def test_empty_accounts_in_each_providers_shape_fall_back_without_retry() -> None:
    import anthropic
    import httpx2
    import openai

    request = httpx2.Request("POST", "https://api.example/v1/messages")

    def response(status: int) -> httpx2.Response:
        return httpx2.Response(status, request=request)

    low_credit = {
        "type": "error",
        "error": {
            "type": "invalid_request_error",
            "message": "Your credit balance is too low to access the Anthropic API.",
        },
    }
    shapes = [
        anthropic.BadRequestError("credit", response=response(400), body=low_credit),
        # DeepSeek: HTTP 402 {"error": {"message": "Insufficient Balance", ...}}
        openai.APIStatusError(
            "Insufficient Balance",
            response=response(402),
            body={"message": "Insufficient Balance", "type": "unknown_error"},
        ),
    ]
    for exc in shapes:
        info = classify_error(exc)
        assert (info.kind, info.cause, info.retry_same_tier) == (R, ErrorCause.QUOTA, False)
    bad = anthropic.BadRequestError("bad", response=response(400), body={"error": {}})
    assert classify_error(bad).kind is F  # other 400s stay fatal
