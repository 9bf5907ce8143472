"""The guarantee: concurrent callers can never push a budget past its limit.

Each caller reserves the worst case, then settles a random actual at most that large (or
releases, when its "call" failed). Whatever the interleaving, committed spend stays under
the limit, every refusal is a BudgetExceededError, and no reservation leaks.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import random
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from langchain_tiered.errors import BudgetExceededError
from langchain_tiered.ledger import InMemoryLedger, Ledger, SpendRecord, SQLiteLedger
from langchain_tiered.testing import FakeClock

KEY = "budget:global:day:2026-11-28"
WORST = 0.0123  # USD worst case per call
LIMIT = 50 * WORST + WORST / 2  # admits about 50 worst-case calls in flight or spent
LIMITS = {KEY: LIMIT, "budget:user-1:all": 1_000.0}
CALLERS = 300
NANO = 1_000_000_000


def _record(cost: float) -> SpendRecord:
    return SpendRecord(time=datetime.now(timezone.utc), tier="t", model="m", cost_usd=cost)


class _Tally:
    """Outcomes of all callers, plus the largest spent+reserved any caller observed."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.settled = self.released = self.refused = self.other_errors = 0
        self.actual_nanos = 0
        self.peak_nanos = 0

    def observe(self, ledger: Ledger) -> None:
        # spent first: it only grows, so spent(t1) + reserved(t2) never overstates the total.
        # Summed as integers: two floats that each round correctly can still sum one ulp high.
        seen = round(ledger.spent(KEY) * NANO) + round(ledger.reserved(KEY) * NANO)
        with self.lock:
            self.peak_nanos = max(self.peak_nanos, seen)

    def outcome(self, kind: str, actual: float = 0.0) -> None:
        with self.lock:
            setattr(self, kind, getattr(self, kind) + 1)
            self.actual_nanos += round(actual * NANO)


def _plan(seed: int) -> tuple[float, bool]:
    rng = random.Random(seed)
    return rng.uniform(0.0, WORST), rng.random() < 0.1  # actual cost, whether the call "fails"


def _thread_caller(ledger: Ledger, tally: _Tally, seed: int) -> None:
    actual, fails = _plan(seed)
    try:
        reservation = ledger.reserve(LIMITS, WORST, tier="t")
    except BudgetExceededError:
        tally.outcome("refused")
        return
    tally.observe(ledger)
    if fails:
        ledger.release(reservation)
        tally.outcome("released")
    else:
        ledger.settle(reservation, actual, _record(actual))
        tally.outcome("settled", actual)


async def _async_caller(ledger: Ledger, tally: _Tally, seed: int) -> None:
    actual, fails = _plan(seed)
    try:
        reservation = await ledger.areserve(LIMITS, WORST, tier="t")
    except BudgetExceededError:
        tally.outcome("refused")
        return
    tally.observe(ledger)
    await asyncio.sleep(0)  # the "call": lets other tasks reserve while this one is in flight
    if fails:
        await ledger.arelease(reservation)
        tally.outcome("released")
    else:
        await ledger.asettle(reservation, actual, _record(actual))
        tally.outcome("settled", actual)


def _check_guarantee(ledger: Ledger, tally: _Tally) -> None:
    assert tally.settled + tally.released + tally.refused == CALLERS
    assert tally.refused > 0, "the limit should have refused some callers"
    assert tally.settled > 0
    assert ledger.spent(KEY) <= LIMIT
    assert tally.peak_nanos <= LIMIT * NANO
    assert round(ledger.spent(KEY) * NANO) == tally.actual_nanos
    assert ledger.reserved(KEY) == 0.0
    assert ledger.reserved("budget:user-1:all") == 0.0
    assert len(ledger.records()) == tally.settled


