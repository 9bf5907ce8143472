"""The ledger protocol as tests, run against each shared backend by subclassing.

A subclass provides a ``make`` fixture: ``make(clock=None) -> Ledger`` on a fresh prefix or
schema. Amounts are chosen so float arithmetic would drift (0.1 x 10) and the integer units
must make the limit exact.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from langchain_tiered.errors import BudgetExceededError
from langchain_tiered.ledger.base import SpendRecord
from langchain_tiered.testing import FakeClock

Make = Callable[..., Any]
T0 = datetime(2026, 11, 30, 12, tzinfo=timezone.utc)


def rec(cost: float, *, tier: str = "t", at: datetime = T0) -> SpendRecord:
    return SpendRecord(time=at, tier=tier, model="gpt-4.1-mini", cost_usd=cost, input_tokens=7)


class LedgerContract:
    def test_reserve_is_all_or_nothing_across_keys(self, make: Make) -> None:
        ledger = make()
        limits = {"g": 1.0, "user": 0.25}
        first = ledger.reserve(limits, 0.2)
        with pytest.raises(BudgetExceededError) as info:
            ledger.reserve(limits, 0.1, tier="big")
        assert info.value.scope == "user"
        assert info.value.tier == "big"
        assert info.value.remaining_usd == pytest.approx(0.05)
        # The refused call held nothing on "g" either.
        assert ledger.reserved("g") == pytest.approx(0.2)
        ledger.release(first)
        assert ledger.reserved("g") == 0.0
        assert ledger.reserved("user") == 0.0

    def test_settle_commits_once_and_appends_one_record(self, make: Make) -> None:
        ledger = make()
        held = ledger.reserve({"g": 1.0}, 0.5)
        ledger.settle(held, 0.125, rec(0.125))
        ledger.settle(held, 0.125, rec(0.125))  # idempotent
        ledger.release(held)  # no-op after settle
        assert ledger.spent("g") == 0.125
        assert ledger.reserved("g") == 0.0
        assert [r.cost_usd for r in ledger.records()] == [0.125]
        assert ledger.records()[0].input_tokens == 7

    def test_integer_units_make_the_limit_exact(self, make: Make) -> None:
        ledger = make()
        for _ in range(10):
            ledger.settle(ledger.reserve({"g": 1.0}, 0.1), 0.1)
        assert ledger.spent("g") == 1.0
        with pytest.raises(BudgetExceededError):
            ledger.reserve({"g": 1.0}, 1e-9)

    def test_expired_hold_frees_room_and_a_late_settle_still_counts(self, make: Make) -> None:
        clock = FakeClock(start=T0)
        ledger = make(clock=clock)
        crashed = ledger.reserve({"g": 1.0}, 0.75, ttl_seconds=10)
        with pytest.raises(BudgetExceededError):
            ledger.reserve({"g": 1.0}, 0.5)
        clock.advance(10.5)
        assert ledger.reserved("g") == 0.0
        later = ledger.reserve({"g": 1.0}, 0.5)
        # The "crashed" holder was only slow: its real cost still counts, once.
        ledger.settle(crashed, 0.25, rec(0.25))
        ledger.settle(later, 0.5, rec(0.5))
        assert ledger.spent("g") == 0.75
        assert ledger.reserved("g") == 0.0
        assert len(ledger.records()) == 2

    def test_records_since_and_record_without_budget(self, make: Make) -> None:
        ledger = make()
        ledger.record(rec(0.01, at=T0))
        ledger.record(rec(0.02, at=T0 + timedelta(hours=1)))
        assert [r.cost_usd for r in ledger.records()] == [0.01, 0.02]
        assert [r.cost_usd for r in ledger.records(since=T0 + timedelta(minutes=1))] == [0.02]
        assert ledger.records()[1].time == T0 + timedelta(hours=1)

    def test_threads_never_oversell(self, make: Make) -> None:
        ledger = make()
        admitted: list[Any] = []
        refused: list[BaseException] = []
        barrier = threading.Barrier(24)

        def worker() -> None:
            barrier.wait()
            try:
                admitted.append(ledger.reserve({"g": 1.0, "u": 5.0}, 0.1))
            except BudgetExceededError as exc:
                refused.append(exc)

        threads = [threading.Thread(target=worker) for _ in range(24)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(admitted) == 10
        assert len(refused) == 14
        assert ledger.reserved("g") == pytest.approx(1.0)
        for held in admitted:
            ledger.settle(held, 0.05, rec(0.05))
        assert ledger.spent("g") == 0.5
        assert ledger.spent("u") == 0.5

    async def test_async_twins(self, make: Make) -> None:
        ledger = make()
        held = await ledger.areserve({"g": 0.3}, 0.2)
        with pytest.raises(BudgetExceededError):
            await ledger.areserve({"g": 0.3}, 0.2)
        await ledger.asettle(held, 0.1, rec(0.1))
        other = await ledger.areserve({"g": 0.3}, 0.2)
        await ledger.arelease(other)
        await ledger.arecord(rec(0.0))
        assert ledger.spent("g") == 0.1
        assert ledger.reserved("g") == 0.0
        assert [r.cost_usd for r in ledger.records()] == [0.1, 0.0]
        if hasattr(ledger, "aclose"):
            await ledger.aclose()

    def test_feedback_last_one_wins_and_keeps_the_prompt(self, make: Make) -> None:
        from langchain_tiered.ledger.base import FeedbackStore

        clock = FakeClock(start=T0)
        ledger = make(clock=clock)
        assert isinstance(ledger, FeedbackStore)
        ledger.record_feedback("run-1", 0.0, prompt="What is 2+2?")
        clock.advance(1)
        ledger.record_feedback("run-2", 1.0)
        clock.advance(1)
        ledger.record_feedback("run-1", 0.75)  # a later grade; the prompt stays
        got = [(f.run_id, f.score, f.prompt, f.time) for f in ledger.feedback()]
        assert got == [
            ("run-2", 1.0, None, T0 + timedelta(seconds=1)),
            ("run-1", 0.75, "What is 2+2?", T0 + timedelta(seconds=2)),
        ]
