"""InMemoryLedger keeps spend totals forever but only a bounded history of records (issue 10)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from langchain_tiered.ledger import InMemoryLedger, SpendRecord

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)


def _rec(n: int) -> SpendRecord:
    return SpendRecord(time=T0 + timedelta(seconds=n), tier="t", model="m", cost_usd=n / 100)


def test_only_the_newest_records_are_kept_but_totals_count_everything() -> None:
    ledger = InMemoryLedger(max_records=3)
    for n in range(1, 6):
        ledger.settle(ledger.reserve({"day": 10.0}, 1.0), n / 100, _rec(n))
    assert [r.cost_usd for r in ledger.records()] == [0.03, 0.04, 0.05]
    assert ledger.dropped_records == 2
    assert ledger.spent("day") == pytest.approx(0.15)
    assert [r.cost_usd for r in ledger.records(since=T0 + timedelta(seconds=4))] == [0.04, 0.05]


def test_the_default_bound_holds_ten_thousand() -> None:
    ledger = InMemoryLedger()
    for n in range(10_005):
        ledger.record(_rec(n))
    records = ledger.records()
    assert len(records) == 10_000
    assert records[0].cost_usd == 0.05
    assert ledger.dropped_records == 5


def test_none_keeps_every_record_and_negative_is_refused() -> None:
    ledger = InMemoryLedger(max_records=None)
    for n in range(20):
        ledger.record(_rec(n))
    assert len(ledger.records()) == 20
    assert ledger.dropped_records == 0
    with pytest.raises(ValueError, match="max_records"):
        InMemoryLedger(max_records=-1)