@pytest.fixture(params=["memory", "sqlite"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "memory":
        yield InMemoryLedger()
    else:
        with SQLiteLedger(tmp_path / "spend.db") as db:
            yield db


@pytest.fixture
def eager_thread_switching() -> Any:
    # Switching threads every microsecond instead of every 5 ms makes a check-then-insert
    # race (if the ledger had one) show up in most runs instead of occasionally.
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(previous)


@pytest.mark.usefixtures("eager_thread_switching")
def test_threads_never_overshoot(ledger: Ledger) -> None:
    tally = _Tally()
    with ThreadPoolExecutor(max_workers=32) as pool:
        futures = [pool.submit(_thread_caller, ledger, tally, seed) for seed in range(CALLERS)]
        for future in futures:
            future.result()  # any exception other than a refusal fails the test here
    _check_guarantee(ledger, tally)


async def test_tasks_never_overshoot(ledger: Ledger) -> None:
    tally = _Tally()
    await asyncio.gather(*(_async_caller(ledger, tally, seed) for seed in range(CALLERS)))
    _check_guarantee(ledger, tally)


# -- several processes on one SQLite file -------------------------------------------------
# Workers are module-level so the "spawn" start method can import them in the child.


def _process_worker(path: str, seed: int, cycles: int, barrier: Any) -> tuple[int, int, int]:
    ledger = SQLiteLedger(path)
    rng = random.Random(seed)
    settled = refused = actual_nanos = 0
    barrier.wait()  # start together so the processes really contend for the file
    for _ in range(cycles):
        try:
            reservation = ledger.reserve(LIMITS, WORST)
        except BudgetExceededError:
            refused += 1
            continue
        actual = rng.uniform(0.0, WORST)
        ledger.settle(reservation, actual, _record(actual))
        settled += 1
        actual_nanos += round(actual * NANO)
    ledger.close()
    return settled, refused, actual_nanos


def _reserve_then_die(path: str, settle: bool) -> None:
    ledger = SQLiteLedger(path)
    reservation = ledger.reserve({KEY: 1.0}, 0.8, ttl_seconds=60)
    if settle:
        ledger.settle(reservation, 0.3, _record(0.3))
    os._exit(1)  # no cleanup, no close: as if the process were killed


def _run_in_process(target: Any, *args: Any) -> int | None:
    process = multiprocessing.get_context("spawn").Process(target=target, args=args)
    process.start()
    process.join(timeout=60)
    return process.exitcode


def test_processes_never_overshoot(tmp_path: Path) -> None:
    path = str(tmp_path / "spend.db")
    SQLiteLedger(path).close()  # create the schema once, before the race
    ctx = multiprocessing.get_context("spawn")
    processes, cycles = 4, CALLERS // 4
    with ctx.Manager() as manager:
        barrier = manager.Barrier(processes)
        with ctx.Pool(processes) as pool:
            args = [(path, seed, cycles, barrier) for seed in range(processes)]
            results = pool.starmap(_process_worker, args)
    settled = sum(r[0] for r in results)
    refused = sum(r[1] for r in results)
    with SQLiteLedger(path) as ledger:
        assert settled + refused == CALLERS
        assert refused > 0
        assert ledger.spent(KEY) <= LIMIT
        assert round(ledger.spent(KEY) * NANO) == sum(r[2] for r in results)
        assert ledger.reserved(KEY) == 0.0
        assert len(ledger.records()) == settled


def test_killed_holder_room_returns_after_ttl(tmp_path: Path) -> None:
    path = str(tmp_path / "spend.db")
    assert _run_in_process(_reserve_then_die, path, False) == 1
    # The fake clock starts after the child's reservation, however slow its start was, so
    # the reservation is still live now and certainly expired after advancing past the TTL.
    clock = FakeClock(start=datetime.now(timezone.utc))
    with SQLiteLedger(path, clock=clock) as ledger:
        assert ledger.reserved(KEY) == pytest.approx(0.8)
        with pytest.raises(BudgetExceededError):
            ledger.reserve({KEY: 1.0}, 0.5)

        clock.advance(61)  # past the dead holder's TTL
        assert ledger.reserved(KEY) == 0.0
        ledger.settle(ledger.reserve({KEY: 1.0}, 0.5), 0.5)
        assert ledger.spent(KEY) == pytest.approx(0.5)


def test_spend_committed_before_a_kill_survives(tmp_path: Path) -> None:
    path = str(tmp_path / "spend.db")
    assert _run_in_process(_reserve_then_die, path, True) == 1
    with SQLiteLedger(path) as ledger:
        assert ledger.spent(KEY) == pytest.approx(0.3)
        assert ledger.reserved(KEY) == 0.0
        assert [r.cost_usd for r in ledger.records()] == [0.3]
