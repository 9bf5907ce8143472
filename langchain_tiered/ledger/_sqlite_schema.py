"""The SQLite ledger's schema: tables, the version stamp, and how a ledger is recognised.

A ledger file carries ``tiered_schema(version)``. Readers check it before reading anything, so
a report pointed at another application's database refuses it instead of adding tables to it.
Files written before the version table existed (version 0: the four ledger tables, no stamp)
are still recognised; a write open upgrades them in place.
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import fields
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from operator import attrgetter
from pathlib import Path
from typing import Any
from urllib.parse import quote

from langchain_tiered.ledger.base import NotALedgerError, SpendRecord, as_utc

__all__ = [
    "INSERT_RECORD",
    "RECORD_COLUMNS",
    "SCHEMA_VERSION",
    "connect_readonly",
    "create_or_upgrade",
    "ledger_version",
    "micros",
    "record_columns",
    "record_row",
    "row_record",
    "select_records",
]

SCHEMA_VERSION = 1
"""Version written by this release. 1: version table, journal replay ids, record error fields."""

_TABLES = """
CREATE TABLE IF NOT EXISTS spend (key TEXT PRIMARY KEY, amount INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS holds (
    id TEXT PRIMARY KEY, amount INTEGER NOT NULL, expires_at REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS reservations (
    id TEXT NOT NULL, key TEXT NOT NULL, amount INTEGER NOT NULL, expires_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS reservations_by_key ON reservations (key, expires_at);
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    time_us INTEGER NOT NULL, tier TEXT NOT NULL, model TEXT NOT NULL,
    input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL,
    cached_tokens INTEGER NOT NULL, reasoning_tokens INTEGER NOT NULL,
    cost_usd REAL NOT NULL, estimated_cost_usd REAL NOT NULL, baseline_cost_usd REAL,
    budget_keys TEXT NOT NULL, fallback INTEGER NOT NULL, cached_response INTEGER NOT NULL,
    run_id TEXT, error TEXT, cost_is_estimate INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS records_by_time ON records (time_us);
CREATE TABLE IF NOT EXISTS journal_applied (id TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tiered_schema (version INTEGER NOT NULL)
"""
# Columns added to `records` after version 0, with the DDL that adds them to an old file.
_ADDED_RECORD_COLUMNS = {
    "error": "TEXT",
    "cost_is_estimate": "INTEGER NOT NULL DEFAULT 0",
}
_LEGACY_TABLES = frozenset({"spend", "holds", "reservations", "records"})
# Indexes earlier releases made and this one drops: every index is one more page written
# by each reserve and settle. A hold's reservation rows are found through
# reservations_by_key (a settle knows the keys and the expiry), and the once-a-minute
# cleanup scans the few holds in flight. Dropping them cut the SQL work of a reserve+settle
# pair by ~20% (~11% of the pair in the ledger); an older release sharing the file
# re-creates them, which is harmless.
_DROPPED_INDEXES = ("reservations_by_id", "holds_by_expiry")

# Column names come from SpendRecord's own fields (constants, never user input), so adding
# a field to the record cannot silently drop it from storage.
RECORD_COLUMNS = tuple(f.name for f in fields(SpendRecord))
"""SpendRecord fields in storage order (``time`` is stored as ``time_us``)."""
_STORED = tuple("time_us" if c == "time" else c for c in RECORD_COLUMNS)
INSERT_RECORD = (
    f"INSERT INTO records ({', '.join(_STORED)}) "  # noqa: S608 - constant column names
    f"VALUES ({', '.join('?' for _ in _STORED)})"
)
"""Inserts one :func:`record_row`."""
# Columns an older (version 0) file lacks are read as their defaults.
_DEFAULTS = {"error": "NULL", "cost_is_estimate": "0"}
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)


def ledger_version(db: sqlite3.Connection, path: str) -> int | None:
    """The ledger schema version in ``db``; ``None`` if the database has no tables at all.

    Only reads ``sqlite_master`` and the version table, so it is safe on any file.

    Raises:
        NotALedgerError: The database holds tables but is not a ledger, or is not SQLite.
    """
    try:
        names = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "tiered_schema" in names:
            row = db.execute("SELECT MAX(version) FROM tiered_schema").fetchone()
            return int(row[0] or 0)
    except sqlite3.DatabaseError as exc:
        if isinstance(exc, sqlite3.OperationalError) and "unable to open" in str(exc):
            raise  # the caller may retry another way (an immutable open)
        msg = f"{path!r} is not a langchain-tiered ledger ({exc}); point to the ledger file"
        raise NotALedgerError(msg) from exc
    if not names:
        return None
    if names >= _LEGACY_TABLES:
        return 0
    msg = (
        f"{path!r} is a SQLite database but not a langchain-tiered ledger (no tiered_schema "
        "table); point to the file your SQLiteLedger writes, or use a new path"
    )
    raise NotALedgerError(msg)


def create_or_upgrade(db: sqlite3.Connection, path: str) -> None:
    """Create the tables, or bring an older ledger up to :data:`SCHEMA_VERSION`.

    Call inside a write transaction. Refuses foreign databases and newer ledgers.
    """
    version = ledger_version(db, path)
    if version is not None and version > SCHEMA_VERSION:
        msg = (
            f"{path!r} is a ledger of schema version {version}, newer than this release "
            f"understands ({SCHEMA_VERSION}); upgrade langchain-tiered"
        )
        raise NotALedgerError(msg)
    # executescript() would COMMIT the open transaction, so run the statements one by one.
    for statement in _TABLES.split(";"):
        if statement.strip():
            db.execute(statement)
    for index in _DROPPED_INDEXES:
        db.execute(f"DROP INDEX IF EXISTS {index}")
    present = record_columns(db)
    for column, ddl in _ADDED_RECORD_COLUMNS.items():
        if column not in present:
            db.execute(f"ALTER TABLE records ADD COLUMN {column} {ddl}")
    if version != SCHEMA_VERSION:
        db.execute("DELETE FROM tiered_schema")
        db.execute("INSERT INTO tiered_schema (version) VALUES (?)", (SCHEMA_VERSION,))


def record_columns(db: sqlite3.Connection) -> frozenset[str]:
    """Columns of the ``records`` table (older files lack the ones added later)."""
    return frozenset(row[1] for row in db.execute("PRAGMA table_info(records)"))


def select_records(columns: frozenset[str]) -> str:
    """``SELECT`` of every record column, reading those missing from ``columns`` as defaults."""
    listed = ", ".join(c if c in columns else _DEFAULTS[c] for c in _STORED)
    return f"SELECT {listed} FROM records"  # noqa: S608 - constant column names


def connect_readonly(path: str, timeout: float) -> sqlite3.Connection:
    """A read-only connection to a recognised ledger; never writes the file.

    Raises:
        NotALedgerError: Missing, unreadable, empty, foreign or newer than this release.
    """
    if not Path(path).is_file():
        msg = f"{path!r} does not exist or is not a file; point to an existing ledger file"
        raise NotALedgerError(msg)
    base = "file:" + quote(os.path.abspath(path))
    # mode=ro never writes the file; a WAL file in a read-only directory (no -shm can be
    # created) only opens as immutable, which is safe because nobody can write there either.
    for uri in (f"{base}?mode=ro", f"{base}?mode=ro&immutable=1"):
        db = sqlite3.connect(
            uri, uri=True, timeout=timeout, isolation_level=None, check_same_thread=False
        )
        try:
            version = ledger_version(db, path)
        except sqlite3.OperationalError:
            db.close()
            continue
        except BaseException:
            db.close()
            raise
        break
    else:
        msg = f"{path!r} cannot be opened for reading; check its permissions"
        raise NotALedgerError(msg)
    if version is None or version > SCHEMA_VERSION:
        db.close()
        what = "holds no ledger tables" if version is None else f"has schema {version}"
        msg = f"{path!r} {what}; this release reads ledger schemas up to {SCHEMA_VERSION}"
        raise NotALedgerError(msg)
    db.execute("PRAGMA query_only=1")
    return db


def micros(value: datetime) -> int:
    """Integer microseconds since the epoch, as stored in ``time_us``."""
    # Integer microseconds are exact, unlike float epoch seconds, so records round-trip.
    return (as_utc(value) - _EPOCH) // _MICROSECOND


@lru_cache(maxsize=256)  # a model's calls name the same few key sets over and over
def _keys_json(keys: tuple[str, ...]) -> str:
    return json.dumps(list(keys))


_CONVERT: dict[str, Any] = {
    "time": micros,
    "budget_keys": _keys_json,
    "fallback": int,
    "cached_response": int,
    "cost_is_estimate": int,
}
# Every field in one C call (dataclasses.asdict deep-copies and cost a third of a settle);
# only the few columns stored differently go through _CONVERT.
_READ_FIELDS = attrgetter(*RECORD_COLUMNS)
_CONVERTED = tuple((i, _CONVERT[c]) for i, c in enumerate(RECORD_COLUMNS) if c in _CONVERT)


def record_row(record: SpendRecord) -> tuple[Any, ...]:
    """The ``records`` row for ``record``, in :data:`RECORD_COLUMNS` order."""
    row = list(_READ_FIELDS(record))
    for i, convert in _CONVERTED:
        row[i] = convert(row[i])
    return tuple(row)


def row_record(row: tuple[Any, ...]) -> SpendRecord:
    """The record for a row selected with :func:`select_records`."""
    data = dict(zip(RECORD_COLUMNS, row, strict=True))
    data["time"] = _EPOCH + data["time"] * _MICROSECOND
    data["budget_keys"] = tuple(json.loads(data["budget_keys"]))
    data["fallback"] = bool(data["fallback"])
    data["cached_response"] = bool(data["cached_response"])
    data["cost_is_estimate"] = bool(data["cost_is_estimate"])
    return SpendRecord(**data)
