"""Open a SQLite ledger file for reading only, and refuse files that are not ledgers.

A report must never change the file it reads: it opens the database with ``mode=ro`` (no
tables created, no journal-mode switch, nothing written), checks the schema before reading
anything, and refuses another application's database instead of adding tables to it.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import os

__all__ = ["LedgerFileError", "open_ledger_readonly"]

_VERSION_TABLE = "tiered_schema"
# Ledgers written before the version table existed: these four tables, no stamp.
_LEGACY_TABLES = frozenset({"spend", "holds", "reservations", "records"})
# What the report queries read; a ledger of any version has them.
_NEEDED_COLUMNS = frozenset(
    {"seq", "time_us", "tier", "model", "input_tokens", "output_tokens", "cost_usd"}
    | {"baseline_cost_usd", "budget_keys"}
)


class LedgerFileError(ValueError):
    """The path is missing, not a SQLite database, or a database that is not a ledger."""


def _connect(path: Path, *, immutable: bool) -> sqlite3.Connection:
    # A URI, so mode=ro is honoured: SQLite then never creates or writes the main file.
    uri = f"{path.resolve().as_uri()}?mode=ro" + ("&immutable=1" if immutable else "")
    return sqlite3.connect(uri, uri=True, check_same_thread=False)


def _check(db: sqlite3.Connection, path: Path) -> None:
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if _VERSION_TABLE not in tables and not tables >= _LEGACY_TABLES:
        msg = (
            f"{path} is a SQLite database but not a langchain-tiered ledger "
            f"(no {_VERSION_TABLE} table); point --ledger to the file your SQLiteLedger writes"
        )
        raise LedgerFileError(msg)
    columns = {row[1] for row in db.execute("PRAGMA table_info(records)")}
    missing = _NEEDED_COLUMNS - columns
    if missing:
        msg = f"{path} looks like a ledger but its records table lacks {sorted(missing)}"
        raise LedgerFileError(msg)


def open_ledger_readonly(path: str | os.PathLike[str]) -> sqlite3.Connection:
    """A read-only connection to the SQLite ledger at ``path``, after checking its schema.

    Works on a read-only file. A WAL-mode ledger in a directory the reader cannot write to
    (SQLite then cannot create its shared-memory file) is opened as immutable: fine for a
    snapshot report, while no other process writes it.

    Args:
        path: The ledger file.

    Returns:
        A connection the caller closes.

    Raises:
        LedgerFileError: The file does not exist, is not SQLite, or is not a ledger.
    """
    file = Path(path)
    if not file.is_file():
        msg = f"ledger {file} does not exist (or is not a file)"
        raise LedgerFileError(msg)
    for immutable in (False, True):
        db = _connect(file, immutable=immutable)
        try:
            _check(db, file)
        except sqlite3.OperationalError as exc:
            db.close()
            if not immutable and "unable to open" in str(exc):
                continue
            msg = f"cannot read ledger {file}: {exc}"
            raise LedgerFileError(msg) from None
        except sqlite3.DatabaseError as exc:  # "file is not a database"
            db.close()
            msg = f"{file} is not a langchain-tiered ledger ({exc})"
            raise LedgerFileError(msg) from None
        except LedgerFileError:
            db.close()
            raise
        return db
    raise AssertionError  # pragma: no cover - the loop returns or raises
