"""A paid answer is never lost because the SQLite ledger refused the write (issue 10).

Settle retries, then journals the settlement locally and warns once; the journal is replayed
(exactly once per settlement) before the next write and on the next open. Meanwhile the call's
reservation keeps holding its worst case, so budgets stay conservative.
"""

from __future__ import annotations

import sqlite3
import warnings
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

from langchain_tiered.errors import BudgetExceededError
from langchain_tiered.ledger import LedgerWriteWarning, SpendRecord, SQLiteLedger
from langchain_tiered.ledger.journal import JournalEntry, SettlementJournal
from langchain_tiered.testing import FakeClock

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)
LIMITS = {"day": 1.0}


def _rec(cost: float, error: str | None = None) -> SpendRecord:
    return SpendRecord(time=T0, tier="t", model="m", cost_usd=cost, error=error)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=T0)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "spend.db"


@pytest.fixture
def blocker(path: Path) -> Iterator[sqlite3.Connection]:
    """Another process's connection, ready to hold the write lock."""
    SQLiteLedger(path).close()
    db = sqlite3.connect(path, isolation_level=None)
    yield db
    if db.in_transaction:
        db.execute("ROLLBACK")
    db.close()


def _journal(path: Path) -> Path:
    return path.parent / f"{path.name}.settle-journal.jsonl"


def test_settle_on_a_locked_file_journals_warns_once_and_keeps_the_hold(
    path: Path, clock: FakeClock, blocker: sqlite3.Connection
) -> None:
    ledger = SQLiteLedger(path, clock=clock, timeout=0.01)
    first, second = ledger.reserve(LIMITS, 0.4), ledger.reserve(LIMITS, 0.3)
    blocker.execute("BEGIN IMMEDIATE")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ledger.settle(first, 0.1, _rec(0.1))  # no OperationalError: the answer was paid
        ledger.settle(second, 0.2, _rec(0.2))
    assert [w.category for w in caught] == [LedgerWriteWarning]  # warned once
    assert "journaled" in str(caught[0].message)
    assert clock.sleeps == [0.05, 0.25, 0.05, 0.25]  # retried before journaling
    assert len(_journal(path).read_text().splitlines()) == 2
    # Conservative meanwhile: both worst cases still count, nothing is committed yet.
    assert ledger.reserved("day") == pytest.approx(0.7)
    assert ledger.spent("day") == 0.0

    blocker.execute("ROLLBACK")
    third = ledger.reserve(LIMITS, 0.05)  # the next write replays first
    assert ledger.spent("day") == pytest.approx(0.3)
    assert ledger.reserved("day") == pytest.approx(0.05)
    assert [r.cost_usd for r in ledger.records()] == [0.1, 0.2]
    assert not SettlementJournal(_journal(path)).pending()
    ledger.release(third)
    ledger.close()


def test_journal_is_replayed_on_the_next_open_exactly_once(
    path: Path, clock: FakeClock, blocker: sqlite3.Connection
) -> None:
    ledger = SQLiteLedger(path, clock=clock, timeout=0.01)
    r = ledger.reserve(LIMITS, 0.4)
    blocker.execute("BEGIN IMMEDIATE")
    with pytest.warns(LedgerWriteWarning):
        ledger.settle(r, 0.1, _rec(0.1))
    ledger.close()
    journaled = _journal(path).read_text()
    blocker.execute("ROLLBACK")

    with SQLiteLedger(path, clock=clock) as reopened:
        assert reopened.spent("day") == pytest.approx(0.1)
        assert reopened.reserved("day") == 0.0
    # The same entry journaled again (a crash between applying and truncating) is skipped.
    _journal(path).write_text(journaled)
    with SQLiteLedger(path, clock=clock) as reopened:
        assert reopened.spent("day") == pytest.approx(0.1)
        assert len(reopened.records()) == 1


