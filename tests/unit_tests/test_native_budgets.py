"""Issue 11: budgets people can live with: missing keys, skip reasons, alerts."""

from __future__ import annotations

import warnings
from datetime import timedelta
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage

from langchain_tiered import (
    Budget,
    BudgetAlert,
    BudgetExceededError,
    BudgetKeyRequiredError,
    InMemoryLedger,
    Tier,
    TieredChatModel,
)
from langchain_tiered._clock import FakeClock
from langchain_tiered.alerts import crossed
from langchain_tiered.budget import BudgetKeyWarning
from tests.unit_tests.fakes import PRICES, FakeTier, usage

ANSWER = AIMessage(content="ok", usage_metadata=usage(10, 50))
COST = PRICES["budget"].cost(usage(10, 50))  # 5.25e-05 per call


def one_tier(budget: Budget, clock: FakeClock | None = None) -> TieredChatModel:
    tier = Tier(name="only", model=FakeTier(script=[ANSWER]), price=PRICES["budget"])
    return TieredChatModel(tiers=[tier], budget=budget, max_tokens=100, clock=clock or FakeClock())


class Events(BaseCallbackHandler):
    def __init__(self) -> None:
        self.alerts: list[dict[str, Any]] = []

    def on_custom_event(self, name: str, data: Any, **kw: Any) -> None:
        if name == "tiered.budget_alert":
            self.alerts.append(data)


# -- a per-key budget and calls without a key ----------------------------------------------------


