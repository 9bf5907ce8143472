"""The daily spend chart (needs the optional matplotlib extra)."""

from __future__ import annotations

from collections.abc import Iterable
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_tiered.reports.records import records_connection
from langchain_tiered.reports.sql import SQLITE, DbConnection, SqlDialect, daily_cost_by_tier
from langchain_tiered.reports.sql import summarize_sql as _summarize_sql

if TYPE_CHECKING:
    import os
    from datetime import datetime

    from langchain_tiered.ledger import SpendRecord

__all__ = ["plot_daily", "plot_daily_sql"]


def _pyplot() -> Any:
    try:
        # Imported by name: matplotlib is an optional extra and may be absent (no stubs either).
        mpl = import_module("matplotlib")
        mpl.use("Agg")  # files only: never open a window or need a display
        return import_module("matplotlib.pyplot")
    except ImportError as exc:
        msg = "plot_daily needs matplotlib: pip install 'langchain-tiered[plot]'"
        raise RuntimeError(msg) from exc


def plot_daily_sql(
    connection: DbConnection,
    path: str | os.PathLike[str],
    *,
    since: datetime | None = None,
    dialect: SqlDialect = SQLITE,
) -> Path:
    """Save a chart of daily cost per tier against the top-tier baseline, aggregated in SQL.

    Args:
        connection: A DB-API connection to the ledger (read-only is enough).
        path: Where to write the image; the format follows the suffix (``.png``, ``.svg``).
        since: Only records at or after this time.
        dialect: How the database spells the queries.

    Returns:
        The path written.

    Raises:
        RuntimeError: If matplotlib is not installed.
    """
    plt = _pyplot()
    report = _summarize_sql(connection, by="day", since=since, dialect=dialect)
    per_day = daily_cost_by_tier(connection, since=since, dialect=dialect)
    days = [row.group for row in report.rows]
    tiers = sorted({tier for costs in per_day.values() for tier in costs})
    fig, ax = plt.subplots(figsize=(max(6, len(days) * 0.6), 4))
    try:
        bottom = [0.0] * len(days)
        for tier in tiers:  # stacked: each bar is one day's total
            costs = [per_day[day].get(tier, 0.0) for day in days]
            ax.bar(days, costs, bottom=bottom, label=tier)
            bottom = [b + c for b, c in zip(bottom, costs, strict=True)]
        baseline = [row.baseline_cost_usd for row in report.rows]
        ax.plot(days, baseline, "o--", color="gray", label="top-tier baseline")
        ax.set_xlabel("day (UTC)")
        ax.set_ylabel("cost per day (USD)")
        ax.yaxis.set_major_formatter("${x:,.4f}")
        ax.set_title(f"Daily spend per tier (saved {report.savings_pct:.1f}%)")
        ax.legend()
        fig.autofmt_xdate()
        out = Path(path)
        fig.savefig(out)
    finally:
        plt.close(fig)
    return out


def plot_daily(
    records: Iterable[SpendRecord],
    path: str | os.PathLike[str],
    *,
    since: datetime | None = None,
) -> Path:
    """Save a chart of daily cost per tier against the top-tier baseline (needs matplotlib).

    Args:
        records: Spend records, e.g. ``ledger.records()``.
        path: Where to write the image; the format follows the suffix (``.png``, ``.svg``).
        since: Only records at or after this time.

    Returns:
        The path written.

    Raises:
        RuntimeError: If matplotlib is not installed.
    """
    _pyplot()  # fail before copying the records
    db = records_connection(records)
    try:
        return plot_daily_sql(db, path, since=since)
    finally:
        db.close()
