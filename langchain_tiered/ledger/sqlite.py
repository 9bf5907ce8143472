"""A ledger in one SQLite file, safe to share between threads and between processes."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import fields
from datetime import datetime, timedelta, timezone
from types import TracebackType
from typing import Any

from langchain_tiered._clock import Clock, SystemClock
from langchain_tiered.ledger.base import (
    Reservation,
    SpendRecord,
    actual_nanos,
    as_utc,
    expiry,
    limit_nanos,
    refusal,
    reserve_nanos,
    to_usd,
)
from langchain_tiered.ledger.memory import EXPIRED_GRACE_SECONDS

__all__ = ["SQLiteLedger"]

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)
# Expired rows are deleted at most this often, so the cleanup stays off the hot path.
_CLEANUP_EVERY_SECONDS = 60.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spend (key TEXT PRIMARY KEY, amount INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS holds (
    id TEXT PRIMARY KEY, amount INTEGER NOT NULL, expires_at REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS reservations (
    id TEXT NOT NULL, key TEXT NOT NULL, amount INTEGER NOT NULL, expires_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS reservations_by_key ON reservations (key, expires_at);
CREATE INDEX IF NOT EXISTS reservations_by_id ON reservations (id);
CREATE INDEX IF NOT EXISTS holds_by_expiry ON holds (expires_at);
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    time_us INTEGER NOT NULL, tier TEXT NOT NULL, model TEXT NOT NULL,
    input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL,
    cached_tokens INTEGER NOT NULL, reasoning_tokens INTEGER NOT NULL,
    cost_usd REAL NOT NULL, estimated_cost_usd REAL NOT NULL, baseline_cost_usd REAL,
    budget_keys TEXT NOT NULL, fallback INTEGER NOT NULL, cached_response INTEGER NOT NULL,
    run_id TEXT
);
CREATE INDEX IF NOT EXISTS records_by_time ON records (time_us);
"""

# Column lists come from SpendRecord's own fields (constants, never user input), so adding
# a field to the record cannot silently drop it from storage.
_RECORD_COLUMNS = [f.name for f in fields(SpendRecord)]
_COLUMN_LIST = ", ".join("time_us" if c == "time" else c for c in _RECORD_COLUMNS)
_PLACEHOLDERS = ", ".join("?" for _ in _RECORD_COLUMNS)
_INSERT_RECORD = f"INSERT INTO records ({_COLUMN_LIST}) VALUES ({_PLACEHOLDERS})"  # noqa: S608
_SELECT_RECORDS: str = f"SELECT {_COLUMN_LIST} FROM records"  # noqa: S608


