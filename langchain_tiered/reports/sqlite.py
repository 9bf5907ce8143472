"""Open a SQLite ledger file for a report: read-only, and only if it is a ledger.

A report must never change the file it reads. The ledger package's own read-only open does
the work (``mode=ro``: no tables created, no journal-mode switch, nothing written; the
``tiered_schema`` version table, or the version-0 table set, checked before anything is
read), so there is one place in the codebase that decides what a ledger file is.
"""

from __future__ import annotations

import dataclasses
import os
import sqlite3

from langchain_tiered.ledger import NotALedgerError
from langchain_tiered.ledger._sqlite_schema import connect_readonly, record_columns
from langchain_tiered.reports.sql import SQLITE, SqlDialect

__all__ = ["NotALedgerError", "open_ledger_readonly", "sqlite_dialect"]


def open_ledger_readonly(
    path: str | os.PathLike[str], *, timeout: float = 5.0
) -> sqlite3.Connection:
    """A read-only DB-API connection to the SQLite ledger at ``path``, for :func:`summarize_sql`.

    Works on a read-only file; a WAL-mode ledger in a directory the reader cannot write to is
    opened as immutable (a snapshot, fine while no other process writes it).

    Args:
        path: The ledger file.
        timeout: Seconds to wait for a writer's lock.

    Returns:
        A connection the caller closes.

    Raises:
        NotALedgerError: The file does not exist, is not SQLite, or is not a ledger (or a newer
            one than this release reads).
    """
    return connect_readonly(os.fspath(path), timeout)


def sqlite_dialect(connection: sqlite3.Connection) -> SqlDialect:
    """:data:`SQLITE`, without the estimate flag for a ledger written before it existed."""
    if "cost_is_estimate" in record_columns(connection):
        return SQLITE
    return dataclasses.replace(SQLITE, estimate_sql=None)
