"""Spend reports from ledger records: aggregation in SQL, tables, JSON, CSV and a chart.

The database does the counting: :func:`summarize_sql` sends one grouping query to a ledger's
DB-API connection and gets one row per group back, so a million records never enter Python.
Records already in memory (``InMemoryLedger.records()``) go through the same SQL via a
throwaway in-memory SQLite table (:func:`summarize`). Other stores plug in a
:class:`SqlDialect`.

Grouping by ``budget_key``: a record committed to several keys (say ``budget:global:day:...``
and ``user:alice:day:...``) counts in the row of *each* key, so the rows add up to more than
the totals; the totals count each record once, and each row's share is taken within its
*scope* (one budget's keys, e.g. ``user:*:day``), so shares add to 100% per scope. ``user``
groups keys without their period (``user:alice``). Records without a key are ``"(none)"``.

Savings: a record without a baseline (the answer was estimated, or the top tier's price
was unknown) counts its own cost as its baseline, so no saving is claimed for it.

Money: tables print one format (``$0.000232``); JSON and CSV round USD to nano-dollars.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from langchain_tiered.reports.model import (
    GROUPINGS,
    MONEY_DECIMALS,
    GroupBy,
    ReportRow,
    SpendReport,
    round_money,
)
from langchain_tiered.reports.plot import plot_daily, plot_daily_sql
from langchain_tiered.reports.records import records_connection
from langchain_tiered.reports.render import (
    csv_lines,
    format_usd,
    json_chunks,
    render_lines,
    render_table,
    to_csv,
    to_json,
)
from langchain_tiered.reports.sql import (
    SQLITE,
    DbConnection,
    SqlDialect,
    daily_cost_by_tier,
    summarize_sql,
)

if TYPE_CHECKING:
    from datetime import datetime

    from langchain_tiered.ledger import SpendRecord

__all__ = [
    "GROUPINGS",
    "MONEY_DECIMALS",
    "SQLITE",
    "DbConnection",
    "GroupBy",
    "ReportRow",
    "SpendReport",
    "SqlDialect",
    "csv_lines",
    "daily_cost_by_tier",
    "format_usd",
    "json_chunks",
    "plot_daily",
    "plot_daily_sql",
    "records_connection",
    "render_lines",
    "render_table",
    "round_money",
    "summarize",
    "summarize_sql",
    "to_csv",
    "to_json",
]


def summarize(
    records: Iterable[SpendRecord], *, by: GroupBy = "tier", since: datetime | None = None
) -> SpendReport:
    """Aggregate spend records held in memory (same SQL as :func:`summarize_sql`).

    Args:
        records: Spend records, e.g. ``ledger.records()``.
        by: ``"tier"``, ``"model"``, ``"day"`` (UTC), ``"budget_key"`` (a record with several
            keys counts under each) or ``"user"`` (keys without their period).
        since: Only records at or after this time (naive values are taken as UTC).

    Returns:
        The report; totals count each record once.

    Raises:
        ValueError: If ``by`` is not a known grouping.
    """
    db = records_connection(records)
    try:
        return summarize_sql(db, by=by, since=since)
    finally:
        db.close()