class SQLiteLedger:
    """A :class:`~langchain_tiered.ledger.base.Ledger` persisted in a SQLite file.

    Several processes may open the same file: :meth:`reserve` runs its check and insert in
    one ``BEGIN IMMEDIATE`` transaction, which takes SQLite's write lock first, so two
    processes can never both see room that only one of them may take. Within a process one
    connection is shared under a lock; the async methods run the sync ones in
    :func:`asyncio.to_thread` so the event loop never waits on the file lock.

    Every write commits before returning, so committed spend survives the process being
    killed. Reservations of a crashed holder stop counting once they expire and are deleted
    lazily later.

    Args:
        path: The database file (created if missing).
        clock: Time source for reservation expiry. Processes sharing a
            file compare wall-clock expiry times, so their clocks should agree.
        timeout: Seconds to wait for another process's write lock before failing.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        clock: Clock | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.path = os.fspath(path)
        self._clock: Clock = clock or SystemClock()
        self._lock = threading.Lock()
        self._last_cleanup = float("-inf")
        # Autocommit mode (isolation_level=None): transactions are opened explicitly below,
        # because the module's implicit BEGIN would be DEFERRED and race between processes.
        self._db: sqlite3.Connection | None = sqlite3.connect(
            self.path, timeout=timeout, isolation_level=None, check_same_thread=False
        )
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            # NORMAL keeps WAL commits durable across a killed process; only power loss can
            # drop the last transactions, and it saves an fsync on every reserve and settle.
            self._db.execute("PRAGMA synchronous=NORMAL")
            # IMMEDIATE here too: a deferred transaction upgraded to a write can fail with
            # "database is locked" at once, without waiting, when processes start together.
            with self._write() as db:
                _create_schema(db)

    def __repr__(self) -> str:
        return f"SQLiteLedger({self.path!r})"

    def __enter__(self) -> SQLiteLedger:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection; further calls raise :class:`sqlite3.ProgrammingError`."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def reserve(
        self,
        limits: Mapping[str, float],
        amount_usd: float,
        *,
        ttl_seconds: float = 600.0,
        tier: str | None = None,
    ) -> Reservation:
        """All-or-nothing reservation across ``limits`` (see :meth:`Ledger.reserve`)."""
        amount = reserve_nanos(amount_usd)
        caps = {key: limit_nanos(limit) for key, limit in limits.items()}
        now = self._clock.now().timestamp()
        rid = uuid.uuid4().hex
        expires_at = expiry(now, ttl_seconds)
        with self._lock, self._write() as db:
            self._maybe_cleanup(db, now)
            for key, cap in caps.items():
                committed, held = _spent(db, key), _held(db, key, now)
                if committed + held + amount > cap:
                    # Raising rolls the transaction back: nothing is reserved on refusal.
                    raise refusal(
                        key,
                        limit_usd=limits[key],
                        amount_usd=amount_usd,
                        committed=committed,
                        held=held,
                        tier=tier,
                    )
            db.execute("INSERT INTO holds VALUES (?, ?, ?)", (rid, amount, expires_at))
            db.executemany(
                "INSERT INTO reservations VALUES (?, ?, ?, ?)",
                [(rid, key, amount, expires_at) for key in caps],
            )
        return Reservation(
            id=rid, limits=dict(limits), amount_usd=amount_usd, expires_at=expires_at
        )

    def settle(
        self, reservation: Reservation, actual_usd: float, record: SpendRecord | None = None
    ) -> None:
        """Commit ``actual_usd`` to the reservation's keys (see :meth:`Ledger.settle`)."""
        actual = actual_nanos(actual_usd)
        with self._lock, self._write() as db:
            if not _drop(db, reservation.id):
                return
            db.executemany(
                "INSERT INTO spend VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET amount = amount + excluded.amount",
                [(key, actual) for key in reservation.limits],
            )
            if record is not None:
                db.execute(_INSERT_RECORD, _record_row(record))

    def release(self, reservation: Reservation) -> None:
        """Drop the reservation without committing anything; a no-op if already finished.

        Args:
            reservation: What :meth:`reserve` returned.
        """
        with self._lock, self._write() as db:
            _drop(db, reservation.id)

    def record(self, record: SpendRecord) -> None:
        """Append a history row that involves no budget key.

        Args:
            record: The row to append.
        """
        with self._lock, self._write() as db:
            db.execute(_INSERT_RECORD, _record_row(record))

    def spent(self, key: str) -> float:
        """Committed spend under ``key`` in USD."""
        with self._lock:
            return to_usd(_spent(self._conn(), key))

    def reserved(self, key: str) -> float:
        """Room currently held by unexpired reservations under ``key`` in USD."""
        now = self._clock.now().timestamp()
        with self._lock:
            return to_usd(_held(self._conn(), key, now))

    def records(self, since: datetime | None = None) -> list[SpendRecord]:
        """Spend records in insertion order, optionally only those at or after ``since``.

        Args:
            since: Earliest record time to include (naive values are taken as UTC).

        Returns:
            The matching records.
        """
        sql = _SELECT_RECORDS
        params: tuple[int, ...] = ()
        if since is not None:
            # A plain range predicate (no "? IS NULL OR ...") so records_by_time is used.
            sql, params = f"{sql} WHERE time_us >= ?", (_micros(since),)
        with self._lock:
            rows = self._conn().execute(f"{sql} ORDER BY seq", params).fetchall()
        return [_row_record(row) for row in rows]

    async def areserve(
        self,
        limits: Mapping[str, float],
        amount_usd: float,
        *,
        ttl_seconds: float = 600.0,
        tier: str | None = None,
    ) -> Reservation:
        """Async twin of :meth:`reserve`, run in a worker thread."""
        return await asyncio.to_thread(
            self.reserve, limits, amount_usd, ttl_seconds=ttl_seconds, tier=tier
        )

    async def asettle(
        self, reservation: Reservation, actual_usd: float, record: SpendRecord | None = None
    ) -> None:
        """Async twin of :meth:`settle`, run in a worker thread."""
        await asyncio.to_thread(self.settle, reservation, actual_usd, record)

    async def arelease(self, reservation: Reservation) -> None:
        """Async twin of :meth:`release`, run in a worker thread."""
        await asyncio.to_thread(self.release, reservation)

    async def arecord(self, record: SpendRecord) -> None:
        """Async twin of :meth:`record`, run in a worker thread."""
        await asyncio.to_thread(self.record, record)

    # -- private helpers; callers hold self._lock -------------------------------------

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            msg = f"{self!r} is closed; open a new SQLiteLedger to keep using the file"
            raise sqlite3.ProgrammingError(msg)
        return self._db

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        db = self._conn()
        # IMMEDIATE takes the write lock up front, so a check-then-insert cannot interleave
        # with another process doing the same.
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def _maybe_cleanup(self, db: sqlite3.Connection, now: float) -> None:
        if now - self._last_cleanup < _CLEANUP_EVERY_SECONDS:
            return
        self._last_cleanup = now
        # Rows past expiry no longer count; keep them through the grace period so a slow
        # (not crashed) holder that settles late still has its real cost committed.
        forget_before = now - EXPIRED_GRACE_SECONDS
        db.execute("DELETE FROM holds WHERE expires_at < ?", (forget_before,))
        db.execute("DELETE FROM reservations WHERE expires_at < ?", (forget_before,))


