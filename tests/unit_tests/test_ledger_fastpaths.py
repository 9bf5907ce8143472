"""The budget path's shortcuts (issue 13) give exactly what the slower code they replace gave.

Each test here fails if a shortcut drifts: a hand-written ``__init__`` losing a field or a
default, a reservation id losing its randomness, a clock shortcut ignoring a fake clock, a
period key formatted differently from ``strftime``, a stored row missing a column.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import math
import os
import pickle
import random
import sqlite3
import time
from datetime import datetime, timedelta, timezone
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from langchain_tiered import Budget
from langchain_tiered._clock import SystemClock
from langchain_tiered.errors import BudgetExceededError
from langchain_tiered.ledger import InMemoryLedger, Reservation, SpendRecord, SQLiteLedger
from langchain_tiered.ledger._amounts import _to_nanos
from langchain_tiered.ledger._reserve import hold_request, new_id
from langchain_tiered.ledger._sqlite_schema import RECORD_COLUMNS, record_row
from langchain_tiered.ledger.base import actual_nanos, limit_nanos, reserve_nanos, wall_seconds
from langchain_tiered.ledger.journal import JournalEntry, SettlementJournal
from langchain_tiered.testing import FakeClock

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("cls", [SpendRecord, Reservation])
def test_init_signature_is_the_fields_in_order_with_their_defaults(cls: type) -> None:
    params = list(inspect.signature(cls).parameters.values())
    declared = dataclasses.fields(cls)
    assert [p.name for p in params] == [f.name for f in declared]
    for param, f in zip(params, declared, strict=True):
        assert param.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
        expected = inspect.Parameter.empty if f.default is dataclasses.MISSING else f.default
        assert param.default == expected, f.name


def _full_record(**changes: object) -> SpendRecord:
    values: dict[str, object] = {
        "time": T0,
        "tier": "budget",
        "model": "gpt-4.1-mini",
        "input_tokens": 1,
        "output_tokens": 2,
        "cached_tokens": 3,
        "reasoning_tokens": 4,
        "cost_usd": 0.5,
        "estimated_cost_usd": 0.75,
        "baseline_cost_usd": 1.25,
        "budget_keys": ("a", "b"),
        "fallback": True,
        "cached_response": True,
        "run_id": "run-9",
        "error": "APITimeoutError: timed out",
        "cost_is_estimate": True,
    }
    values.update(changes)
    return SpendRecord(**values)  # type: ignore[arg-type]


def test_spend_record_keeps_every_value_positionally_and_by_keyword() -> None:
    rec = _full_record()
    by_position = SpendRecord(*(getattr(rec, f.name) for f in dataclasses.fields(SpendRecord)))
    assert by_position == rec
    assert hash(by_position) == hash(rec)
    assert dataclasses.astuple(rec)[1:] == (
        "budget", "gpt-4.1-mini", 1, 2, 3, 4, 0.5, 0.75, 1.25, ("a", "b"), True, True,
        "run-9", "APITimeoutError: timed out", True,
    )  # fmt: skip
    assert dataclasses.replace(rec, tier="other").tier == "other"
    with pytest.raises(dataclasses.FrozenInstanceError):
        rec.tier = "x"  # type: ignore[misc]


def test_spend_record_normalises_keys_time_and_masks_error() -> None:
    secret = "sk-proj-" + "A" * 40
    rec = _full_record(budget_keys=["a"], error=f"AuthenticationError: bad key {secret}")
    assert rec.budget_keys == ("a",)
    assert secret not in (rec.error or "")
    same_instant = _full_record(time=T0.astimezone(timezone(timedelta(hours=-5))))
    assert same_instant.time.tzinfo is timezone.utc
    assert same_instant.time == T0
    assert _full_record(time=T0.replace(tzinfo=None)).time == T0


@pytest.mark.parametrize(
    "value", [_full_record(), Reservation("id1", {"a": 1.0}, 0.25, 10.0)], ids=type
)
def test_pickle_and_copies_keep_every_field(value: object) -> None:
    for clone in (pickle.loads(pickle.dumps(value)), copy.copy(value), copy.deepcopy(value)):
        assert clone == value
        assert dataclasses.asdict(clone) == dataclasses.asdict(value)  # type: ignore[call-overload]


def test_reservation_replace_and_equality() -> None:
    r = Reservation("id1", {"a": 1.0}, 0.25, 10.0)
    assert r == Reservation(id="id1", limits={"a": 1.0}, amount_usd=0.25, expires_at=10.0)
    moved = dataclasses.replace(r, id="local:id1")
    assert (moved.id, moved.limits, moved.amount_usd) == ("local:id1", {"a": 1.0}, 0.25)
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.id = "x"  # type: ignore[misc]


def test_reservation_ids_are_fresh_random_hex() -> None:
    ids = {new_id() for _ in range(2_000)}
    assert len(ids) == 2_000
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    asks = {hold_request({"a": 1.0}, 0.1, 60.0, 0.0).id for _ in range(100)}
    assert len(asks) == 100


def test_reservation_ids_ignore_the_global_random_seed() -> None:
    """Replicas that all call ``random.seed(42)`` must still draw different ids."""
    random.seed(42)
    first = new_id()
    random.seed(42)
    assert new_id() != first


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX-only")
def test_a_forked_child_draws_other_ids_than_its_parent() -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe and exits
        os.write(write, "".join(new_id() for _ in range(20)).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    with os.fdopen(read) as pipe:
        child = pipe.read()
    parent = [new_id() for _ in range(20)]
    child_ids = {child[i : i + 32] for i in range(0, len(child), 32)}
    assert len(child_ids) == 20
    assert child_ids.isdisjoint(parent)


def test_wall_seconds_follows_the_clock_it_was_given() -> None:
    fake = FakeClock(start=T0)
    read = wall_seconds(fake)
    assert read() == T0.timestamp()
    fake.advance(5)
    assert read() == T0.timestamp() + 5
    assert wall_seconds(SystemClock()) is time.time

    class Shifted(SystemClock):
        def now(self) -> datetime:
            return T0

    assert wall_seconds(Shifted())() == T0.timestamp()


def test_memory_ledger_expires_on_the_fake_clock() -> None:
    clock = FakeClock(start=T0)
    ledger = InMemoryLedger(clock=clock)
    held = ledger.reserve({"a": 1.0}, 0.6, ttl_seconds=30)
    assert held.expires_at == T0.timestamp() + 30
    with pytest.raises(BudgetExceededError):
        ledger.reserve({"a": 1.0}, 0.6)
    clock.advance(31)
    ledger.reserve({"a": 1.0}, 0.6)


@pytest.mark.parametrize(
    "when",
    [
        datetime(2026, 1, 5, 0, 0, tzinfo=timezone.utc),
        datetime(2026, 12, 31, 23, 59, 59, tzinfo=timezone.utc),
        datetime(1999, 9, 9, 9, 9, tzinfo=timezone.utc),
        datetime(9999, 10, 1, tzinfo=timezone.utc),
    ],
)
def test_period_keys_read_as_strftime_wrote_them(when: datetime) -> None:
    day, month = Budget(limit_usd=1.0, period="day"), Budget(limit_usd=1.0, period="month")
    assert day.key(None, when) == f"budget:global:day:{when:%Y-%m-%d}"
    assert month.key(None, when) == f"budget:global:month:{when:%Y-%m}"


def test_record_row_stores_every_field(tmp_path: Path) -> None:
    rec = _full_record()
    row = dict(zip(RECORD_COLUMNS, record_row(rec), strict=True))
    assert row["time"] == int(T0.timestamp()) * 1_000_000
    assert row["budget_keys"] == '["a", "b"]'
    assert (row["fallback"], row["cached_response"], row["cost_is_estimate"]) == (1, 1, 1)
    assert row["error"] == rec.error
    with SQLiteLedger(tmp_path / "spend.db", clock=FakeClock(start=T0)) as ledger:
        ledger.record(rec)
        other = _full_record(budget_keys=("c",), fallback=False, error=None, run_id=None)
        ledger.settle(ledger.reserve({"c": 1.0}, 0.8), 0.5, other)
        assert ledger.records() == [rec, other]


def test_sqlite_refusal_counts_spend_and_unexpired_holds_only(tmp_path: Path) -> None:
    clock = FakeClock(start=T0)
    with SQLiteLedger(tmp_path / "spend.db", clock=clock) as ledger:
        ledger.settle(ledger.reserve({"a": 1.0, "b": 5.0}, 0.5), 0.25)
        ledger.reserve({"a": 1.0}, 0.125, ttl_seconds=10)
        ledger.reserve({"a": 1.0}, 0.375, ttl_seconds=100)
        with pytest.raises(BudgetExceededError) as info:
            ledger.reserve({"b": 5.0, "a": 1.0}, 0.5)
        assert info.value.scope == "a"
        assert info.value.remaining_usd == pytest.approx(1.0 - 0.25 - 0.125 - 0.375)
        assert ledger.reserved("b") == 0.0  # nothing held on refusal
        clock.advance(11)  # the 0.125 hold expired: 0.375 of room now
        assert ledger.reserved("a") == pytest.approx(0.375)
        ledger.reserve({"b": 5.0, "a": 1.0}, 0.375)
        assert (ledger.spent("a"), ledger.spent("b")) == (0.25, 0.25)


def test_journal_pending_only_with_entries(tmp_path: Path) -> None:
    journal = SettlementJournal(tmp_path / "j.jsonl")
    assert not journal.pending()  # no file
    (tmp_path / "j.jsonl").write_text("")
    assert not journal.pending()  # replayed (truncated) file
    journal.append(JournalEntry("id", ("a",), 5, None))
    assert journal.pending()


_ROUNDINGS = (ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN)


def _slow(usd: float, rounding: str) -> int:
    return int((Decimal(repr(float(usd))) * Decimal(10**9)).to_integral_value(rounding))


@settings(max_examples=3_000, deadline=None)
@given(
    st.one_of(
        st.floats(min_value=0.0, max_value=2_000.0),
        # where a float product's last bit is worth 1e-4 to 1 nano-dollar
        st.floats(min_value=2_000.0, max_value=1e7),
    )
)
def test_nano_conversion_equals_the_exact_decimal(usd: float) -> None:
    for rounding in _ROUNDINGS:
        assert _to_nanos(usd, "amount_usd", rounding) == _slow(usd, rounding), (usd, rounding)


@given(st.integers(min_value=0, max_value=10**12), st.sampled_from([0.0, 0.5]))
def test_nano_conversion_next_to_rounding_boundaries(nanos: int, half: float) -> None:
    # Whole and half nano-dollars, and the floats right next to them, are where a float
    # product could round the wrong way.
    exact = (nanos + half) / 1e9
    for usd in (exact, math.nextafter(exact, 0.0), math.nextafter(exact, math.inf)):
        for rounding in _ROUNDINGS:
            assert _to_nanos(usd, "limit", rounding) == _slow(usd, rounding), (usd, rounding)


def test_nano_conversion_still_refuses_bad_amounts() -> None:
    for bad in (-1e-9, -0.5, math.nan, math.inf, -math.inf):
        with pytest.raises(ValueError, match="finite amount >= 0"):
            reserve_nanos(bad)
    assert (reserve_nanos(0.1), actual_nanos(0.1), limit_nanos(0.3)) == (10**8, 10**8, 3 * 10**8)
    assert reserve_nanos(0.0000000011) == 2  # 1.1 nano-dollars held as 2, never 1
    assert limit_nanos(0.0000000019) == 1
    assert actual_nanos(0.0000000025) == 2  # half to even
    assert actual_nanos(5_000.0000000015) == 5_000_000_000_002  # above the fast range


def _rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as db:
        return db.execute(sql).fetchall()


def test_settle_and_release_remove_every_row_of_the_hold(tmp_path: Path) -> None:
    path = tmp_path / "spend.db"
    clock = FakeClock(start=T0)
    with SQLiteLedger(path, clock=clock) as ledger:
        kept = ledger.reserve({"a": 1.0, "b": 1.0}, 0.25)
        ledger.settle(ledger.reserve({"a": 1.0, "b": 1.0}, 0.25), 0.125)
        ledger.release(ledger.reserve({"a": 1.0, "c": 1.0}, 0.25))
        # A reservation whose expiry no longer matches its rows still finds them (by id).
        moved = ledger.reserve({"a": 1.0, "b": 1.0}, 0.25)
        ledger.settle(dataclasses.replace(moved, expires_at=moved.expires_at + 1), 0.125)
        assert _rows(path, "SELECT id FROM reservations") == [(kept.id,)] * 2
        assert _rows(path, "SELECT id FROM holds") == [(kept.id,)]
        assert (ledger.spent("a"), ledger.reserved("a")) == (0.25, 0.25)


def test_a_journal_entry_of_an_older_release_is_replayed_by_id(tmp_path: Path) -> None:
    path = tmp_path / "spend.db"
    clock = FakeClock(start=T0)
    with SQLiteLedger(path, clock=clock) as ledger:
        held = ledger.reserve({"a": 1.0}, 0.5)
    old_line = JournalEntry(held.id, ("a",), 300_000_000, None).to_json()
    assert '"expires_at":null' in old_line
    Path(f"{path}.settle-journal.jsonl").write_text(
        old_line.replace(',"expires_at":null', "") + "\n"
    )
    with SQLiteLedger(path, clock=clock) as ledger:
        assert (ledger.spent("a"), ledger.reserved("a")) == (0.3, 0.0)
    assert _rows(path, "SELECT COUNT(*) FROM reservations") == [(0,)]


def test_journal_entries_keep_the_expiry() -> None:
    entry = JournalEntry("id", ("a", "b"), 7, _full_record(), 1234.5)
    assert JournalEntry.from_json(entry.to_json()) == entry


def test_a_write_open_drops_the_indexes_older_releases_made(tmp_path: Path) -> None:
    path = tmp_path / "spend.db"
    SQLiteLedger(path).close()
    with sqlite3.connect(path) as db:  # as an older release left the file
        db.execute("CREATE INDEX reservations_by_id ON reservations (id)")
        db.execute("CREATE INDEX holds_by_expiry ON holds (expires_at)")
    SQLiteLedger.open_readonly(path).close()  # a read-only open changes nothing
    indexes = "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE '%by%'"
    assert len(_rows(path, indexes)) == 4
    with SQLiteLedger(path) as ledger:
        ledger.settle(ledger.reserve({"a": 1.0}, 0.5), 0.25)
    assert sorted(_rows(path, indexes)) == [("records_by_time",), ("reservations_by_key",)]
