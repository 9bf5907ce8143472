"""Reports over a :class:`~langchain_tiered.ledger.PostgresLedger`: the PostgreSQL dialect.

The same one-query-per-report aggregation as for SQLite (:func:`summarize_sql`), spelt for the
``PostgresLedger`` layout: ``%s`` parameters, a ``timestamptz`` time column, ``text[]`` budget
keys. The connection is read-only (``default_transaction_read_only``), so a report can never
change the ledger it reads.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from langchain_tiered.ledger import NotALedgerError
from langchain_tiered.reports.sql import SqlDialect

__all__ = ["is_postgres_url", "open_postgres_readonly", "postgres_dialect"]

_SCHEMA = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def is_postgres_url(value: str) -> bool:
    """Whether ``--ledger`` names a PostgreSQL database rather than a SQLite file."""
    return value.startswith(("postgresql://", "postgres://"))


def postgres_dialect(schema: str = "langchain_tiered") -> SqlDialect:
    """The report queries for the ``PostgresLedger`` tables in ``schema``."""
    if not _SCHEMA.match(schema):
        msg = f"schema must be a lower-case SQL identifier, got {schema!r}"
        raise ValueError(msg)
    return SqlDialect(
        param="%s",
        table=f"{schema}.records",
        id_column="seq",
        since_column="time",
        since_value=lambda value: value,
        day_sql="to_char(r.time AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
        day_label=str,
        keys_from="unnest(r.budget_keys) AS k(value)",
        user_sql=(
            r"regexp_replace({key}, "
            r"':(day:\d{{4}}-\d{{2}}-\d{{2}}|month:\d{{4}}-\d{{2}}|all)$', '')"
        ),
        no_keys_sql="cardinality(r.budget_keys) = 0",
        # The flag lives in the record's JSON copy (older rows lack it: not an estimate).
        estimate_sql="COALESCE((r.data->>'cost_is_estimate')::boolean, false)",
    )


def open_postgres_readonly(url: str) -> tuple[Any, SqlDialect]:
    """A read-only connection to the ledger at ``url`` and its dialect.

    ``url`` is a libpq URL; an extra ``schema=`` query parameter names the ledger's schema
    (default ``langchain_tiered``), e.g. ``postgresql://app@db/spend?schema=prod``.

    Raises:
        NotALedgerError: The database is unreachable or holds no ledger in that schema.
    """
    import psycopg  # noqa: PLC0415 - the postgres extra loads only for this path

    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    schema = query.pop("schema", "langchain_tiered")
    dialect = postgres_dialect(schema)
    dsn = urlunsplit(parts._replace(query=urlencode(query)))
    try:
        conn = psycopg.connect(dsn, connect_timeout=5, autocommit=True)
    except psycopg.OperationalError as exc:
        msg = f"cannot connect to the PostgreSQL ledger: {exc}".strip()
        raise NotALedgerError(msg) from None
    conn.execute("SET default_transaction_read_only = on")
    found = conn.execute("SELECT to_regclass(%s)", (f"{schema}.records",)).fetchone()
    if not found or found[0] is None:
        conn.close()
        msg = (
            f"no PostgresLedger in schema {schema!r} of that database; pass ?schema=NAME "
            "with the schema the ledger was created with"
        )
        raise NotALedgerError(msg)
    return conn, dialect