def _create_schema(db: sqlite3.Connection) -> None:
    # executescript() would COMMIT the open transaction, so run the statements one by one.
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            db.execute(statement)


def _spent(db: sqlite3.Connection, key: str) -> int:
    row = db.execute("SELECT amount FROM spend WHERE key = ?", (key,)).fetchone()
    return int(row[0]) if row else 0


def _held(db: sqlite3.Connection, key: str, now: float) -> int:
    row = db.execute(
        "SELECT COALESCE(SUM(amount), 0) FROM reservations WHERE key = ? AND expires_at > ?",
        (key, now),
    ).fetchone()
    return int(row[0])


def _drop(db: sqlite3.Connection, reservation_id: str) -> bool:
    """Delete a reservation; return whether it still existed (so it is finished only once)."""
    if db.execute("DELETE FROM holds WHERE id = ?", (reservation_id,)).rowcount == 0:
        return False
    db.execute("DELETE FROM reservations WHERE id = ?", (reservation_id,))
    return True


def _micros(value: datetime) -> int:
    # Integer microseconds are exact, unlike float epoch seconds, so records round-trip.
    return (as_utc(value) - _EPOCH) // _MICROSECOND


def _record_row(record: SpendRecord) -> tuple[Any, ...]:
    data = record.to_dict()
    data["time"] = _micros(record.time)
    data["budget_keys"] = json.dumps(list(record.budget_keys))
    data["fallback"] = int(record.fallback)
    data["cached_response"] = int(record.cached_response)
    return tuple(data[c] for c in _RECORD_COLUMNS)


def _row_record(row: tuple[Any, ...]) -> SpendRecord:
    data = dict(zip(_RECORD_COLUMNS, row, strict=True))
    data["time"] = _EPOCH + data["time"] * _MICROSECOND
    data["budget_keys"] = tuple(json.loads(data["budget_keys"]))
    data["fallback"] = bool(data["fallback"])
    data["cached_response"] = bool(data["cached_response"])
    return SpendRecord(**data)
