"""How TieredChatModel treats rate limits, exhausted quotas and outages (fake tiers, fake clock).

A burst of 429s without Retry-After must not cool a healthy tier for the 30 s meant for
outages: it backs the tier off for seconds (1, 2, 4, 8), and the caller that got the 429
waits that pause out before retrying. An exhausted quota is not retried at all.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from langchain_core.exceptions import ModelAPIError, ModelRateLimitError
from langchain_core.messages import AIMessage, BaseMessage

from langchain_tiered import (
    Budget,
    InMemoryLedger,
    Tier,
    TieredChatModel,
    get_tiered_cost_callback,
)
from langchain_tiered.fallbacks import RetryPolicy
from langchain_tiered.testing import FakeClock
from tests.unit_tests.fakes import PRICES, FakeTier, usage

ASK = "Liste die Hauptstädte Europas auf"
OK = AIMessage(content="ok", usage_metadata=usage(3, 1))


def too_many(*, code: str | None = None) -> ModelRateLimitError:
    """A 429 without Retry-After (``code="insufficient_quota"`` for an empty account)."""
    err = ModelRateLimitError("429")
    err.response = SimpleNamespace(headers={}, status_code=429)  # type: ignore[attr-defined]
    if code is not None:
        err.body = {"error": {"type": code, "code": code}}  # type: ignore[attr-defined]
    return err


def make(budget_script: list[Any], *, attempts: int = 1) -> tuple[TieredChatModel, FakeClock]:
    clock = FakeClock()
    tiers = [
        Tier(
            name=name,
            model=FakeTier(model_name=name, script=budget_script if name == "budget" else []),
            price=PRICES[name],
        )
        for name in ("critical", "standard", "budget")
    ]
    model = TieredChatModel(
        tiers=tiers,
        clock=clock,
        seed=0,
        cooldown_failures=3,
        cooldown_seconds=30,
        retry=RetryPolicy(max_attempts=attempts, base_delay=0.1, jitter=False),
    )
    return model, clock


def budget_calls(model: TieredChatModel) -> int:
    return len(model.tiers[2].model.calls)  # type: ignore[attr-defined]


def answered_by(model: TieredChatModel) -> str:
    return str(model.invoke(ASK, tier="budget").response_metadata["tiered"]["tier"])


def test_429_burst_backs_off_for_seconds_and_never_trips_the_30s_breaker() -> None:
    model, clock = make([too_many()] * 5 + [OK])
    pauses = [1.0, 2.0, 4.0, 8.0, 8.0]
    for pause in pauses:
        assert answered_by(model) == "standard"  # 429: fall back now
        assert answered_by(model) == "standard"  # backed off: skipped without a request
        clock.advance(pause)
    assert budget_calls(model) == 5  # one request per pause, none while backed off
    # 31 s of wall time passed in total, but only seconds at a stretch: the tier is back as
    # soon as its last pause ended, with no 30 s outage cooldown behind it.
    assert answered_by(model) == "budget"
    assert model._rt.breaker.state("budget") == "closed"


def test_outages_still_trip_the_breaker() -> None:
    model, clock = make([ModelAPIError("500")] * 3 + [OK])
    for _ in range(3):
        assert answered_by(model) == "standard"
    clock.advance(8.0)  # longer than any rate-limit pause, shorter than the cooldown
    assert answered_by(model) == "standard"
    assert budget_calls(model) == 3
    clock.advance(30.0)
    assert answered_by(model) == "budget"


def test_retry_after_a_429_waits_out_the_tiers_backoff() -> None:
    model, clock = make([too_many(), OK], attempts=2)
    meta = model.invoke(ASK, tier="budget").response_metadata["tiered"]
    assert meta["tier"] == "budget"
    assert clock.sleeps == [1.0]  # the 1 s back-off, not the 0.1 s retry delay
    assert [a["waited_s"] for a in meta["attempts"]] == [1.0, 0.0]


def test_exhausted_quota_falls_back_without_retrying_and_cools_the_tier() -> None:
    model, clock = make([too_many(code="insufficient_quota"), OK], attempts=3)
    meta = model.invoke(ASK, tier="budget").response_metadata["tiered"]
    assert [(a["tier"], a["kind"]) for a in meta["attempts"]] == [
        ("budget", "retryable"),
        ("standard", "ok"),
    ]
    assert clock.sleeps == []  # no retry: waiting does not refill the account
    clock.advance(29.0)
    assert answered_by(model) == "standard"  # the breaker opened at once
    assert budget_calls(model) == 1


# -- refusals sent as answers -----------------------------------------------------------------

REFUSED = AIMessage(
    content="", response_metadata={"stop_reason": "refusal"}, usage_metadata=usage(40, 2)
)


class KeepsMetadata(FakeTier):
    """A FakeTier whose answers keep their own response_metadata (the stop reason)."""

    def _next(self, messages: list[BaseMessage], kwargs: dict[str, Any]) -> AIMessage:
        answer = super()._next(messages, kwargs)
        scripted = self.script[min(len(self.calls), len(self.script)) - 1] if self.script else None
        extra = scripted.response_metadata if isinstance(scripted, AIMessage) else {}
        return answer.model_copy(
            update={"response_metadata": {**extra, **answer.response_metadata}}
        )


def refusing(**kwargs: Any) -> tuple[TieredChatModel, InMemoryLedger]:
    ledger = InMemoryLedger()
    tiers = [
        Tier(
            name=name,
            model=KeepsMetadata(model_name=name, script=[REFUSED] if name == "budget" else []),
            price=PRICES[name],
        )
        for name in ("critical", "standard", "budget")
    ]
    budget = Budget(limit_usd=1.0, period="day", ledger=ledger)
    model = TieredChatModel(tiers=tiers, clock=FakeClock(), seed=0, budget=budget, **kwargs)
    return model, ledger


def test_refusal_answer_goes_to_refusal_tier_and_both_are_paid() -> None:
    model, ledger = refusing(refusal_tier="critical")
    with get_tiered_cost_callback() as cb:
        answer = model.invoke(ASK, tier="budget")
    meta = answer.response_metadata["tiered"]
    assert meta["tier"] == "critical"
    assert [(a["tier"], a["kind"]) for a in meta["attempts"]] == [
        ("budget", "refusal"),
        ("critical", "ok"),
    ]
    refusal_cost = PRICES["budget"].cost(REFUSED.usage_metadata)  # type: ignore[arg-type]
    records = ledger.records()
    assert [r.tier for r in records] == ["budget", "critical"]
    assert [r.cost_usd for r in records] == pytest.approx([refusal_cost, meta["cost_usd"]])
    assert not records[0].cost_is_estimate  # billed from the refusal's real usage
    assert cb.total_cost_usd == pytest.approx(refusal_cost + meta["cost_usd"])
    assert cb.calls == 2  # the refusal reached the callback once, the answer once


def test_refusal_answer_is_returned_when_nothing_is_configured() -> None:
    model, ledger = refusing()
    answer = model.invoke(ASK, tier="budget")
    assert answer.response_metadata["stop_reason"] == "refusal"
    assert answer.response_metadata["tiered"]["tier"] == "budget"
    assert len(ledger.records()) == 1


def test_refusal_answer_follows_fallback_on() -> None:
    model, _ = refusing(fallback_on=["retryable", "refusal"])
    meta = model.invoke(ASK, tier="budget").response_metadata["tiered"]
    assert [(a["tier"], a["kind"]) for a in meta["attempts"]] == [
        ("budget", "refusal"),
        ("standard", "ok"),
    ]


@pytest.mark.parametrize(
    ("failure", "cause"),
    [
        (too_many(), "rate_limit"),
        (too_many(code="insufficient_quota"), "quota"),
        (ModelAPIError("500"), "server_error"),
        (TimeoutError("read timed out"), "timeout"),
    ],
)
def test_attempts_say_why_each_request_failed(failure: Exception, cause: str) -> None:
    model, _ = make([failure, OK])
    meta = model.invoke(ASK, tier="budget").response_metadata["tiered"]
    # A rate limit and an exhausted quota are both "retryable" kinds; the cause tells them apart.
    assert [(a["tier"], a["kind"], a["cause"]) for a in meta["attempts"]] == [
        ("budget", "retryable", cause),
        ("standard", "ok", None),
    ]


def test_rate_limit_backoff_is_set_through_the_retry_policy() -> None:
    clock = FakeClock()
    tiers = [
        Tier(
            name=name,
            model=FakeTier(
                model_name=name, script=[too_many()] * 4 + [OK] if name == "budget" else []
            ),
            price=PRICES[name],
        )
        for name in ("critical", "standard", "budget")
    ]
    policy = RetryPolicy(max_attempts=1, rate_limit_backoff=0.5, rate_limit_max_backoff=2.0)
    model = TieredChatModel(tiers=tiers, clock=clock, seed=0, retry=policy)
    for pause in (0.5, 1.0, 2.0, 2.0):  # doubling from 0.5 s, capped at 2 s
        assert answered_by(model) == "standard"  # the 429: fall back now
        clock.advance(pause - 0.01)
        assert answered_by(model) == "standard"  # still backed off: no request
        clock.advance(0.01)
    assert budget_calls(model) == 4
    assert answered_by(model) == "budget"


@pytest.mark.parametrize("field", ["rate_limit_backoff", "rate_limit_max_backoff"])
@pytest.mark.parametrize("value", [-1.0, float("inf"), float("nan")])
def test_rate_limit_backoff_must_be_finite_seconds(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        RetryPolicy(**{field: value})
