"""Tests for error classification, retry policy, circuit breaker and fallback order."""

from __future__ import annotations

import asyncio
import math
import random
import threading
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import httpx
import httpx2
import openai
import pytest
from langchain_core import exceptions as lc
from langchain_openai.chat_models import base as lc_openai

from langchain_tiered.fallbacks import (
    DEFAULT_FALLBACK_ON,
    CircuitBreaker,
    ErrorInfo,
    ErrorKind,
    RetryPolicy,
    classify_error,
    fallback_order,
    parse_retry_after,
)
from langchain_tiered.testing import FakeClock

R, C, REF, F = (
    ErrorKind.RETRYABLE,
    ErrorKind.CONTEXT_OVERFLOW,
    ErrorKind.REFUSAL,
    ErrorKind.FATAL,
)
URL = "https://api.example.test/v1/chat/completions"


def _response(status: int, headers: dict[str, str] | None = None) -> httpx2.Response:
    return httpx2.Response(status, headers=headers, request=httpx2.Request("POST", URL))


def _status_error(
    cls: type[openai.APIStatusError],
    status: int,
    body: object = None,
    headers: dict[str, str] | None = None,
    message: str = "Error",
) -> openai.APIStatusError:
    return cls(message, response=_response(status, headers), body=body)


# --- langchain-core taxonomy -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (lc.ModelRateLimitError("slow down"), R),
        (lc.ModelAPIError("boom"), R),
        (lc.ModelConnectionError("no route"), R),
        (lc.ModelTimeoutError("timeout"), R),
        (lc.ContextOverflowError("too long"), C),
        (lc.ModelRefusalError(), REF),
        (lc.ModelAuthenticationError("bad key"), F),
        (lc.ModelPermissionDeniedError("nope"), F),
        (lc.ModelInvalidRequestError("bad"), F),
        (lc.ModelNotFoundError("no model"), F),
        (lc.ModelError("generic"), F),
        (lc.OutputParserException("unparseable"), F),
        (lc.LangChainException("other"), F),
        (lc.TracerException("tracer"), F),
    ],
)
def test_langchain_core_taxonomy(exc: BaseException, kind: ErrorKind) -> None:
    info = classify_error(exc)
    assert info.kind is kind
    assert info.error_type == type(exc).__name__


def test_every_model_error_class_is_covered() -> None:
    """A new langchain-core ModelError subclass must land where its data says."""
    special = {lc.ContextOverflowError: C, lc.ModelRefusalError: REF}
    for cls in lc.ModelError.__subclasses__():
        exc = cls() if cls is lc.ModelRefusalError else cls("x")
        expected = special.get(cls, R if cls.is_retryable else F)
        assert classify_error(exc).kind is expected, cls


def test_retryable_custom_model_error_follows_is_retryable() -> None:
    class Overloaded(lc.ModelError):
        is_retryable = True

    assert classify_error(Overloaded("busy")).kind is R


# --- langchain-openai converted errors -------------------------------------------------------


def test_chat_openai_converted_errors() -> None:
    rate = lc_openai.OpenAIRateLimitError(
        "rate", response=_response(429, {"retry-after": "3"}), body=None
    )
    info = classify_error(rate)
    assert (info.kind, info.status, info.retry_after) == (R, 429, 3.0)
    auth = lc_openai.OpenAIAuthenticationError("auth", response=_response(401), body=None)
    assert classify_error(auth).kind is F


def test_chat_openai_invalid_request_with_context_code_is_overflow() -> None:
    """The known issue: ChatOpenAI raises an invalid-request error for context overflow."""
    body = {"message": "Your input is too long.", "type": "invalid_request_error"}
    body["code"] = "context_length_exceeded"
    exc = lc_openai.OpenAIInvalidRequestError("Error code: 400", response=_response(400), body=body)
    assert isinstance(exc, lc.ModelInvalidRequestError)
    assert classify_error(exc).kind is C


def test_chat_openai_error_mapping_end_to_end() -> None:
    """Run langchain-openai's own mapping, then classify what it raised."""
    body = {"code": "context_length_exceeded", "message": "Input is too long for this model."}
    raw = openai.BadRequestError("Error code: 400", response=_response(400), body=body)
    with pytest.raises(lc.ModelInvalidRequestError) as mapped:
        lc_openai._handle_openai_bad_request(raw)
    assert classify_error(mapped.value).kind is C


def test_anthropic_style_transport_error_by_name() -> None:
    class APITimeoutError(Exception):
        __module__ = "anthropic._exceptions"

    class NotOursError(Exception):
        __module__ = "myapp.errors"

    NotOursError.__name__ = "APITimeoutError"
    assert classify_error(APITimeoutError("timed out")).kind is R
    assert classify_error(NotOursError("timed out")).kind is F


