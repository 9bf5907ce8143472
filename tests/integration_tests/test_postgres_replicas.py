"""Eight replicas on one PostgreSQL budget: never overspent, nothing lost, kill -9 survived."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration_tests import _services
from tests.integration_tests._replica_checks import (
    assert_books_balance,
    faulty_emulator,
    wait_for_holds,
)
from tests.integration_tests._replicas import KEY, Fleet, Replica, make_ledger
from tests.integration_tests._services import PG_DSN

pytestmark = [pytest.mark.integration, pytest.mark.slow]
pg_schema = _services.pg_schema


@pytest.fixture
def fleet() -> Iterator[Fleet]:
    f = Fleet()
    yield f
    f.stop()


def test_eight_replicas_never_overspend_one_budget(fleet: Fleet, pg_schema: str) -> None:
    make_ledger("postgres", PG_DSN, pg_schema).close()  # create the schema once, up front
    with faulty_emulator() as emu:
        limit = 0.02
        for i in range(8):
            mode = "asyncio" if i % 2 else "threads"
            fleet.start(Replica("postgres", PG_DSN, pg_schema, emu.base_url, limit, mode=mode))
        reports = fleet.reports(8)
    ledger = make_ledger("postgres", PG_DSN, pg_schema)
    assert_books_balance(ledger, reports, limit)
    assert sum(r["refused"] for r in reports) > 0
    assert sum(r["failed"] for r in reports) > 0


def test_kill_9_replica_holds_expire_and_nothing_is_double_counted(
    fleet: Fleet,
    pg_schema: str,
) -> None:
    ledger = make_ledger("postgres", PG_DSN, pg_schema)
    with faulty_emulator(slow_model="gpt-4o") as emu:
        limit = 0.03
        victim = fleet.start(
            Replica("postgres", PG_DSN, pg_schema, emu.base_url, limit, main="gpt-4o", ttl=30)
        )
        held = wait_for_holds(ledger, 50)
        for i in range(7):
            mode = "asyncio" if i % 2 else "threads"
            fleet.start(Replica("postgres", PG_DSN, pg_schema, emu.base_url, limit, mode=mode))
        fleet.kill(victim)
        reports = fleet.reports(7)
    assert victim.exitcode == -9
    assert ledger.reserved(KEY) == pytest.approx(held, abs=1e-9)
    # The dead replica's holds kept their room: the others spent at most what was left.
    assert round(ledger.spent(KEY) * 1e9) + round(held * 1e9) <= round(limit * 1e9)
    assert_books_balance(ledger, reports, limit, expired_after=31)
    assert sum(r["refused"] for r in reports) > 0
