"""Eight replicas on one Redis budget: never overspent, nothing lost, crashes and restarts.

The ground truth is the ledger's own records and spend plus each replica's report; the
emulator injects 429s and 5xx so calls fall back, fail and release their holds.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration_tests import _services
from tests.integration_tests._replica_checks import (
    ConnectionDropper,
    assert_books_balance,
    faulty_emulator,
    wait_for_holds,
)
from tests.integration_tests._replicas import KEY, Fleet, Replica, make_ledger
from tests.integration_tests._services import REDIS_URL

pytestmark = [pytest.mark.integration, pytest.mark.slow]
redis_prefix = _services.redis_prefix


@pytest.fixture
def fleet() -> Iterator[Fleet]:
    f = Fleet()
    yield f
    f.stop()


def test_eight_replicas_never_overspend_one_budget_while_connections_drop(
    fleet: Fleet, redis_prefix: str
) -> None:
    url = f"{REDIS_URL}?client_name={redis_prefix}"
    with faulty_emulator() as emu, ConnectionDropper(REDIS_URL, redis_prefix) as dropper:
        limit = 0.02
        for i in range(8):
            mode = "asyncio" if i % 2 else "threads"
            fleet.start(Replica("redis", url, redis_prefix, emu.base_url, limit, mode=mode))
        reports = fleet.reports(8)
        outcomes = {e.outcome for e in emu.requests}
    ledger = make_ledger("redis", REDIS_URL, redis_prefix)
    assert_books_balance(ledger, reports, limit)
    assert dropper.killed > 0  # connections really were dropped mid-run
    assert {"rate_limit", "server_error", "ok"} <= outcomes
    assert sum(r["refused"] for r in reports) > 0  # the budget really was the constraint
    assert sum(r["failed"] for r in reports) > 0  # some calls failed on both tiers


def test_kill_9_replica_holds_expire_and_nothing_is_double_counted(
    fleet: Fleet,
    redis_prefix: str,
) -> None:
    with faulty_emulator(slow_model="gpt-4o") as emu:
        limit = 0.03
        victim = fleet.start(
            Replica("redis", REDIS_URL, redis_prefix, emu.base_url, limit, main="gpt-4o", ttl=30)
        )
        ledger = make_ledger("redis", REDIS_URL, redis_prefix)
        held = wait_for_holds(ledger, 50)  # every victim call holds its worst case
        for i in range(7):
            mode = "asyncio" if i % 2 else "threads"
            fleet.start(Replica("redis", REDIS_URL, redis_prefix, emu.base_url, limit, mode=mode))
        fleet.kill(victim)
        reports = fleet.reports(7)
    assert victim.exitcode == -9
    # The victim's holds still count until they expire, so the others had less room.
    assert ledger.reserved(KEY) == pytest.approx(held, abs=1e-9)
    # The dead replica's holds kept their room: the others spent at most what was left.
    assert round(ledger.spent(KEY) * 1e9) + round(held * 1e9) <= round(limit * 1e9)
    assert_books_balance(ledger, reports, limit, expired_after=31)
    assert sum(r["refused"] for r in reports) > 0
