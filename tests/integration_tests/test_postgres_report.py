"""Reports over a PostgresLedger: aggregated in PostgreSQL, equal to the in-memory report."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from langchain_tiered import reports
from langchain_tiered.ledger import NotALedgerError
from langchain_tiered.ledger.base import SpendRecord
from tests.integration_tests import _services
from tests.integration_tests._services import PG_DSN

pytestmark = pytest.mark.integration
pg_schema = _services.pg_schema

T0 = datetime(2026, 11, 28, 9, tzinfo=timezone.utc)


def _records() -> list[SpendRecord]:
    rows = []
    for i in range(30):
        user = f"user:u{i % 3}:day:{(T0 + timedelta(days=i % 2)):%Y-%m-%d}"
        keys = () if i % 7 == 0 else ("budget:global:all", user)
        rows.append(
            SpendRecord(
                time=T0 + timedelta(days=i % 2, minutes=i),
                tier=("big", "small")[i % 2],
                model=("gpt-4.1", "gpt-4.1-mini")[i % 2],
                input_tokens=100 + i,
                output_tokens=20 + i,
                cost_usd=0.001 * (i + 1),
                baseline_cost_usd=None if i % 5 == 0 else 0.003 * (i + 1),
                budget_keys=keys,
            )
        )
    return rows


@pytest.mark.parametrize("by", ["tier", "model", "day", "budget_key", "user"])
def test_postgres_report_equals_the_in_memory_report(pg_schema: str, by: str) -> None:
    from langchain_tiered.ledger.postgres import PostgresLedger
    from langchain_tiered.reports.postgres import open_postgres_readonly

    ledger = PostgresLedger(PG_DSN, schema=pg_schema)
    records = _records()
    for r in records:
        ledger.record(r)
    conn, dialect = open_postgres_readonly(f"{PG_DSN}?schema={pg_schema}")
    since = T0 + timedelta(minutes=3)
    try:
        got = reports.summarize_sql(conn, by=by, since=since, dialect=dialect)  # type: ignore[arg-type]
    finally:
        conn.close()
    want = reports.summarize(records, by=by, since=since)
    assert got.calls == want.calls == 28
    assert got.total_cost_usd == pytest.approx(want.total_cost_usd)
    assert [(r.group, r.calls) for r in got.rows] == [(r.group, r.calls) for r in want.rows]
    assert [r.cost_usd for r in got.rows] == pytest.approx([r.cost_usd for r in want.rows])
    ledger.close()


def test_report_connection_is_read_only_and_checks_the_schema(pg_schema: str) -> None:
    import psycopg

    from langchain_tiered.ledger.postgres import PostgresLedger
    from langchain_tiered.reports.postgres import open_postgres_readonly

    with pytest.raises(NotALedgerError, match="schema"):
        open_postgres_readonly(f"{PG_DSN}?schema={pg_schema}")
    PostgresLedger(PG_DSN, schema=pg_schema).close()
    conn, _ = open_postgres_readonly(f"{PG_DSN}?schema={pg_schema}")
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        conn.execute(f"DELETE FROM {pg_schema}.records")
    conn.close()


def test_cli_report_reads_a_postgres_ledger(pg_schema: str) -> None:
    import json

    from click.testing import CliRunner

    from langchain_tiered.cli import cli
    from langchain_tiered.ledger.postgres import PostgresLedger

    ledger = PostgresLedger(PG_DSN, schema=pg_schema)
    for r in _records():
        ledger.record(r)
    url = f"{PG_DSN}?schema={pg_schema}"
    out = CliRunner().invoke(cli, ["report", "--ledger", url, "--by", "user", "--format", "json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    want = reports.summarize(_records(), by="user")
    assert data["calls"] == want.calls == 30
    assert [row["group"] for row in data["rows"]] == [r.group for r in want.rows]
    missing = CliRunner().invoke(cli, ["report", "--ledger", f"{PG_DSN}?schema=nope_{pg_schema}"])
    assert missing.exit_code != 0
    assert "no PostgresLedger in schema" in missing.output
    ledger.close()
