"""Budget policy values: key derivation, period rollover, validation, shared ledger."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from langchain_tiered import Budget, InMemoryLedger
from langchain_tiered.budget import BudgetKeyWarning, budget_limits, shared_ledger
from langchain_tiered.errors import BudgetExceededError
from langchain_tiered.testing import FakeClock

NOW = datetime(2026, 11, 28, 15, 30, tzinfo=timezone.utc)
USER = {"budget_key": "user-42"}


@pytest.mark.parametrize(
    ("kwargs", "metadata", "expected"),
    [
        ({"period": "day"}, None, "budget:global:day:2026-11-28"),
        ({"period": "month"}, USER, "budget:global:month:2026-11"),
        ({}, None, "budget:global:all"),
        ({"period": "month", "scope": "budget_key"}, USER, "budget:user-42:month:2026-11"),
        ({"scope": "budget_key", "name": "user"}, {"budget_key": 7}, "user:7:all"),
        ({"scope": "budget_key"}, None, None),
        ({"scope": "budget_key"}, {"other": "x"}, None),
        ({"scope": "budget_key"}, {"budget_key": ""}, None),
        # user ids that are the other scopes' key parts never share their keys
        (
            {"scope": "budget_key", "period": "day"},
            {"budget_key": "global"},
            "budget:key=global:day:2026-11-28",
        ),
        ({"scope": "budget_key"}, {"budget_key": "run"}, "budget:key=run:all"),
    ],
)
def test_key_derivation(
    kwargs: dict[str, str], metadata: dict[str, object] | None, expected: str | None
) -> None:
    assert Budget(limit_usd=1.0, **kwargs).key(metadata, NOW) == expected


def test_a_user_named_global_has_a_budget_of_its_own() -> None:
    ledger = InMemoryLedger()
    budgets = [
        Budget(limit_usd=10.0, period="day", ledger=ledger),
        Budget(limit_usd=1.0, period="day", scope="budget_key", ledger=ledger),
    ]
    limits = budget_limits(budgets, {"budget_key": "global"}, NOW)  # was: ValueError
    assert limits == {"budget:global:day:2026-11-28": 10.0, "budget:key=global:day:2026-11-28": 1.0}


def test_key_uses_utc_boundaries() -> None:
    budget = Budget(limit_usd=1.0, period="day")
    # 23:30 on the 28th in UTC-5 is already the 29th in UTC.
    late_evening = datetime(2026, 11, 28, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert budget.key(None, late_evening) == "budget:global:day:2026-11-29"
    assert budget.key(None, datetime(2026, 11, 28, 23, 59, 59)) == ("budget:global:day:2026-11-28")


def test_day_rollover_restores_room() -> None:
    clock = FakeClock(start=datetime(2026, 11, 28, 23, 59, 58, tzinfo=timezone.utc))
    ledger = InMemoryLedger(clock=clock)
    budget = Budget(limit_usd=1.0, period="day", ledger=ledger)
    limits = budget_limits([budget], None, clock.now())
    ledger.settle(ledger.reserve(limits, 0.9), 0.9)
    assert budget.remaining(None, clock.now()) == pytest.approx(0.1)
    with pytest.raises(BudgetExceededError):
        ledger.reserve(budget_limits([budget], None, clock.now()), 0.5)

    clock.advance(2)
    assert budget.remaining(None, clock.now()) == 1.0
    ledger.reserve(budget_limits([budget], None, clock.now()), 0.5)
    assert budget.remaining(None, clock.now()) == pytest.approx(0.5)


def test_month_rollover_restores_room() -> None:
    clock = FakeClock(start=datetime(2026, 11, 30, 23, 0, tzinfo=timezone.utc))
    ledger = InMemoryLedger(clock=clock)
    budget = Budget(limit_usd=2.0, period="month", scope="budget_key", ledger=ledger)
    ledger.settle(ledger.reserve(budget_limits([budget], USER, clock.now()), 2.0), 2.0)
    assert budget.remaining(USER, clock.now()) == 0.0
    assert budget.remaining({"budget_key": "someone-else"}, clock.now()) == 2.0
    assert budget.remaining(None, clock.now()) is None

    clock.advance(3600)
    assert budget.key(USER, clock.now()) == "budget:user-42:month:2026-12"
    assert budget.remaining(USER, clock.now()) == 2.0


def test_budget_limits_skips_budgets_that_do_not_apply() -> None:
    ledger = InMemoryLedger()
    budgets = [
        Budget(limit_usd=100.0, period="month", ledger=ledger),
        Budget(limit_usd=1.0, period="day", scope="budget_key", name="user", ledger=ledger),
    ]
    with pytest.warns(BudgetKeyWarning):  # the per-user budget does not apply without a key
        assert budget_limits(budgets, None, NOW) == {"budget:global:month:2026-11": 100.0}
    assert budget_limits(budgets, USER, NOW) == {
        "budget:global:month:2026-11": 100.0,
        "user:user-42:day:2026-11-28": 1.0,
    }
    assert budget_limits([], USER, NOW) == {}


def test_budget_limits_refuses_colliding_keys() -> None:
    budgets = [Budget(limit_usd=1.0, period="day"), Budget(limit_usd=2.0, period="day")]
    with pytest.raises(ValueError, match="distinct name="):
        budget_limits(budgets, None, NOW)


@pytest.mark.parametrize("bad", [-0.01, float("nan"), float("inf")])
def test_limit_must_be_finite_and_non_negative(bad: float) -> None:
    with pytest.raises(ValidationError, match="limit_usd"):
        Budget(limit_usd=bad)


def test_other_validation_errors_name_the_field() -> None:
    with pytest.raises(ValidationError, match="period"):
        Budget(limit_usd=1.0, period="week")
    with pytest.raises(ValidationError, match="scope"):
        Budget(limit_usd=1.0, scope="user")
    with pytest.raises(ValidationError, match="ledger"):
        Budget(limit_usd=1.0, ledger=object())
    with pytest.raises(ValidationError, match="name"):
        Budget(limit_usd=1.0, name="")


def test_budget_is_frozen() -> None:
    budget = Budget(limit_usd=1.0)
    with pytest.raises(ValidationError):
        budget.limit_usd = 2.0  # type: ignore[misc]


def test_shared_ledger() -> None:
    ledger = InMemoryLedger()
    budgets = [
        Budget(limit_usd=1.0, ledger=ledger),
        Budget(limit_usd=2.0, name="b", ledger=ledger),
    ]
    assert shared_ledger(budgets) is ledger
    assert shared_ledger([]) is None
    single = Budget(limit_usd=1.0)
    assert shared_ledger([single]) is single.ledger


def test_shared_ledger_refuses_different_ledgers() -> None:
    # Two budgets left on their default ledgers each get their own InMemoryLedger.
    budgets = [Budget(limit_usd=1.0), Budget(limit_usd=2.0, name="user", scope="budget_key")]
    with pytest.raises(ValueError, match="pass ledger=ledger to every Budget"):
        shared_ledger(budgets)