def test_missing_budget_key_warns_once_per_budget() -> None:
    model = one_tier(Budget(limit_usd=1.0, scope="budget_key", name="user"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.invoke("hi")
        model.invoke("hi")
        model.invoke("hi", config={"metadata": {"budget_key": "u1"}})
    [warning] = [w for w in caught if issubclass(w.category, BudgetKeyWarning)]
    assert "require_key=True" in str(warning.message)


def test_require_key_refuses_before_sending() -> None:
    model = one_tier(Budget(limit_usd=1.0, scope="budget_key", require_key=True))
    with pytest.raises(BudgetKeyRequiredError, match="budget_key"):
        model.invoke("hi")
    assert model.tiers[0].model.calls == []  # type: ignore[attr-defined]
    model.invoke("hi", config={"metadata": {"budget_key": "u1"}})  # with a key it goes through


# -- skip reasons --------------------------------------------------------------------------------


def two_tiers(budget: Budget, **kwargs: Any) -> TieredChatModel:
    tiers = [
        Tier(name=n, model=FakeTier(model_name=n, script=[ANSWER]), price=PRICES[n])
        for n in ("standard", "budget")
    ]
    return TieredChatModel(tiers=tiers, budget=budget, max_tokens=1000, **kwargs)


def test_skip_says_what_was_needed_and_what_was_left() -> None:
    ledger = InMemoryLedger()
    budget = Budget(limit_usd=0.02, ledger=ledger)
    model = two_tiers(budget)
    key = budget.key(None, model.clock.now())
    assert key is not None
    ledger.settle(ledger.reserve({key: 0.02}, 0.01, ttl_seconds=60), 0.01)  # $0.01 already spent
    meta = model.invoke("hi", tier="standard").response_metadata["tiered"]
    assert meta["tier"] == "budget"
    [skip] = meta["skipped"]
    needed = model.plan("hi", tier="standard").on_tier["standard"].worst_case_usd
    assert skip["reason"] == f"budget {key!r}: needs ${needed:.4f} worst case, $0.0100 left"


def test_skip_suggests_capping_when_the_tier_can_never_fit() -> None:
    model = two_tiers(Budget(limit_usd=0.01))
    meta = model.invoke("hi", tier="standard").response_metadata["tiered"]
    [skip] = meta["skipped"]
    assert "can never fit the $0.0100 limit: set cap_output_to_budget=True" in skip["reason"]
    capped = two_tiers(Budget(limit_usd=0.01), cap_output_to_budget=True)
    meta = capped.invoke("hi", tier="standard").response_metadata["tiered"]
    assert (meta["tier"], meta["output_cap_source"]) == ("standard", "budget")


def test_call_cap_skip_suggests_capping() -> None:
    model = two_tiers(Budget(limit_usd=1.0), max_cost_per_call=0.005)
    [skip] = model.invoke("hi", tier="standard").response_metadata["tiered"]["skipped"]
    assert "over max_cost_per_call: needs $0.0150" in skip["reason"]
    assert "$0.0050 allowed" in skip["reason"]
    assert "cap_output_to_budget=True" in skip["reason"]


# -- alerts --------------------------------------------------------------------------------------


def test_crossed_fractions_are_pure() -> None:
    assert crossed(0.7, 1.0, 1.0, (0.5, 0.8, 1.0)) == [0.8, 1.0]
    assert crossed(0.8, 0.9, 1.0, (0.5, 0.8, 1.0)) == []  # 0.8 was crossed before
    assert crossed(0.0, 0.4, 1.0, (0.5,)) == []
    assert Budget(limit_usd=1.0).alert_at == (0.5, 0.8, 1.0)


def test_alerts_fire_once_per_fraction_key_and_period() -> None:
    clock = FakeClock()
    seen: list[BudgetAlert] = []
    budget = Budget(
        limit_usd=2.4e-4,  # three calls' worst cases fit, a fourth does not
        period="day",
        scope="budget_key",
        name="user",
        alert_at=(0.2, 0.4, 0.6),
        on_alert=seen.append,
    )
    model = one_tier(budget, clock)
    events = Events()
    cfg: Any = {"metadata": {"budget_key": "u1"}, "callbacks": [events]}
    for _ in range(3):
        model.invoke("hi", config=cfg)
    with pytest.raises(BudgetExceededError):
        model.invoke("hi", config=cfg)  # the fourth worst case no longer fits
    assert [a.fraction for a in seen] == [0.2, 0.4, 0.6]
    last = seen[-1]
    assert (last.budget, last.budget_key, last.period, last.limit_usd) == (
        "user",
        "u1",
        "day",
        2.4e-4,
    )
    assert last.key == "user:u1:day:2026-01-01"
    assert last.spent_usd == pytest.approx(3 * COST)
    assert [e["fraction"] for e in events.alerts] == [0.2, 0.4, 0.6]
    assert events.alerts[-1] == last.to_dict()

    model.invoke("hi", config={"metadata": {"budget_key": "u2"}})  # another key: its own alerts
    assert (seen[-1].budget_key, seen[-1].fraction) == ("u2", 0.2)
    clock.advance(timedelta(days=1).total_seconds())  # a new period alerts afresh
    model.invoke("hi", config=cfg)
    assert (seen[-1].key, seen[-1].fraction) == ("user:u1:day:2026-01-02", 0.2)
    assert len(seen) == 5


async def test_alerts_async_and_streamed() -> None:
    seen: list[BudgetAlert] = []
    model = one_tier(Budget(limit_usd=2e-4, alert_at=(0.25, 0.5), on_alert=seen.append))
    await model.ainvoke("hi")
    [c async for c in model.astream("hi")]
    assert [a.fraction for a in seen] == [0.25, 0.5]


def test_no_listener_no_alert_work() -> None:
    class CountingLedger(InMemoryLedger):
        reads = 0

        def spent(self, key: str) -> float:
            CountingLedger.reads += 1
            return super().spent(key)

    model = one_tier(Budget(limit_usd=1.0, ledger=CountingLedger()))
    model.invoke("hi")
    assert CountingLedger.reads == 0


def test_a_failing_alert_check_never_loses_the_paid_answer() -> None:
    class DownLedger(InMemoryLedger):
        def spent(self, key: str) -> float:
            raise ConnectionError("ledger down")

    def boom(alert: BudgetAlert) -> None:
        raise RuntimeError("pager down")

    for budget in (
        Budget(limit_usd=2e-4, alert_at=(0.25,), on_alert=boom),
        Budget(limit_usd=2e-4, alert_at=(0.25,), on_alert=boom, ledger=DownLedger()),
    ):
        model = one_tier(budget)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            answer = model.invoke("hi")
            chunks = list(model.stream("hi"))
        assert answer.content == "ok"
        assert answer.response_metadata["tiered"]["cost_usd"] == pytest.approx(COST)
        assert "".join(str(c.content) for c in chunks) == "ok"
        assert chunks[-1].response_metadata["tiered"]["cost_usd"] == pytest.approx(COST)
        assert any("budget alert" in str(w.message) for w in caught)


def test_alert_reaches_a_listener_without_on_alert() -> None:
    """No on_alert: the alert is still worked out and emitted when a handler listens."""
    model = one_tier(Budget(limit_usd=2e-4, alert_at=(0.5,)))
    model.invoke("hi")  # 26% spent, nobody listens
    events = Events()
    model.invoke("hi", config={"callbacks": [events]})  # 52%: crosses one half
    assert [e["fraction"] for e in events.alerts] == [0.5]
