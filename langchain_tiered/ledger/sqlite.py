"""A ledger in one SQLite file, safe to share between threads and between processes."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from types import TracebackType

from langchain_tiered._clock import Clock, SystemClock
from langchain_tiered.ledger._reserve import admit, hold_request, new_id, overdraft
from langchain_tiered.ledger._sqlite_failsafe import FailsafeWrites, drop_hold
from langchain_tiered.ledger._sqlite_schema import (
    connect_readonly,
    create_or_upgrade,
    ledger_version,
    micros,
    record_columns,
    row_record,
    select_records,
)
from langchain_tiered.ledger.base import (
    EXPIRED_GRACE_SECONDS,
    Feedback,
    LedgerReadOnlyError,
    Reservation,
    SpendRecord,
    actual_nanos,
    to_usd,
    wall_seconds,
)
from langchain_tiered.ledger.journal import JournalEntry, SettlementJournal

__all__ = ["SQLiteLedger"]

# Expired rows are deleted at most this often, so the cleanup stays off the hot path.
_CLEANUP_EVERY_SECONDS = 60.0
# Outcomes attached to past calls (record_feedback): a table of its own, made on first use,
# so ledgers that never get feedback keep the schema they had.
_FEEDBACK_TABLE = (
    "CREATE TABLE IF NOT EXISTS feedback (run_id TEXT PRIMARY KEY, score REAL NOT NULL, "
    "prompt TEXT, time_us INTEGER NOT NULL)"
)
_UPSERT_FEEDBACK = (
    "INSERT INTO feedback VALUES (?, ?, ?, ?) ON CONFLICT (run_id) DO UPDATE SET "
    "score = excluded.score, prompt = COALESCE(excluded.prompt, feedback.prompt), "
    "time_us = excluded.time_us"
)
_HAS_FEEDBACK = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'feedback'"


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

    **A paid answer is never lost to a failed write.** When :meth:`settle` (or :meth:`record`)
    cannot write (the file locked past ``timeout``, disk full, I/O error), it retries twice,
    then appends the settlement to a local journal (``<path>.settle-journal.jsonl``) and warns
    once with :class:`~langchain_tiered.ledger.base.LedgerWriteWarning` instead of raising.
    Every process replays the journal before its next write and on open, applying each entry
    exactly once. Meanwhile budgets stay conservative: the failed transaction left the
    reservation in place, so the call's worst case keeps counting until the replay commits
    the real cost. (A reservation that outlives its TTL before any process can write again
    stops counting, but no process can reserve while writes fail, and the first write that
    succeeds replays the journal first.) If the journal cannot be written either, the entry
    is kept in memory and retried on every write and at :meth:`close`.

    Args:
        path: The database file (created if missing, unless ``readonly``).
        clock: Time source for reservation expiry. Processes sharing a
            file compare wall-clock expiry times, so their clocks should agree.
        timeout: Seconds to wait for another process's write lock before failing.
        readonly: Open for reading only (see :meth:`open_readonly`).
        journal_path: Where settlements the file refused are journaled; defaults to
            ``<path>.settle-journal.jsonl``.

    Raises:
        NotALedgerError: ``path`` is another application's database (tables are never added
            to it), not SQLite, or a ledger of a newer schema version.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        clock: Clock | None = None,
        timeout: float = 30.0,
        readonly: bool = False,
        journal_path: str | os.PathLike[str] | None = None,
    ) -> None:
        self.path = os.fspath(path)
        self.readonly = readonly
        self._clock: Clock = clock or SystemClock()
        self._now = wall_seconds(self._clock)
        self._lock = threading.Lock()
        self._last_cleanup = float("-inf")
        journal = SettlementJournal(journal_path or f"{self.path}.settle-journal.jsonl")
        self._failsafe = FailsafeWrites(self._write, journal, self._clock, repr(self))
        self._db: sqlite3.Connection | None = None
        if readonly:
            self._db = connect_readonly(self.path, timeout)
            self._failsafe.warn_if_pending()
        else:
            self._db = self._connect_for_writing(timeout)
        self._select = select_records(record_columns(self._db))

    @classmethod
    def open_readonly(
        cls, path: str | os.PathLike[str], *, clock: Clock | None = None, timeout: float = 30.0
    ) -> SQLiteLedger:
        """Open an existing ledger for reading, never changing the file.

        No table is created, the journal mode is left alone, and nothing is written (not even
        a pending journal replay), so the file stays byte-identical. Works on a read-only file
        and in a read-only directory. Writes raise
        :class:`~langchain_tiered.ledger.base.LedgerReadOnlyError`.

        Args:
            path: The ledger file.
            clock: Time source for :meth:`reserved`.
            timeout: Seconds to wait for a writer's lock.

        Returns:
            The read-only ledger.

        Raises:
            NotALedgerError: The file is missing, empty, not SQLite, not a ledger, or a ledger
                of a newer schema version.
        """
        return cls(path, clock=clock, timeout=timeout, readonly=True)

    def __repr__(self) -> str:
        mode = ", readonly=True" if self.readonly else ""
        return f"SQLiteLedger({self.path!r}{mode})"

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
        """Close the connection; further calls raise :class:`sqlite3.ProgrammingError`.

        Settlements still held in memory (the file and the journal both refused them) get one
        last try; if that fails too they are reported in a warning with their amount.
        """
        with self._lock:
            if self._db is None:
                return
            if not self.readonly:
                self._failsafe.close()
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
        rid, amount, caps, now, expires_at = hold_request(
            limits, amount_usd, ttl_seconds, self._now()
        )
        with self._lock:
            self._failsafe.replay()
            with self._write() as db:
                self._maybe_cleanup(db, now)
                refused = overdraft(caps, amount, lambda key: _totals(db, key, now))
                # Raising rolls the transaction back: nothing is reserved on refusal.
                reservation = admit(rid, limits, amount_usd, expires_at, tier, refused)
                db.execute("INSERT INTO holds VALUES (?, ?, ?)", (rid, amount, expires_at))
                db.executemany(
                    "INSERT INTO reservations VALUES (?, ?, ?, ?)",
                    [(rid, key, amount, expires_at) for key in caps],
                )
        return reservation

    def settle(
        self, reservation: Reservation, actual_usd: float, record: SpendRecord | None = None
    ) -> None:
        """Commit ``actual_usd`` to the reservation's keys (see :meth:`Ledger.settle`).

        Never raises for a write the file refuses: the settlement is journaled (see the
        class docstring).
        """
        keys = tuple(reservation.limits)
        nanos = actual_nanos(actual_usd)
        entry = JournalEntry(reservation.id, keys, nanos, record, reservation.expires_at)
        with self._lock:
            self._failsafe.write(entry, settles=True)

    def release(self, reservation: Reservation) -> None:
        """Drop the reservation without committing anything; a no-op if already finished.

        A release the file refuses raises; the hold then lapses at its expiry.

        Args:
            reservation: What :meth:`reserve` returned.
        """
        with self._lock:
            self._failsafe.replay()
            with self._write() as db:
                drop_hold(db, reservation.id, tuple(reservation.limits), reservation.expires_at)

    def record(self, record: SpendRecord) -> None:
        """Append a history row that involves no budget key (journaled if the file refuses).

        Args:
            record: The row to append.
        """
        with self._lock:
            self._failsafe.write(JournalEntry(new_id(), (), 0, record), settles=False)

    def spent(self, key: str) -> float:
        """Committed spend under ``key`` in USD."""
        with self._lock:
            return to_usd(_spent(self._conn(), key))

    def reserved(self, key: str) -> float:
        """Room currently held by unexpired reservations under ``key`` in USD."""
        now = self._now()
        with self._lock:
            return to_usd(_totals(self._conn(), key, now)[1])

    def records(self, since: datetime | None = None) -> list[SpendRecord]:
        """Spend records in insertion order, optionally only those at or after ``since``.

        Args:
            since: Earliest record time to include (naive values are taken as UTC).

        Returns:
            The matching records.
        """
        sql = self._select
        params: tuple[int, ...] = ()
        if since is not None:
            # A plain range predicate (no "? IS NULL OR ...") so records_by_time is used.
            sql, params = f"{sql} WHERE time_us >= ?", (micros(since),)
        with self._lock:
            rows = self._conn().execute(f"{sql} ORDER BY seq", params).fetchall()
        return [row_record(row) for row in rows]

    def record_feedback(self, run_id: str, score: float, *, prompt: str | None = None) -> None:
        """Attach an outcome to the call ``run_id`` (see :class:`FeedbackStore`).

        A later call for the same run id replaces the score and keeps an earlier prompt.
        Kept in its own ``feedback`` table keyed by run id, created on first use.
        """
        row = (run_id, float(score), prompt, micros(self._clock.now()))
        with self._lock, self._write() as db:
            db.execute(_FEEDBACK_TABLE)
            db.execute(_UPSERT_FEEDBACK, row)

    def feedback(self) -> list[Feedback]:
        """Every recorded outcome, oldest first."""
        with self._lock:
            db = self._conn()
            if not db.execute(_HAS_FEEDBACK).fetchone():
                return []
            rows = db.execute("SELECT * FROM feedback ORDER BY time_us").fetchall()
        epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
        return [Feedback(r, s, p, epoch + timedelta(microseconds=t)) for r, s, p, t in rows]

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

    # -- private helpers ----------------------------------------------------------------

    def _connect_for_writing(self, timeout: float) -> sqlite3.Connection:
        # Autocommit mode (isolation_level=None): transactions are opened explicitly below,
        # because the module's implicit BEGIN would be DEFERRED and race between processes.
        db = sqlite3.connect(
            self.path, timeout=timeout, isolation_level=None, check_same_thread=False
        )
        try:
            # Recognise the file before changing it: a foreign database is refused untouched.
            ledger_version(db, self.path)
            db.execute("PRAGMA journal_mode=WAL")
            # NORMAL keeps WAL commits durable across a killed process; only power loss can
            # drop the last transactions, and it saves an fsync on every reserve and settle.
            db.execute("PRAGMA synchronous=NORMAL")
            self._db = db
            with self._lock:
                # IMMEDIATE here too: a deferred transaction upgraded to a write can fail with
                # "database is locked" at once, without waiting, when processes start together.
                with self._write() as conn:
                    create_or_upgrade(conn, self.path)
                self._failsafe.replay()
        except BaseException:
            db.close()
            raise
        return db

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            msg = f"{self!r} is closed; open a new SQLiteLedger to keep using the file"
            raise sqlite3.ProgrammingError(msg)
        return self._db

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction; callers hold ``self._lock``."""
        if self.readonly:
            msg = f"{self!r} was opened read-only; open SQLiteLedger({self.path!r}) to write"
            raise LedgerReadOnlyError(msg)
        db = self._conn()
        # IMMEDIATE takes the write lock up front, so a check-then-insert cannot interleave
        # with another process doing the same.
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
            db.execute("COMMIT")  # inside the try: a failed COMMIT must roll back too
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    def _maybe_cleanup(self, db: sqlite3.Connection, now: float) -> None:
        if now - self._last_cleanup < _CLEANUP_EVERY_SECONDS:
            return
        self._last_cleanup = now
        # Rows past expiry no longer count; keep them through the grace period so a slow
        # (not crashed) holder that settles late still has its real cost committed.
        forget_before = now - EXPIRED_GRACE_SECONDS
        db.execute("DELETE FROM holds WHERE expires_at < ?", (forget_before,))
        db.execute("DELETE FROM reservations WHERE expires_at < ?", (forget_before,))


def _spent(db: sqlite3.Connection, key: str) -> int:
    row = db.execute("SELECT amount FROM spend WHERE key = ?", (key,)).fetchone()
    return int(row[0]) if row else 0


# One statement per key for both totals a reservation checks (one round through the
# sqlite3 module instead of two).
_TOTALS = (
    "SELECT COALESCE((SELECT amount FROM spend WHERE key = ?1), 0), "
    "COALESCE((SELECT SUM(amount) FROM reservations WHERE key = ?1 AND expires_at > ?2), 0)"
)


def _totals(db: sqlite3.Connection, key: str, now: float) -> tuple[int, int]:
    """``(committed, held)`` nano-dollars under ``key``: spend, and unexpired holds at ``now``."""
    committed, held = db.execute(_TOTALS, (key, now)).fetchone()
    return int(committed), int(held)
