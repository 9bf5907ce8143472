"""Fallbacks, retries and cooldowns of TieredChatModel, on fake tiers with a fake clock."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.exceptions import (
    ContextOverflowError,
    ModelAPIError,
    ModelAuthenticationError,
    ModelInvalidRequestError,
    ModelRateLimitError,
    ModelRefusalError,
)
from langchain_core.messages import AIMessage

from langchain_tiered import (
    AllTiersFailedError,
    Budget,
    InMemoryLedger,
    Tier,
    TieredChatModel,
)
from langchain_tiered.fallbacks import RetryPolicy
from langchain_tiered.testing import FakeClock
from tests.unit_tests.fakes import PRICES, FakeTier, usage

ASK = "Liste die Hauptstädte Europas auf"


def rate_limited(retry_after: float | None = None) -> ModelRateLimitError:
    err = ModelRateLimitError("429 too many requests")
    headers = {"retry-after": str(retry_after)} if retry_after is not None else {}
    err.response = SimpleNamespace(headers=headers, status_code=429)  # type: ignore[attr-defined]
    return err


def make(scripts: dict[str, list[Any]], **kwargs: Any) -> tuple[TieredChatModel, FakeClock]:
    clock = kwargs.pop("clock", FakeClock())
    tiers = [
        Tier(
            name=n,
            model=FakeTier(model_name=n, script=scripts.get(n, [])),
            price=PRICES[n],
            **kwargs.pop(f"{n}_tier", {}),
        )
        for n in ("critical", "standard", "budget")
    ]
    kwargs.setdefault("retry", RetryPolicy(max_attempts=2, base_delay=1.0, jitter=False))
    return TieredChatModel(tiers=tiers, clock=clock, seed=0, **kwargs), clock


def calls(model: TieredChatModel, name: str) -> int:
    return len(next(t for t in model.tiers if t.name == name).model.calls)  # type: ignore[attr-defined]


def test_rate_limit_is_retried_with_backoff_then_falls_back() -> None:
    model, clock = make({"budget": [rate_limited()]})
    meta = model.invoke(ASK).response_metadata["tiered"]
    assert meta["routed_tier"] == "budget"
    # no cheaper tier than budget: the fallback goes up to the nearest more capable one
    assert meta["tier"] == "standard"
    assert meta["fallback_triggered"] is True
    assert [(a["tier"], a["error_type"], a["kind"]) for a in meta["attempts"]] == [
        ("budget", "ModelRateLimitError", "retryable"),
        ("budget", "ModelRateLimitError", "retryable"),
        ("standard", None, "ok"),
    ]
    assert clock.sleeps == [1.0]  # base_delay x 2**0, no jitter
    assert meta["attempts"][0]["waited_s"] == 1.0
    assert calls(model, "budget") == 2


def test_retry_after_is_honoured() -> None:
    ok = AIMessage(content="fine", usage_metadata=usage(5, 1))
    model, clock = make({"budget": [rate_limited(retry_after=7), ok]})
    meta = model.invoke(ASK).response_metadata["tiered"]
    assert meta["tier"] == "budget"
    assert meta["fallback_triggered"] is False
    assert clock.sleeps == [7.0]


def test_retry_after_longer_than_max_delay_falls_back_without_waiting() -> None:
    model, clock = make({"budget": [rate_limited(retry_after=600)]})
    assert model.invoke(ASK).response_metadata["tiered"]["tier"] == "standard"
    assert clock.sleeps == []


@pytest.mark.parametrize(
    "error",
    [
        ModelAuthenticationError("401 invalid key"),
        ModelInvalidRequestError("400 bad"),
        ValueError("a bug"),
    ],
)
def test_fatal_errors_raise_at_once_without_fallback(error: Exception) -> None:
    model, clock = make({"budget": [error]})
    with pytest.raises(type(error)):
        model.invoke(ASK)
    assert (calls(model, "budget"), calls(model, "standard"), calls(model, "critical")) == (1, 0, 0)
    assert clock.sleeps == []


def test_context_overflow_falls_back_to_a_larger_window() -> None:
    model, _ = make(
        {"budget": [ContextOverflowError("too long")]},
        budget_tier={"context_window": 8000},
        standard_tier={"context_window": 8000},
        critical_tier={"context_window": 200_000},
    )
    meta = model.invoke(ASK).response_metadata["tiered"]
    assert meta["tier"] == "critical"  # standard's window is no larger: skipped
    assert calls(model, "budget") == 1  # overflow is not retried
    assert any("not larger" in s["reason"] for s in meta["skipped"])


def test_refusal_raises_by_default_and_goes_to_refusal_tier_when_set() -> None:
    model, _ = make({"budget": [ModelRefusalError("policy")]})
    with pytest.raises(ModelRefusalError):
        model.invoke(ASK)
    model, _ = make({"budget": [ModelRefusalError("policy")]}, refusal_tier="critical")
    meta = model.invoke(ASK).response_metadata["tiered"]
    assert meta["tier"] == "critical"
    assert calls(model, "standard") == 0


def test_all_tiers_failed_keeps_every_attempt() -> None:
    err = rate_limited()
    model, _ = make({"critical": [err], "standard": [err], "budget": [err]})
    with pytest.raises(AllTiersFailedError) as info:
        model.invoke(ASK)
    assert [a["tier"] for a in info.value.attempts] == ["budget"] * 2 + ["standard"] * 2 + [
        "critical"
    ] * 2
    assert all(isinstance(e, ModelRateLimitError) for e in info.value.errors)


def test_allow_upgrade_false_never_goes_up() -> None:
    model, _ = make({"budget": [rate_limited()]}, allow_upgrade=False)
    with pytest.raises(AllTiersFailedError):
        model.invoke(ASK)
    assert calls(model, "standard") == 0


def test_per_tier_fallback_order() -> None:
    model, _ = make({"budget": [rate_limited()]}, budget_tier={"fallbacks": ("critical",)})
    assert model.invoke(ASK).response_metadata["tiered"]["tier"] == "critical"


def test_fallback_rechecks_the_per_call_cap() -> None:
    from langchain_tiered import BudgetExceededError

    model, _ = make(
        {"budget": [rate_limited()]}, max_cost_per_call=0.001, max_tokens=100, allow_upgrade=True
    )
    # standard's worst case (~$0.0016 for 100 output tokens) is above the cap: never called
    with pytest.raises((AllTiersFailedError, BudgetExceededError)):
        model.invoke(ASK)
    assert calls(model, "standard") == 0
    assert calls(model, "critical") == 0


def test_cooldown_opens_after_consecutive_failures_and_closes_after_probe() -> None:
    err = ModelAPIError("500 internal server error")  # outages trip it; 429s only back off
    model, clock = make(
        {"budget": [err, err, err, err]},
        cooldown_failures=3,
        cooldown_seconds=30,
        retry=RetryPolicy(max_attempts=1),
    )
    for _ in range(3):
        assert model.invoke(ASK).response_metadata["tiered"]["tier"] == "standard"
    meta = model.invoke(ASK).response_metadata["tiered"]
    assert "cooling down" in meta["reason"]
    assert calls(model, "budget") == 3  # skipped while cooling
    clock.advance(31)
    model.tiers[2].model.script = [AIMessage(content="back", usage_metadata=usage(3, 1))]  # type: ignore[attr-defined]
    assert model.invoke(ASK).response_metadata["tiered"]["tier"] == "budget"


class Events(BaseCallbackHandler):
    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def on_custom_event(self, name: str, data: Any, **kwargs: Any) -> None:
        self.events.append((name, data))


def test_fallback_emits_custom_events() -> None:
    model, _ = make({"budget": [rate_limited()]})
    handler = Events()
    model.invoke(ASK, config={"callbacks": [handler]})
    names = [n for n, _ in handler.events]
    assert names == ["tiered.route", "tiered.fallback"]
    assert handler.events[1][1]["from_tier"] == "budget"


def test_stream_falls_back_before_first_chunk() -> None:
    model, _ = make({"budget": [rate_limited()]}, standard_tier={})
    model.tiers[1].model.script = [AIMessage(content="from standard", usage_metadata=usage(4, 2))]  # type: ignore[attr-defined]
    text = "".join(str(c.content) for c in model.stream(ASK))
    assert text == "from standard"


def test_stream_error_after_first_chunk_propagates_and_settles() -> None:
    ledger = InMemoryLedger()
    budget = Budget(limit_usd=1.0, ledger=ledger)
    broken = FakeTier(
        model_name="b", script=[AIMessage(content="one two three four")], break_after=2
    )
    other = FakeTier(model_name="o")
    model = TieredChatModel(
        tiers=[
            Tier(name="other", model=other, price=PRICES["critical"]),
            Tier(name="budget", model=broken, price=PRICES["budget"]),
        ],
        budget=budget,
    )
    seen: list[Any] = []

    def consume() -> None:
        seen.extend(chunk.content for chunk in model.stream(ASK, tier="budget"))

    with pytest.raises(ConnectionError):
        consume()
    assert seen == ["one", " two"]  # never spliced with another tier's output
    assert other.calls == []
    key = next(iter(model._rt.limits_for({})))
    assert ledger.reserved(key) == 0
    # A cut stream is an unknown outcome: the provider may bill the whole answer, so the
    # reserved worst case is charged (unknown_outcome="charge", the default).
    (record,) = ledger.records()
    assert record.cost_usd == pytest.approx(ledger.spent(key), abs=1e-9)
    assert record.cost_usd == record.estimated_cost_usd > 0
    assert record.cost_is_estimate
    assert record.error == "ConnectionError: stream broke"


async def test_async_fallback_matches_sync() -> None:
    model, clock = make({"budget": [rate_limited()]})
    meta = (await model.ainvoke(ASK)).response_metadata["tiered"]
    assert (meta["tier"], clock.sleeps) == ("standard", [1.0])
    chunks = [c async for c in model.astream(ASK, tier="budget")]
    assert chunks[-1].response_metadata["tiered"]["tier"] == "standard"


def test_as_fallback_runnable_is_lcel_with_the_same_order() -> None:
    from langchain_core.runnables import RunnableWithFallbacks

    model, _ = make({"standard": [rate_limited()]})
    handler = Events()
    chain = model.as_fallback_runnable("standard", callbacks=[handler])
    assert isinstance(chain, RunnableWithFallbacks)
    out = chain.invoke(ASK)
    # standard failed (429) -> next cheaper tier, budget, answered
    assert out.response_metadata["model_name"] == "budget"
    assert (calls(model, "standard"), calls(model, "budget"), calls(model, "critical")) == (1, 1, 0)
    with pytest.raises(ValueError, match="valid tier names"):
        model.as_fallback_runnable("nope")


def test_as_fallback_runnable_does_not_fall_back_on_auth_errors() -> None:
    model, _ = make({"critical": [ModelAuthenticationError("401")]})
    with pytest.raises(ModelAuthenticationError):
        model.as_fallback_runnable().invoke(ASK)
    assert calls(model, "standard") == 0


def test_stream_falls_back_after_an_empty_opening_chunk() -> None:
    broken = FakeTier(
        model_name="b", script=[AIMessage(content="x y")], break_after=0, lead_empty=True
    )
    good = FakeTier(model_name="g", script=[AIMessage(content="good answer")])
    model = TieredChatModel(
        tiers=[
            Tier(name="good", model=good, price=PRICES["standard"]),
            Tier(name="broken", model=broken, price=PRICES["budget"]),
        ],
        retry=RetryPolicy(max_attempts=1),
    )
    chunks = list(model.stream(ASK, tier="broken"))
    assert "".join(str(c.content) for c in chunks) == "good answer"
    assert chunks[-1].response_metadata["tiered"]["tier"] == "good"


def test_raise_mode_skips_fallback_tiers_over_the_cap_and_keeps_the_real_error() -> None:
    # budget is routed and rate limited; the upgrade tiers are over the cap: the caller must
    # see that every tier failed (with the 429s), not a budget error for a tier never routed
    model, _ = make(
        {"budget": [rate_limited()]},
        max_cost_per_call=0.001,
        max_tokens=100,
        on_budget_exceeded="raise",
    )
    with pytest.raises(AllTiersFailedError) as info:
        model.invoke(ASK)
    assert [a["tier"] for a in info.value.attempts] == ["budget", "budget"]
    assert calls(model, "standard") == 0


def test_long_retry_after_holds_the_tier_for_other_calls() -> None:
    ok = AIMessage(content="fine", usage_metadata=usage(5, 1))
    model, clock = make({"budget": [rate_limited(retry_after=600), ok]})
    assert model.invoke(ASK).response_metadata["tiered"]["tier"] == "standard"
    # the next call skips budget without asking it (the provider asked for 600 s)
    meta = model.invoke(ASK).response_metadata["tiered"]
    assert meta["tier"] == "standard"
    assert "cooling down" in meta["reason"]
    assert calls(model, "budget") == 1
    clock.advance(601)
    assert model.invoke(ASK).response_metadata["tiered"]["tier"] == "budget"


def test_circuit_breaker_hold_opens_then_allows_one_probe() -> None:
    from langchain_tiered.fallbacks import CircuitBreaker

    clock = FakeClock()
    breaker = CircuitBreaker(clock=clock)
    breaker.hold("t", 10)
    assert breaker.is_open("t")
    assert breaker.cooldown_remaining("t") == 10
    clock.advance(10)
    assert not breaker.is_open("t")  # the probe
    assert breaker.is_open("t")  # others wait for the probe's outcome
    breaker.record_success("t")
    assert not breaker.is_open("t")
    breaker.hold("t", 0)  # a zero pause is no pause
    assert not breaker.is_open("t")