# --- raw openai SDK errors -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "status", "kind"),
    [
        (openai.RateLimitError, 429, R),
        (openai.InternalServerError, 500, R),
        (openai.InternalServerError, 503, R),
        (openai.InternalServerError, 529, R),
        (openai.APIStatusError, 408, R),
        (openai.ConflictError, 409, R),
        (openai.AuthenticationError, 401, F),
        (openai.PermissionDeniedError, 403, F),
        (openai.NotFoundError, 404, F),
        (openai.BadRequestError, 400, F),
        (openai.UnprocessableEntityError, 422, F),
    ],
)
def test_openai_status_errors(
    cls: type[openai.APIStatusError], status: int, kind: ErrorKind
) -> None:
    info = classify_error(_status_error(cls, status))
    assert (info.kind, info.status, info.error_type) == (kind, status, cls.__name__)


def test_openai_rate_limit_reads_retry_after() -> None:
    exc = _status_error(openai.RateLimitError, 429, headers={"Retry-After": "7"})
    assert classify_error(exc).retry_after == 7.0


@pytest.mark.parametrize(
    "body",
    [
        {"code": "context_length_exceeded", "message": "maximum context length is 8192 tokens"},
        {"error": {"code": "context_length_exceeded"}},
        {"code": "string_above_max_length", "message": "string too long"},
    ],
)
def test_openai_context_overflow_from_body(body: dict[str, Any]) -> None:
    assert classify_error(_status_error(openai.BadRequestError, 400, body)).kind is C


@pytest.mark.parametrize("code", ["content_filter", "content_policy_violation"])
def test_openai_content_filter_is_refusal(code: str) -> None:
    body = {"code": code, "message": "filtered", "type": "invalid_request_error"}
    assert classify_error(_status_error(openai.BadRequestError, 400, body)).kind is REF


def test_anthropic_prompt_too_long_is_overflow() -> None:
    body = {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": "prompt is too long: 210000 tokens"},
    }
    assert classify_error(_status_error(openai.BadRequestError, 400, body)).kind is C


def test_message_text_alone_never_decides_for_generic_errors() -> None:
    assert classify_error(ValueError("prompt is too long")).kind is F
    assert classify_error(RuntimeError("context_length_exceeded")).kind is F
    five_hundred = _status_error(openai.InternalServerError, 500, message="prompt is too long")
    assert classify_error(five_hundred).kind is R


def test_openai_transport_errors() -> None:
    request = httpx2.Request("POST", URL)
    assert classify_error(openai.APITimeoutError(request)).kind is R
    connection = classify_error(openai.APIConnectionError(request=request))
    assert (connection.kind, connection.status) == (R, None)


def test_openai_content_filter_finish_reason_is_refusal() -> None:
    assert classify_error(openai.ContentFilterFinishReasonError()).kind is REF


def test_duck_typed_sdk_error_with_status_code() -> None:
    """Non-OpenAI SDKs (anthropic) expose status_code/response/body the same way."""

    class OverloadedError(Exception):
        def __init__(self, message: str) -> None:
            super().__init__(message)
            self.status_code = 529
            self.body = {"type": "error", "error": {"type": "overloaded_error"}}
            self.response = _response(529, {"retry-after-ms": "1500"})

    info = classify_error(OverloadedError("Overloaded"))
    assert (info.kind, info.status, info.retry_after) == (R, 529, 1.5)


# --- httpx, builtins -------------------------------------------------------------------------


@pytest.mark.parametrize("module", [httpx, httpx2])
def test_httpx_transport_errors(module: Any) -> None:
    for cls in (
        module.TimeoutException,
        module.ReadTimeout,
        module.ConnectTimeout,
        module.ConnectError,
        module.RemoteProtocolError,
        module.ReadError,
    ):
        assert classify_error(cls("x")).kind is R, cls


@pytest.mark.parametrize("module", [httpx, httpx2])
@pytest.mark.parametrize(("status", "kind"), [(429, R), (502, R), (401, F), (400, F)])
def test_httpx_status_errors(module: Any, status: int, kind: ErrorKind) -> None:
    request = module.Request("GET", URL)
    response = module.Response(status, request=request)
    exc = module.HTTPStatusError("bad status", request=request, response=response)
    info = classify_error(exc)
    assert (info.kind, info.status) == (kind, status)


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (TimeoutError(), R),
        (asyncio.TimeoutError(), R),
        (ConnectionError("reset"), R),
        (ConnectionResetError("reset"), R),
        (ValueError("random"), F),
        (KeyError("k"), F),
        (httpx.UnsupportedProtocol("ftp"), F),
    ],
)
def test_builtin_and_other_errors(exc: BaseException, kind: ErrorKind) -> None:
    assert classify_error(exc).kind is kind


