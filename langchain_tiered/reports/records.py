"""Spend records held in Python (``InMemoryLedger.records()``) as a throwaway SQLite table.

So records in memory and ledgers on disk are aggregated by the same SQL
(:func:`~langchain_tiered.reports.summarize_sql`), never by a second tally in Python.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from langchain_tiered.reports.sql import SQLITE

if TYPE_CHECKING:
    from langchain_tiered.ledger import SpendRecord

__all__ = ["records_connection"]

_TABLE = f"""CREATE TABLE {SQLITE.table} (
    seq INTEGER PRIMARY KEY, time_us INTEGER NOT NULL, tier TEXT NOT NULL, model TEXT NOT NULL,
    input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL, cost_usd REAL NOT NULL,
    baseline_cost_usd REAL, budget_keys TEXT NOT NULL, cost_is_estimate INTEGER NOT NULL
)"""
_INSERT = (
    f"INSERT INTO {SQLITE.table} (time_us, tier, model, input_tokens, output_tokens, "  # noqa: S608
    "cost_usd, baseline_cost_usd, budget_keys, cost_is_estimate) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _rows(records: Iterable[SpendRecord]) -> Iterator[tuple[Any, ...]]:
    for r in records:
        yield (
            SQLITE.since_value(r.time),
            r.tier,
            r.model,
            r.input_tokens,
            r.output_tokens,
            r.cost_usd,
            r.baseline_cost_usd,
            json.dumps(list(r.budget_keys)),
            int(r.cost_is_estimate),
        )


def records_connection(records: Iterable[SpendRecord]) -> sqlite3.Connection:
    """An in-memory SQLite database holding ``records`` in the ledger's table layout.

    Args:
        records: Spend records, e.g. ``ledger.records()``.

    Returns:
        A connection the caller closes.
    """
    db = sqlite3.connect(":memory:")
    db.execute(_TABLE)
    db.executemany(_INSERT, _rows(records))
    return db
