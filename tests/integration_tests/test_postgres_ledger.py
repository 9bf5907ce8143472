"""PostgresLedger against the real PostgreSQL: the protocol, durability, outages."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from langchain_tiered.shared.errors import SharedStateUnavailableError
from tests.integration_tests import _services
from tests.integration_tests._ledger_contract import LedgerContract, rec
from tests.integration_tests._services import PG_DSN

pytestmark = pytest.mark.integration
pg_schema = _services.pg_schema


@pytest.fixture
def make(pg_schema: str) -> Iterator[Callable[..., Any]]:
    from langchain_tiered.ledger.postgres import PostgresLedger

    made: list[PostgresLedger] = []

    def factory(**kwargs: Any) -> PostgresLedger:
        made.append(PostgresLedger(PG_DSN, schema=pg_schema, **kwargs))
        return made[-1]

    yield factory
    for ledger in made:
        ledger.close()


class TestPostgresLedgerContract(LedgerContract):
    pass


def test_spend_and_records_are_durable_across_instances(make: Callable[..., Any]) -> None:
    first = make()
    first.settle(first.reserve({"g": 1.0}, 0.5), 0.3, rec(0.3))
    first.close()
    second = make()
    assert second.spent("g") == 0.3
    assert [r.cost_usd for r in second.records()] == [0.3]


def test_aggregates_on_the_server(make: Callable[..., Any]) -> None:
    ledger = make()
    for cost, tier in ((0.1, "a"), (0.2, "a"), (0.4, "b")):
        ledger.record(rec(cost, tier=tier))
    rows = ledger.query(
        "SELECT tier, count(*), sum(cost_usd) FROM {schema}.records GROUP BY tier ORDER BY tier"
    )
    assert [(t, n, round(c, 9)) for t, n, c in rows] == [("a", 2, 0.3), ("b", 1, 0.4)]


def test_fails_closed_with_a_typed_error_when_unreachable() -> None:
    from langchain_tiered.ledger.postgres import PostgresLedger

    with pytest.raises(SharedStateUnavailableError) as info:
        PostgresLedger("postgresql://postgres@127.0.0.1:1/test", connect_timeout=1)
    assert info.value.backend == "PostgreSQL"


def test_schema_name_is_validated() -> None:
    from langchain_tiered.ledger.postgres import PostgresLedger

    with pytest.raises(ValueError, match="identifier"):
        PostgresLedger(PG_DSN, schema="x; DROP TABLE y")


def test_dropped_connections_are_replaced_without_a_restart(pg_schema: str) -> None:
    import psycopg

    from langchain_tiered.ledger.postgres import PostgresLedger

    ledger = PostgresLedger(f"{PG_DSN}?application_name={pg_schema}", schema=pg_schema)
    ledger.settle(ledger.reserve({"g": 1.0}, 0.2), 0.1, rec(0.1))
    with psycopg.connect(PG_DSN, autocommit=True) as admin:
        killed = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = %s",
            (pg_schema,),
        ).fetchone()
    assert killed is not None
    assert killed[0] >= 1
    held = ledger.reserve({"g": 1.0}, 0.2)  # a checked-out dead connection is replaced
    ledger.settle(held, 0.1, rec(0.1))
    assert ledger.spent("g") == pytest.approx(0.2)
    assert len(ledger.records()) == 2
    ledger.close()


def test_a_settlement_during_an_outage_is_queued_then_written(pg_schema: str) -> None:
    from langchain_tiered.ledger.postgres import PostgresLedger

    ledger = PostgresLedger(PG_DSN, schema=pg_schema, connect_timeout=1)
    held = ledger.reserve({"g": 1.0}, 0.5)
    real_pool = ledger._pool
    ledger._pool = _DeadPool()  # type: ignore[assignment]  # the server is away
    ledger.settle(held, 0.25, rec(0.25))
    assert ledger.pending == 1
    with pytest.raises(SharedStateUnavailableError):
        ledger.reserve({"g": 1.0}, 0.1)  # fail closed while it is away
    ledger._pool = real_pool  # back
    other = ledger.reserve({"g": 1.0}, 0.1)  # flushes the queue first
    assert ledger.pending == 0
    assert ledger.spent("g") == 0.25
    assert [r.cost_usd for r in ledger.records()] == [0.25]
    ledger.release(other)
    ledger.close()


class _DeadPool:
    """Stands in for a pool whose server is gone: every checkout fails like psycopg does."""

    def connection(self) -> Any:
        import psycopg

        raise psycopg.OperationalError("connection refused (test)")

    def close(self) -> None:
        pass