def test_another_process_replays_the_journal_before_its_own_write(
    path: Path, clock: FakeClock, blocker: sqlite3.Connection
) -> None:
    a = SQLiteLedger(path, clock=clock, timeout=0.01)
    b = SQLiteLedger(path, clock=clock, timeout=0.01)
    r = a.reserve(LIMITS, 0.9)
    blocker.execute("BEGIN IMMEDIATE")
    with pytest.warns(LedgerWriteWarning):
        a.settle(r, 0.9)
    blocker.execute("ROLLBACK")
    # b must see the 0.9 committed (not the hold lapsed): only 0.1 is left.
    b.reserve(LIMITS, 0.1)
    assert b.spent("day") == pytest.approx(0.9)
    with pytest.raises(BudgetExceededError, match="cannot hold"):
        b.reserve(LIMITS, 0.01)
    a.close()
    b.close()


def test_disk_full_for_file_and_journal_keeps_it_in_memory_until_a_write_works(
    path: Path, clock: FakeClock
) -> None:
    ledger = SQLiteLedger(path, clock=clock, journal_path="/dev/full")
    r = ledger.reserve(LIMITS, 0.5)
    db = ledger._db
    assert db is not None
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(f"PRAGMA max_page_count={pages}")  # the file cannot grow: SQLITE_FULL
    with pytest.warns(LedgerWriteWarning, match="in memory"):
        ledger.settle(r, 0.25, _rec(0.25, error="x" * 50_000))
    assert ledger.spent("day") == 0.0
    assert ledger.reserved("day") == pytest.approx(0.5)

    db.execute("PRAGMA max_page_count=1073741823")  # space freed
    ledger.record(_rec(0.0))
    assert ledger.spent("day") == pytest.approx(0.25)
    assert [r.cost_usd for r in ledger.records()] == [0.25, 0.0]
    ledger.close()


def test_close_reports_what_neither_file_nor_journal_took(path: Path, clock: FakeClock) -> None:
    ledger = SQLiteLedger(path, clock=clock, journal_path="/dev/full")
    r = ledger.reserve(LIMITS, 0.5)
    db = ledger._db
    assert db is not None
    db.execute(f"PRAGMA max_page_count={db.execute('PRAGMA page_count').fetchone()[0]}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ledger.settle(r, 0.25, _rec(0.25, error="x" * 50_000))
        ledger.close()
    messages = [str(w.message) for w in caught if w.category is LedgerWriteWarning]
    assert len(messages) == 2
    assert "$0.250000" in messages[1]


def test_a_torn_last_line_is_skipped_and_the_rest_applied(path: Path, clock: FakeClock) -> None:
    with SQLiteLedger(path, clock=clock) as ledger:
        r = ledger.reserve(LIMITS, 0.5)
    entry = JournalEntry(r.id, ("day",), 200_000_000, _rec(0.2))
    _journal(path).write_text(entry.to_json() + "\n" + entry.to_json()[:20])
    with SQLiteLedger(path, clock=clock) as ledger:
        assert ledger.spent("day") == pytest.approx(0.2)
        assert ledger.reserved("day") == 0.0


def test_a_closed_ledger_still_raises_instead_of_journaling(path: Path) -> None:
    ledger = SQLiteLedger(path)
    r = ledger.reserve(LIMITS, 0.5)
    ledger.close()
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        ledger.settle(r, 0.1)


def test_a_readonly_open_warns_about_journaled_spend_and_leaves_it(
    path: Path, clock: FakeClock, blocker: sqlite3.Connection
) -> None:
    ledger = SQLiteLedger(path, clock=clock, timeout=0.01)
    r = ledger.reserve(LIMITS, 0.4)
    blocker.execute("BEGIN IMMEDIATE")
    with pytest.warns(LedgerWriteWarning):
        ledger.settle(r, 0.1)
    blocker.execute("ROLLBACK")
    with pytest.warns(LedgerWriteWarning, match="understated"):
        reader = SQLiteLedger.open_readonly(path)
    assert reader.spent("day") == 0.0  # a reader never writes, not even a replay
    reader.close()
    assert SettlementJournal(_journal(path)).pending()
    ledger.close()
