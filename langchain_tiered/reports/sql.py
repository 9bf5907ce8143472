"""Aggregation in SQL: one query per report over any DB-API connection, rows streamed.

A report never loads spend records into Python: the database groups and sums them, and only
one row per group comes back (a million records of a thousand users is a thousand rows).
:class:`SqlDialect` holds the few expressions that differ between databases; :data:`SQLITE`
reads the :class:`~langchain_tiered.ledger.SQLiteLedger` layout. Another store reuses
:func:`summarize_sql` with its own dialect (say PostgreSQL: ``%s`` parameters,
``jsonb_array_elements_text`` for the key list, ``to_char`` for days).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

from langchain_tiered.ledger.base import as_utc
from langchain_tiered.reports.model import (
    GROUPINGS,
    NO_KEY,
    GroupBy,
    ReportRow,
    SpendReport,
    key_scope,
)

__all__ = ["SQLITE", "DbConnection", "SqlDialect", "daily_cost_by_tier", "summarize_sql"]

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROS_PER_DAY = 86_400_000_000


class DbConnection(Protocol):
    """A DB-API connection (``sqlite3``, ``psycopg``): only ``cursor()`` is used."""

    def cursor(self) -> Any:
        """A new cursor."""
        ...


def _sqlite_day(value: Any) -> str:
    return (_EPOCH + timedelta(days=int(value))).date().isoformat()


def _sqlite_since(value: datetime) -> Any:
    return (as_utc(value) - _EPOCH) // timedelta(microseconds=1)


@dataclass(frozen=True)
class SqlDialect:
    """How one store spells the report queries.

    Attributes:
        param: The parameter placeholder (``"?"`` for sqlite3, ``"%s"`` for psycopg).
        table: The spend records table.
        id_column: A unique column of that table (a record listed under two periods of one
            user's budget counts once in ``--by user``).
        since_column: The column compared with ``since``.
        since_value: Turns ``since`` (UTC) into that column's value.
        day_sql: An expression grouping a record by its UTC day.
        day_label: Turns the value of ``day_sql`` into ``YYYY-MM-DD``.
        keys_from: A table expression listing each record's budget keys as ``k.value``;
            ``{table}`` is the records table's alias ``r``.
        user_sql: An expression taking ``{key}`` to the key without its period suffix
            (``:day:YYYY-MM-DD``, ``:month:YYYY-MM`` or ``:all``).
        no_keys_sql: A condition true for a record charged to no budget key.
        estimate_sql: A condition true for a record whose cost is an estimate (an outcome
            that was never known, charged at its worst case; usage missing), or ``None`` when
            the store does not record it.
    """

    param: str
    table: str
    id_column: str
    since_column: str
    since_value: Callable[[datetime], Any]
    day_sql: str
    day_label: Callable[[Any], str]
    keys_from: str
    user_sql: str
    no_keys_sql: str
    estimate_sql: str | None = None


SQLITE = SqlDialect(
    param="?",
    table="records",
    id_column="seq",
    since_column="time_us",
    since_value=_sqlite_since,
    day_sql=f"r.time_us / {_MICROS_PER_DAY}",
    day_label=_sqlite_day,
    keys_from="json_each(r.budget_keys) AS k",
    user_sql=(
        "CASE WHEN {key} GLOB '*:day:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]' "
        "THEN substr({key}, 1, length({key}) - 15) "
        "WHEN {key} GLOB '*:month:[0-9][0-9][0-9][0-9]-[0-9][0-9]' "
        "THEN substr({key}, 1, length({key}) - 14) "
        "WHEN {key} GLOB '*:all' THEN substr({key}, 1, length({key}) - 4) "
        "ELSE {key} END"
    ),
    no_keys_sql="r.budget_keys = '[]'",  # how SQLiteLedger stores an empty key list
    estimate_sql="r.cost_is_estimate <> 0",
)
"""The :class:`~langchain_tiered.ledger.SQLiteLedger` file layout (SQLite's JSON1 functions)."""

_SUMS = (
    "COUNT(*), COALESCE(SUM(r.input_tokens), 0), COALESCE(SUM(r.output_tokens), 0), "
    "COALESCE(SUM(r.cost_usd), 0), COALESCE(SUM(COALESCE(r.baseline_cost_usd, r.cost_usd)), 0)"
)
_FETCH = 5000


def _where(dialect: SqlDialect, since: datetime | None) -> tuple[str, tuple[Any, ...]]:
    if since is None:
        return "", ()
    # A plain range predicate, so an index on the time column is used.
    return f" WHERE r.{dialect.since_column} >= {dialect.param}", (dialect.since_value(since),)


def _group_query(dialect: SqlDialect, by: GroupBy, where: str) -> str:
    records = f"{dialect.table} AS r"
    if by in ("tier", "model", "day"):
        group = {
            "tier": "r.tier",
            "model": "COALESCE(NULLIF(r.model, ''), r.tier)",
            "day": dialect.day_sql,
        }[by]
        return f"SELECT {group} AS g, {_SUMS} FROM {records}{where} GROUP BY 1"  # noqa: S608
    if by == "budget_key":
        return (
            f"SELECT k.value AS g, {_SUMS} FROM {records} CROSS JOIN {dialect.keys_from}"  # noqa: S608
            f"{where} GROUP BY 1"
        )
    # by user: a record charged to alice's daily and monthly keys counts once for alice.
    user = dialect.user_sql.format(key="k.value")
    inner = (
        f"SELECT DISTINCT r.{dialect.id_column} AS id, {user} AS g FROM {records} "  # noqa: S608
        f"CROSS JOIN {dialect.keys_from}{where}"
    )
    return (
        f"SELECT u.g AS g, {_SUMS} FROM ({inner}) AS u "  # noqa: S608
        f"JOIN {dialect.table} AS r ON r.{dialect.id_column} = u.id GROUP BY 1"
    )


def _no_key_query(dialect: SqlDialect, where: str) -> str:
    joiner = " AND " if where else " WHERE "
    return f"SELECT {_SUMS} FROM {dialect.table} AS r{where}{joiner}{dialect.no_keys_sql}"  # noqa: S608


def _stream(connection: DbConnection, sql: str, params: tuple[Any, ...]) -> Iterator[Any]:
    cursor = connection.cursor()
    try:
        cursor.execute(sql, params)
        while batch := cursor.fetchmany(_FETCH):
            yield from batch
    finally:
        cursor.close()


def _one(connection: DbConnection, sql: str, params: tuple[Any, ...]) -> tuple[Any, ...]:
    """The single row of an aggregate query (the cursor is closed before returning)."""
    cursor = connection.cursor()
    try:
        cursor.execute(sql, params)
        return tuple(cursor.fetchone())
    finally:
        cursor.close()


def summarize_sql(
    connection: DbConnection,
    *,
    by: GroupBy = "tier",
    since: datetime | None = None,
    dialect: SqlDialect = SQLITE,
) -> SpendReport:
    """Aggregate a ledger's spend records in its database.

    Args:
        connection: An open DB-API connection (read-only is enough).
        by: ``"tier"``, ``"model"``, ``"day"`` (UTC), ``"budget_key"`` (a record counts under
            each of its keys) or ``"user"`` (keys without their period: ``user:alice``).
        since: Only records at or after this time (naive values are taken as UTC).
        dialect: How the database spells the queries.

    Returns:
        The report; totals count each record once.

    Raises:
        ValueError: If ``by`` is not a known grouping.
    """
    if by not in GROUPINGS:
        msg = f"by must be one of {', '.join(map(repr, GROUPINGS))}; got {by!r}"
        raise ValueError(msg)
    cutoff = as_utc(since) if since is not None else None
    where, params = _where(dialect, cutoff)
    total_sql = f"SELECT {_SUMS}{_estimate_sums(dialect)} FROM {dialect.table} AS r{where}"  # noqa: S608
    total = _one(connection, total_sql, params)
    estimates = total[len(total) - 2 :] if dialect.estimate_sql else (0, 0.0)
    total = total[:5]
    groups = [tuple(row) for row in _stream(connection, _group_query(dialect, by, where), params)]
    if by == "day":
        groups = [(dialect.day_label(g), *rest) for g, *rest in groups]
    if by in ("budget_key", "user"):
        none = _one(connection, _no_key_query(dialect, where), params)
        if none[0]:
            groups.append((NO_KEY, *none))
    report = _report(total, groups, by, cutoff)
    return dataclasses.replace(
        report, estimated_calls=int(estimates[0]), estimated_cost_usd=float(estimates[1])
    )


def _estimate_sums(dialect: SqlDialect) -> str:
    if dialect.estimate_sql is None:
        return ""
    est = dialect.estimate_sql
    return (
        f", COALESCE(SUM(CASE WHEN {est} THEN 1 ELSE 0 END), 0)"
        f", COALESCE(SUM(CASE WHEN {est} THEN r.cost_usd ELSE 0 END), 0)"
    )


def _report(
    total: tuple[Any, ...], groups: list[tuple[Any, ...]], by: GroupBy, since: datetime | None
) -> SpendReport:
    calls, input_tokens, output_tokens, cost, baseline = total
    scopes = [
        key_scope(str(g[0]), by=by) if by in ("budget_key", "user") else "all" for g in groups
    ]
    per_scope: dict[str, int] = {}
    for scope, group in zip(scopes, groups, strict=True):
        per_scope[scope] = per_scope.get(scope, 0) + int(group[1])
    per_scope["all"] = int(calls)  # unscoped rows are shares of every call
    rows = [
        _row(group, scope, per_scope[scope]) for group, scope in zip(groups, scopes, strict=True)
    ]
    if by == "day":
        rows.sort(key=lambda r: r.group)
    else:
        rows.sort(key=lambda r: (-r.cost_usd, r.group))
    savings = float(baseline) - float(cost)
    return SpendReport(
        total_cost_usd=float(cost),
        calls=int(calls),
        baseline_cost_usd=float(baseline),
        savings_usd=savings,
        savings_pct=100.0 * savings / float(baseline) if baseline > 0 else 0.0,
        rows=rows,
        by=by,
        since=since,
        input_tokens=int(input_tokens),
        output_tokens=int(output_tokens),
    )


def _row(group: tuple[Any, ...], scope: str, scope_calls: int) -> ReportRow:
    name, calls, input_tokens, output_tokens, cost, baseline = group
    return ReportRow(
        group=str(name),
        calls=int(calls),
        share_of_calls=int(calls) / scope_calls if scope_calls else 0.0,
        input_tokens=int(input_tokens),
        output_tokens=int(output_tokens),
        cost_usd=float(cost),
        baseline_cost_usd=float(baseline),
        savings_usd=float(baseline) - float(cost),
        scope=scope,
    )


def daily_cost_by_tier(
    connection: DbConnection, *, since: datetime | None = None, dialect: SqlDialect = SQLITE
) -> dict[str, dict[str, float]]:
    """Cost per UTC day per tier (``{day: {tier: usd}}``), for the daily chart."""
    where, params = _where(dialect, as_utc(since) if since is not None else None)
    sql = (
        f"SELECT {dialect.day_sql} AS d, r.tier, COALESCE(SUM(r.cost_usd), 0) "  # noqa: S608
        f"FROM {dialect.table} AS r{where} GROUP BY 1, 2 ORDER BY 1, 2"
    )
    out: dict[str, dict[str, float]] = {}
    for day, tier, cost in _stream(connection, sql, params):
        out.setdefault(dialect.day_label(day), {})[str(tier)] = float(cost)
    return out
