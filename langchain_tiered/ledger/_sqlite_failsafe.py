"""The SQLite ledger's settlement path when the file refuses writes: retry, journal, replay.

Kept apart from :mod:`.sqlite` so the ledger reads as reservations and settlements, and this
module as what happens when the store fails after the provider was paid (see
:class:`~langchain_tiered.ledger.sqlite.SQLiteLedger` for the guarantees).
"""

from __future__ import annotations

import sqlite3
import warnings
from collections.abc import Callable
from contextlib import AbstractContextManager

from langchain_tiered._clock import Clock
from langchain_tiered._redact import redact
from langchain_tiered.ledger._sqlite_schema import INSERT_RECORD, record_row
from langchain_tiered.ledger.base import LedgerWriteWarning, to_usd
from langchain_tiered.ledger.journal import JournalEntry, SettlementJournal

__all__ = ["FailsafeWrites", "drop_hold"]

Transaction = Callable[[], AbstractContextManager[sqlite3.Connection]]

# Waits between attempts at a settlement write the file refused (on top of SQLite's own
# busy timeout), before it goes to the journal.
_RETRY_DELAYS = (0.05, 0.25)


class FailsafeWrites:
    """Writes settlements so that none is lost; the caller holds its ledger's lock.

    Args:
        transaction: Opens one write transaction on the ledger file.
        journal: Where refused settlements go.
        clock: Sleeps between retries.
        owner: The ledger's repr, for warnings.
    """

    def __init__(
        self, transaction: Transaction, journal: SettlementJournal, clock: Clock, owner: str
    ) -> None:
        self._transaction = transaction
        self.journal = journal
        self._clock = clock
        self._owner = owner
        self._unjournaled: list[JournalEntry] = []
        self._warned = False

    def write(self, entry: JournalEntry, *, settles: bool) -> None:
        """Commit ``entry`` (dropping its hold if ``settles``); journal it if the file refuses."""
        self.replay()
        error: sqlite3.DatabaseError | None = None
        for delay in (*_RETRY_DELAYS, None):
            try:
                with self._transaction() as db:
                    if not settles or drop_hold(db, entry.id, entry.keys, entry.expires_at):
                        _commit(db, entry)
                return
            except sqlite3.ProgrammingError:
                raise  # closed ledger: a bug in the caller, not a store failure
            except sqlite3.DatabaseError as exc:  # locked, busy, disk full, I/O, corrupt
                error = exc
            if delay is not None:
                self._clock.sleep(delay)
        self._keep(entry, error)

    def replay(self) -> None:
        """Write settlements journaled earlier (by any process), each exactly once."""
        if not (self._unjournaled or self.journal.pending()):
            return
        try:
            while self._unjournaled:
                self._apply(self._unjournaled[0])
                self._unjournaled.pop(0)
            self.journal.replay(self._apply)
        except (sqlite3.OperationalError, OSError):
            return  # still failing: the holds stand, the next write tries again

    def warn_if_pending(self) -> None:
        """For read-only opens, which must not replay but must not hide journaled spend."""
        if self.journal.pending():
            message = (
                f"{self.journal.path!r} holds settlements not yet written to {self._owner}; "
                "spend read from it is understated until a write open replays them"
            )
            warnings.warn(LedgerWriteWarning(message), stacklevel=4)

    def close(self) -> None:
        """Last try for settlements held in memory; warn with the amount of any left."""
        if not self._unjournaled:
            return
        self.replay()
        left, self._unjournaled = self._unjournaled, []
        for number, entry in enumerate(left):
            try:
                self.journal.append(entry)
            except OSError:
                lost = sum(e.actual_nanos for e in left[number:])
                message = (
                    f"{self._owner} closed with {len(left) - number} settlement(s) "
                    f"(${to_usd(lost):.6f}) that neither the file nor the journal accepted"
                )
                warnings.warn(LedgerWriteWarning(message), stacklevel=4)
                return

    def _keep(self, entry: JournalEntry, error: BaseException | None) -> None:
        """Journal a settlement the file refused, or hold it in memory if that fails too."""
        try:
            self.journal.append(entry)
            where = f"journaled to {self.journal.path!r} and replayed on the next write"
        except OSError:
            self._unjournaled.append(entry)
            where = "kept in memory (the journal could not be written either) until a write works"
        if not self._warned:
            self._warned = True
            message = (
                f"{self._owner} could not write a settlement of "
                f"${to_usd(entry.actual_nanos):.6f} ({redact(str(error))}); it was {where}. "
                "Budgets keep counting the call's reservation until then. Free disk space or "
                "shorten other writers' transactions."
            )
            warnings.warn(LedgerWriteWarning(message), stacklevel=5)

    def _apply(self, entry: JournalEntry) -> None:
        with self._transaction() as db:
            # The id makes replay idempotent across processes and crashes mid-replay.
            applied = db.execute("INSERT OR IGNORE INTO journal_applied VALUES (?)", (entry.id,))
            if applied.rowcount:
                drop_hold(db, entry.id, entry.keys, entry.expires_at)
                _commit(db, entry)


def _commit(db: sqlite3.Connection, entry: JournalEntry) -> None:
    if entry.keys:
        db.executemany(
            "INSERT INTO spend VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET amount = amount + excluded.amount",
            [(key, entry.actual_nanos) for key in entry.keys],
        )
    if entry.record is not None:
        db.execute(INSERT_RECORD, record_row(entry.record))


def drop_hold(
    db: sqlite3.Connection,
    reservation_id: str,
    keys: tuple[str, ...] = (),
    expires_at: float | None = None,
) -> bool:
    """Delete a reservation; return whether it still existed (so it is finished only once).

    ``keys`` and ``expires_at`` (the reservation's own) find its rows through the
    ``reservations_by_key`` index; without them, or if they miss a row, every row is scanned.
    """
    if db.execute("DELETE FROM holds WHERE id = ?", (reservation_id,)).rowcount == 0:
        return False
    found = 0
    if keys and expires_at is not None:
        found = db.executemany(
            "DELETE FROM reservations WHERE key = ? AND expires_at = ? AND id = ?",
            [(key, expires_at, reservation_id) for key in keys],
        ).rowcount
    if found < len(keys) or expires_at is None:
        db.execute("DELETE FROM reservations WHERE id = ?", (reservation_id,))
    return True
