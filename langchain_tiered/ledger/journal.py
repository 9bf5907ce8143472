"""A local append-only journal of settlements the SQLite ledger could not write.

When the provider has been paid but the ledger file refuses the write (locked past its
timeout, disk full), the settlement is appended here as one JSON line instead of being lost;
the ledger replays the journal before its next write and on every open. Each entry carries
its reservation id, and the ledger applies an id at most once, so replaying twice (two
processes, a crash mid-replay) never commits the same spend twice.

The journal is guarded by an ``fcntl`` lock (where available) so an append from one process
never interleaves with another process's replay. A replayed journal is truncated, never
deleted: a deleted file could still be open in another process, whose append would then land
in a file nobody reads.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: one process per ledger file is assumed
    fcntl = None  # type: ignore[assignment]

from langchain_tiered.ledger.base import SpendRecord

__all__ = ["JournalEntry", "SettlementJournal"]


@dataclass(frozen=True)
class JournalEntry:
    """One settlement waiting to be written to the ledger.

    Attributes:
        id: The reservation id (a fresh id for a plain record without a reservation); the
            ledger applies each id at most once.
        keys: Budget keys the cost is committed to.
        actual_nanos: The settled cost in nano-dollars.
        record: The spend record to append, if any.
        expires_at: The reservation's expiry (finds its rows by key), if known.
    """

    id: str
    keys: tuple[str, ...]
    actual_nanos: int
    record: SpendRecord | None
    expires_at: float | None = None

    def to_json(self) -> str:
        """One JSON line (no newline)."""
        data: dict[str, Any] = {
            "id": self.id,
            "keys": list(self.keys),
            "actual_nanos": self.actual_nanos,
            "record": self.record.to_dict() if self.record is not None else None,
            "expires_at": self.expires_at,
        }
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, line: str) -> JournalEntry:
        """Parse :meth:`to_json` output."""
        data = json.loads(line)
        record = data.get("record")
        return cls(
            id=str(data["id"]),
            keys=tuple(data.get("keys") or ()),
            actual_nanos=int(data["actual_nanos"]),
            record=SpendRecord.from_dict(record) if record else None,
            expires_at=data.get("expires_at"),  # absent from entries of older releases
        )


class SettlementJournal:
    """Append settlements to a JSONL file; replay and clear them once the ledger can write.

    Args:
        path: The journal file, created on the first append.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)

    def __repr__(self) -> str:
        return f"SettlementJournal({self.path!r})"

    def pending(self) -> bool:
        """Whether entries may be waiting (cheap enough to call on every write)."""
        # access() answers the usual case (never journaled: no file) without the OSError a
        # stat() of a missing file raises, which cost twice as much on every write.
        if not os.access(self.path, os.F_OK):
            return False
        try:
            return os.stat(self.path).st_size > 0
        except OSError:
            return False

    def append(self, entry: JournalEntry) -> None:
        """Append ``entry`` durably (flushed and fsynced before returning).

        Raises:
            OSError: The journal could not be written either (the caller keeps the entry).
        """
        with self._locked("a") as handle:
            handle.write(entry.to_json() + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def replay(self, apply: Callable[[JournalEntry], None]) -> int:
        """Apply every entry in order, then empty the journal.

        Stops at the first entry ``apply`` fails on and keeps the journal (with the applied
        entries too: applying is idempotent per id), so nothing is dropped.

        Args:
            apply: Writes one entry to the ledger; must skip ids it already applied.

        Returns:
            How many entries were applied.
        """
        if not self.pending():
            return 0
        with self._locked("r+") as handle:
            entries = list(_parse(handle.read()))
            for entry in entries:
                apply(entry)
            handle.seek(0)
            handle.truncate()
            handle.flush()
            os.fsync(handle.fileno())
        return len(entries)

    @contextmanager
    def _locked(self, mode: str) -> Iterator[IO[str]]:
        with open(self.path, mode, encoding="utf-8") as handle:
            if fcntl is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            yield handle  # closing the file drops the lock


def _parse(text: str) -> Iterator[JournalEntry]:
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            yield JournalEntry.from_json(line)
        except (ValueError, KeyError, TypeError):
            # Only a crash mid-append leaves a torn line, and only as the last one: that
            # settlement was never acknowledged as journaled, so its hold still stands.
            continue
