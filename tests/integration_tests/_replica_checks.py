"""Assertions and emulator set-up shared by the Redis and PostgreSQL replica tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from langchain_tiered._clock import FakeClock, SystemClock
from langchain_tiered.ledger.base import actual_nanos
from langchain_tiered.testing import Fault, OpenAICompatibleEmulator, Reply
from tests.integration_tests._replicas import KEY, make_ledger


@contextmanager
def faulty_emulator(slow_model: str | None = None) -> Iterator[OpenAICompatibleEmulator]:
    """An emulator where the main model answers 429 or 500 now and then, the backup less."""
    faults = [
        Fault("rate_limit", model="gpt-4.1-mini", probability=0.15, seed=1, retry_after=0),
        Fault("server_error", model="gpt-4.1-mini", probability=0.15, seed=2),
        Fault("server_error", model="gpt-4.1-nano", probability=0.2, seed=3),
    ]
    if slow_model:
        faults.append(Fault("latency", model=slow_model, latency=5.0))
    with OpenAICompatibleEmulator(faults=faults) as emu:
        # Bill the whole output cap: the real cost is the reserved worst case, so the budget
        # fills right up to its limit and a single nano-dollar of overspend would show.
        emu.respond_with(_bill_output_cap)
        yield emu


def _bill_output_cap(request: Any) -> Reply:
    return Reply(content="ok", completion_tokens=int(request.get("max_tokens") or 40))


def nanos(usd: float) -> int:
    return round(usd * 1e9)


def assert_books_balance(
    ledger: Any, reports: list[dict[str, Any]], limit: float, *, expired_after: float = 0.0
) -> None:
    """Spend <= limit exactly, no holds left, one record per success, records sum to spend."""
    records = ledger.records()
    spent = nanos(ledger.spent(KEY))
    assert spent <= nanos(limit)
    assert len(records) == sum(r["ok"] for r in reports)
    assert sum(actual_nanos(r.cost_usd) for r in records) == spent
    assert sum(r["cost_nanos"] for r in reports) == spent
    if expired_after:
        later = FakeClock(start=SystemClock().now() + timedelta(seconds=expired_after))
        ledger = make_ledger(*_where(ledger), clock=later)
    assert ledger.reserved(KEY) == 0.0


def _where(ledger: Any) -> tuple[str, str, str]:
    if type(ledger).__name__ == "RedisLedger":
        return "redis", ledger.url, ledger.keys.pattern()[1:-4]
    return "postgres", ledger.dsn, ledger.schema


def wait_for_holds(ledger: Any, count: int, timeout: float = 30.0) -> float:
    """Poll until ``count`` reservations are in flight; return the USD they hold."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _holds(ledger) >= count:
            return float(ledger.reserved(KEY))
        time.sleep(0.05)
    msg = f"only {_holds(ledger)} of {count} reservations appeared within {timeout}s"
    raise AssertionError(msg)


def _holds(ledger: Any) -> int:
    if type(ledger).__name__ == "RedisLedger":
        import redis

        client = redis.Redis.from_url(ledger.url)
        try:
            return sum(1 for _ in client.scan_iter(match=ledger.keys.hold("*"), count=1000))
        finally:
            client.close()
    return int(ledger.query("SELECT count(*) FROM {schema}.holds")[0][0])


class ConnectionDropper:
    """Kills every Redis connection named ``name`` a few times a second, in a thread."""

    def __init__(self, url: str, name: str, every: float = 0.15) -> None:
        import redis

        self._admin = redis.Redis.from_url(url)
        self._name = name
        self._every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.killed = 0

    def __enter__(self) -> ConnectionDropper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._admin.close()

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            for client in self._admin.client_list():
                if client.get("name") == self._name:
                    self._admin.client_kill_filter(_id=client["id"])
                    self.killed += 1