def test_broken_attributes_do_not_crash() -> None:
    class WeirdError(Exception):
        @property
        def response(self) -> Any:
            raise RuntimeError("no response")

        status_code = True  # a bool is not a status

    info = classify_error(WeirdError("odd"))
    assert (info.kind, info.status, info.retry_after) == (F, None, None)


# --- Retry-After -----------------------------------------------------------------------------


def test_parse_retry_after_forms() -> None:
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert parse_retry_after({"retry-after": "12"}) == 12.0
    assert parse_retry_after({"retry-after": "1.5"}) == 1.5
    assert parse_retry_after({"retry-after-ms": "250"}) == 0.25
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    date = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after({"retry-after": date}, now=now) == 30.0
    past = format_datetime(now - timedelta(seconds=30), usegmt=True)
    assert parse_retry_after({"retry-after": past}, now=now) == 0.0
    assert parse_retry_after({"retry-after": "-4"}) == 0.0
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({"retry-after": "nan"}) is None
    assert parse_retry_after({}) is None


def test_retry_after_http_date_from_error() -> None:
    when = datetime.now(timezone.utc) + timedelta(seconds=120)
    exc = _status_error(openai.RateLimitError, 429, headers={"retry-after": format_datetime(when)})
    retry_after = classify_error(exc).retry_after
    assert retry_after is not None
    assert 115 <= retry_after <= 120


# --- message redaction -----------------------------------------------------------------------


def test_message_redacts_keys_and_truncates() -> None:
    key = "sk-proj-" + "A1b2C3d4" * 6
    exc = openai.AuthenticationError(
        f"Incorrect API key provided: {key}. Authorization: Bearer {key} api_key='secret123'",
        response=_response(401),
        body=None,
    )
    info = classify_error(exc)
    assert key not in info.message
    assert "sk-proj" not in info.message
    assert "secret123" not in info.message
    assert "[REDACTED]" in info.message
    long = classify_error(ValueError("x" * 1000 + key))
    assert len(long.message) <= 200
    assert "sk-" not in long.message


def test_message_for_empty_exception_is_type_name() -> None:
    assert classify_error(TimeoutError()).message == "TimeoutError"


def test_error_info_is_frozen() -> None:
    info = classify_error(TimeoutError())
    assert isinstance(info, ErrorInfo)
    with pytest.raises(AttributeError):
        info.kind = F  # type: ignore[misc]
    assert frozenset({R, C}) == DEFAULT_FALLBACK_ON


# --- RetryPolicy -----------------------------------------------------------------------------


def test_backoff_grows_exponentially_up_to_max_delay() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=5.0, jitter=False)
    rng = random.Random(0)
    assert [policy.delay(n, None, rng) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    assert policy.delay(10_000, None, rng) == 5.0


def test_full_jitter_within_bounds_and_reproducible() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=8.0)
    first = [policy.delay(n, None, random.Random(42)) for n in range(1, 6)]
    again = [policy.delay(n, None, random.Random(42)) for n in range(1, 6)]
    assert first == again
    rng = random.Random(7)
    for n in range(1, 8):
        ceiling = min(8.0, 2.0 ** (n - 1))
        samples = [policy.delay(n, None, rng) for _ in range(200)]
        assert all(0.0 <= s <= ceiling for s in samples)
        assert max(samples) > ceiling / 2  # actually spread, not stuck at 0


def test_retry_after_is_a_lower_bound() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=20.0)
    rng = random.Random(1)
    assert all(policy.delay(1, 3.0, rng) >= 3.0 for _ in range(50))
    assert RetryPolicy(jitter=False, base_delay=8.0).delay(1, 3.0, rng) == 8.0


def test_retry_after_beyond_max_delay_means_fall_back() -> None:
    policy = RetryPolicy(max_delay=10.0)
    assert math.isinf(policy.delay(1, 30.0, random.Random(0)))
    assert policy.next_delay(1, elapsed=0.0, retry_after=30.0, rng=random.Random(0)) is None


def test_next_delay_respects_attempts_and_total_budget() -> None:
    policy = RetryPolicy(max_attempts=3, base_delay=2.0, max_total_seconds=10.0, jitter=False)
    assert policy.next_delay(1, elapsed=0.0) == 2.0
    assert policy.next_delay(2, elapsed=3.0) == 4.0
    assert policy.next_delay(3, elapsed=3.0) is None  # attempts used up
    assert policy.next_delay(2, elapsed=7.0) is None  # 7 + 4 > 10
    assert policy.next_delay(1, elapsed=2.0, retry_after=9.0) is None  # 2 + 9 > 10
    assert RetryPolicy(max_attempts=1).next_delay(1, elapsed=0.0) is None


