"""Semantics of both ledgers: reserve/settle/release, all-or-nothing, expiry, records."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from langchain_tiered.errors import BudgetExceededError
from langchain_tiered.ledger import (
    InMemoryLedger,
    Ledger,
    Reservation,
    SpendRecord,
    SQLiteLedger,
)
from langchain_tiered.testing import FakeClock

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=T0)


@pytest.fixture(params=["memory", "sqlite"])
def ledger(request: pytest.FixtureRequest, clock: FakeClock, tmp_path: Path) -> Iterator[Ledger]:
    if request.param == "memory":
        yield InMemoryLedger(clock=clock)
    else:
        with SQLiteLedger(tmp_path / "spend.db", clock=clock) as db:
            yield db


def _record(cost: float, *, minutes: int = 0, keys: tuple[str, ...] = ()) -> SpendRecord:
    return SpendRecord(
        time=T0 + timedelta(minutes=minutes),
        tier="budget",
        model="gpt-4.1-mini",
        input_tokens=100,
        output_tokens=20,
        cached_tokens=10,
        reasoning_tokens=5,
        cost_usd=cost,
        estimated_cost_usd=cost * 2,
        baseline_cost_usd=cost * 10,
        budget_keys=keys,
        fallback=True,
        run_id="run-1",
    )


def test_both_ledgers_satisfy_the_protocol(ledger: Ledger) -> None:
    assert isinstance(ledger, Ledger)


def test_reserve_holds_room_and_settle_commits_actual(ledger: Ledger) -> None:
    r = ledger.reserve({"a": 1.0}, 0.4, tier="critical")
    assert isinstance(r, Reservation)
    assert r.limits == {"a": 1.0}
    assert r.amount_usd == 0.4
    assert ledger.reserved("a") == pytest.approx(0.4)
    assert ledger.spent("a") == 0.0

    ledger.settle(r, 0.1, _record(0.1, keys=("a",)))
    assert ledger.reserved("a") == 0.0
    assert ledger.spent("a") == pytest.approx(0.1)
    assert [rec.cost_usd for rec in ledger.records()] == [0.1]


def test_refusal_carries_scope_limit_remaining_and_advice(ledger: Ledger) -> None:
    ledger.settle(ledger.reserve({"a": 1.0}, 0.5), 0.5)
    ledger.reserve({"a": 1.0}, 0.3)
    with pytest.raises(BudgetExceededError) as info:
        ledger.reserve({"a": 1.0}, 0.25, tier="critical")
    err = info.value
    assert err.scope == "a"
    assert err.limit_usd == 1.0
    assert err.estimated_cost_usd == 0.25
    assert err.remaining_usd == pytest.approx(0.2)
    assert err.tier == "critical"
    assert "limit_usd" in str(err)
    assert "critical" in str(err)


def test_exact_fit_is_admitted_without_float_drift(ledger: Ledger) -> None:
    # 0.1 + 0.2 != 0.3 in floats; nano-dollar integers make the exact fit succeed.
    ledger.reserve({"a": 0.3}, 0.1)
    ledger.reserve({"a": 0.3}, 0.2)
    with pytest.raises(BudgetExceededError):
        ledger.reserve({"a": 0.3}, 1e-9)


def test_all_or_nothing_across_keys(ledger: Ledger) -> None:
    ledger.settle(ledger.reserve({"full": 1.0}, 1.0), 1.0)
    with pytest.raises(BudgetExceededError) as info:
        ledger.reserve({"roomy": 100.0, "full": 1.0}, 0.5)
    assert info.value.scope == "full"
    assert ledger.reserved("roomy") == 0.0
    assert ledger.reserved("full") == 0.0


def test_settle_and_release_are_idempotent(ledger: Ledger) -> None:
    r = ledger.reserve({"a": 1.0, "b": 2.0}, 0.5)
    ledger.settle(r, 0.3, _record(0.3))
    ledger.settle(r, 0.3, _record(0.3))
    ledger.release(r)
    assert ledger.spent("a") == pytest.approx(0.3)
    assert ledger.spent("b") == pytest.approx(0.3)
    assert len(ledger.records()) == 1

    r2 = ledger.reserve({"a": 1.0}, 0.5)
    ledger.release(r2)
    ledger.release(r2)
    ledger.settle(r2, 0.5)
    assert ledger.spent("a") == pytest.approx(0.3)
    assert ledger.reserved("a") == 0.0


def test_settle_commits_actual_above_reservation(ledger: Ledger) -> None:
    r = ledger.reserve({"a": 1.0}, 0.1)
    ledger.settle(r, 0.15)
    assert ledger.spent("a") == pytest.approx(0.15)


def test_empty_limits_only_record(ledger: Ledger) -> None:
    r = ledger.reserve({}, 5.0)
    ledger.settle(r, 4.0, _record(4.0))
    ledger.settle(r, 4.0, _record(4.0))
    assert len(ledger.records()) == 1


def test_expired_reservation_frees_room(ledger: Ledger, clock: FakeClock) -> None:
    crashed = ledger.reserve({"a": 1.0}, 0.8, ttl_seconds=30)
    with pytest.raises(BudgetExceededError):
        ledger.reserve({"a": 1.0}, 0.5)
    clock.advance(31)
    assert ledger.reserved("a") == 0.0
    ledger.reserve({"a": 1.0}, 0.5)
    # A holder that was only slow still has its real cost counted when it settles late.
    ledger.settle(crashed, 0.2)
    assert ledger.spent("a") == pytest.approx(0.2)
    assert ledger.reserved("a") == pytest.approx(0.5)


def test_rejects_bad_amounts(ledger: Ledger) -> None:
    with pytest.raises(ValueError, match="amount_usd"):
        ledger.reserve({"a": 1.0}, -0.1)
    with pytest.raises(ValueError, match="limit"):
        ledger.reserve({"a": float("inf")}, 0.1)
    with pytest.raises(ValueError, match="ttl_seconds"):
        ledger.reserve({"a": 1.0}, 0.1, ttl_seconds=0)
    r = ledger.reserve({"a": 1.0}, 0.1)
    with pytest.raises(ValueError, match="actual_usd"):
        ledger.settle(r, float("nan"))
    assert ledger.reserved("a") == pytest.approx(0.1)


def test_records_round_trip_and_since_filter(ledger: Ledger) -> None:
    first, second = _record(0.1), _record(0.2, minutes=5, keys=("a", "b"))
    ledger.record(first)
    ledger.settle(ledger.reserve({"a": 1.0}, 0.2), 0.2, second)
    assert ledger.records() == [first, second]
    assert ledger.records(since=T0 + timedelta(minutes=1)) == [second]
    # Naive "since" is taken as UTC.
    assert ledger.records(since=(T0 + timedelta(minutes=5)).replace(tzinfo=None)) == [second]
    assert ledger.records(since=T0 + timedelta(hours=1)) == []


async def test_async_twins(ledger: Ledger) -> None:
    r = await ledger.areserve({"a": 1.0}, 0.6, tier="t")
    with pytest.raises(BudgetExceededError):
        await ledger.areserve({"a": 1.0}, 0.6)
    await ledger.asettle(r, 0.25, _record(0.25))
    r2 = await ledger.areserve({"a": 1.0}, 0.6)
    await ledger.arelease(r2)
    await ledger.arecord(_record(0.0))
    assert ledger.spent("a") == pytest.approx(0.25)
    assert ledger.reserved("a") == 0.0
    assert len(ledger.records()) == 2


def test_spend_record_dict_round_trip() -> None:
    rec = _record(0.5, keys=("x",))
    data = rec.to_dict()
    assert data["time"] == "2026-11-28T12:00:00+00:00"
    assert data["budget_keys"] == ["x"]
    assert SpendRecord.from_dict(data) == rec
    assert SpendRecord.from_dict({**data, "future_field": 1}) == rec


def test_spend_record_normalises_time_to_utc() -> None:
    naive = SpendRecord(time=datetime(2026, 1, 1, 3, 0), tier="t", model="m")
    assert naive.time == datetime(2026, 1, 1, 3, 0, tzinfo=timezone.utc)
    plus_two = timezone(timedelta(hours=2))
    other = SpendRecord(time=datetime(2026, 1, 1, 5, 0, tzinfo=plus_two), tier="t", model="m")
    assert other.time.utcoffset() == timedelta(0)
    assert other.time == naive.time


def test_sqlite_persists_across_instances(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "spend.db"
    with SQLiteLedger(path, clock=clock) as first:
        first.settle(first.reserve({"a": 1.0}, 0.5), 0.4, _record(0.4))
        first.reserve({"a": 1.0}, 0.3)
    with SQLiteLedger(path, clock=clock) as second:
        assert second.spent("a") == pytest.approx(0.4)
        assert second.reserved("a") == pytest.approx(0.3)
        assert second.records() == [_record(0.4)]


def test_sqlite_closed_ledger_says_so(tmp_path: Path) -> None:
    ledger = SQLiteLedger(tmp_path / "spend.db")
    ledger.close()
    ledger.close()
    with pytest.raises(Exception, match="closed"):
        ledger.spent("a")


def test_memory_forgets_settled_and_expired_holds(clock: FakeClock) -> None:
    ledger = InMemoryLedger(clock=clock)
    for _ in range(500):
        ledger.settle(ledger.reserve({"a": 1e6}, 0.01), 0.01)
    ledger.reserve({"a": 1e6}, 0.01, ttl_seconds=1)
    clock.advance(2 * 86_400)
    ledger.reserved("a")
    assert len(ledger._holds) == 0
    assert len(ledger._deadlines) < 100
