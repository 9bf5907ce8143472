"""A PostgresLedger report counts estimated costs like the SQLite and in-memory ones."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from langchain_tiered import reports
from langchain_tiered.ledger.base import SpendRecord
from tests.integration_tests import _services
from tests.integration_tests._services import PG_DSN

pytestmark = pytest.mark.integration
pg_schema = _services.pg_schema


def test_estimated_costs_in_a_postgres_ledger(pg_schema: str) -> None:
    from langchain_tiered.ledger.postgres import PostgresLedger
    from langchain_tiered.reports.postgres import open_postgres_readonly

    t0 = datetime(2026, 3, 2, tzinfo=timezone.utc)
    records = [
        SpendRecord(time=t0, tier="big", model="m", cost_usd=0.25, cost_is_estimate=True),
        SpendRecord(time=t0, tier="big", model="m", cost_usd=0.01),
    ]
    ledger = PostgresLedger(PG_DSN, schema=pg_schema)
    try:
        for r in records:
            ledger.record(r)
    finally:
        ledger.close()
    conn, dialect = open_postgres_readonly(f"{PG_DSN}?schema={pg_schema}")
    try:
        got = reports.summarize_sql(conn, dialect=dialect)
    finally:
        conn.close()
    want = reports.summarize(records)
    assert (got.estimated_calls, got.estimated_cost_usd) == (1, 0.25)
    assert (want.estimated_calls, want.estimated_cost_usd) == (1, 0.25)