@pytest.mark.parametrize(
    "kwargs", [{"max_attempts": 0}, {"base_delay": -1.0}, {"max_total_seconds": math.nan}]
)
def test_retry_policy_validates(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        RetryPolicy(**kwargs)


# --- CircuitBreaker --------------------------------------------------------------------------


def test_breaker_opens_after_consecutive_failures() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=3, cooldown_seconds=30.0, clock=clock)
    breaker.record_failure("a")
    breaker.record_failure("a")
    assert not breaker.is_open("a")
    breaker.record_failure("a")
    assert breaker.is_open("a")
    assert not breaker.is_open("b")  # per tier
    assert breaker.state("a") == "open"


def test_success_resets_the_failure_count() -> None:
    breaker = CircuitBreaker(failure_threshold=2, clock=FakeClock())
    breaker.record_failure("a")
    breaker.record_success("a")
    breaker.record_failure("a")
    assert not breaker.is_open("a")


def test_cooldown_remaining_decreases() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, cooldown_seconds=30.0, clock=clock)
    assert breaker.cooldown_remaining("a") == 0.0
    breaker.record_failure("a")
    assert breaker.cooldown_remaining("a") == 30.0
    clock.advance(12.5)
    assert breaker.cooldown_remaining("a") == 17.5
    clock.advance(100)
    assert breaker.cooldown_remaining("a") == 0.0


def test_hold_never_shortens_an_open_circuit() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, cooldown_seconds=30.0, clock=clock)
    breaker.record_failure("a")
    breaker.hold("a", 5.0)  # a short Retry-After must not cut the outage cooldown
    assert breaker.cooldown_remaining("a") == 30.0
    breaker.hold("a", 45.0)  # a longer one extends it
    assert breaker.cooldown_remaining("a") == 45.0
    clock.advance(44)
    assert breaker.is_open("a")


def test_half_open_allows_one_probe_and_failure_reopens() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=2, cooldown_seconds=10.0, clock=clock)
    breaker.record_failure("a")
    breaker.record_failure("a")
    clock.advance(10.0)
    assert breaker.state("a") == "half_open"
    assert not breaker.is_open("a")  # this caller is the probe
    assert breaker.is_open("a")  # everyone else waits for its outcome
    breaker.record_failure("a")  # one failure is enough to reopen
    assert breaker.is_open("a")
    assert breaker.cooldown_remaining("a") == 10.0


def test_half_open_probe_success_closes() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, cooldown_seconds=10.0, clock=clock)
    breaker.record_failure("a")
    clock.advance(10.0)
    assert not breaker.is_open("a")
    breaker.record_success("a")
    assert not breaker.is_open("a")
    assert not breaker.is_open("a")
    assert breaker.state("a") == "closed"


def test_unreported_probe_expires() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, cooldown_seconds=10.0, clock=clock)
    breaker.record_failure("a")
    clock.advance(10.0)
    assert not breaker.is_open("a")
    clock.advance(5.0)
    assert breaker.is_open("a")
    clock.advance(5.0)
    assert not breaker.is_open("a")  # the lost probe's lease ran out: a new probe


def test_breaker_is_thread_safe_single_probe() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, cooldown_seconds=1.0, clock=clock)
    breaker.record_failure("a")
    clock.advance(1.0)
    probes: list[bool] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait()
        probes.append(not breaker.is_open("a"))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert probes.count(True) == 1


@pytest.mark.parametrize("kwargs", [{"failure_threshold": 0}, {"cooldown_seconds": -1.0}])
def test_breaker_validates(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        CircuitBreaker(**kwargs)


# --- fallback_order --------------------------------------------------------------------------

TIERS = ["critical", "premium", "standard", "mini", "budget"]


def test_fallback_order_cheaper_then_upgrade() -> None:
    assert fallback_order(TIERS, "standard") == [
        "standard",
        "mini",
        "budget",
        "premium",
        "critical",
    ]
    assert fallback_order(TIERS, "critical") == TIERS
    assert fallback_order(TIERS, "budget") == ["budget", "mini", "standard", "premium", "critical"]


def test_fallback_order_without_upgrade() -> None:
    assert fallback_order(TIERS, "standard", allow_upgrade=False) == ["standard", "mini", "budget"]
    assert fallback_order(TIERS, "budget", allow_upgrade=False) == ["budget"]


def test_fallback_order_overrides() -> None:
    overrides = {"standard": ["critical", "standard", "critical"], "mini": []}
    assert fallback_order(TIERS, "standard", overrides=overrides) == ["standard", "critical"]
    assert fallback_order(TIERS, "mini", overrides=overrides) == ["mini"]
    assert fallback_order(TIERS, "budget", overrides=overrides)[1] == "mini"  # not overridden


def test_fallback_order_rejects_unknown_tiers() -> None:
    with pytest.raises(ValueError, match="nope"):
        fallback_order(TIERS, "nope")
    with pytest.raises(ValueError, match="ghost"):
        fallback_order(TIERS, "mini", overrides={"mini": ["ghost"]})
