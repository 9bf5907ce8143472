"""Reserve + settle throughput and added latency per call of every ledger, 1 and 8 processes.

Each process loops for ``--seconds``: reserve a worst case against two budget keys (global
and per user, as a per-user budget does), then settle it with a record - exactly what one
budgeted call adds to a model call. Printed as a Markdown table:

* ``pairs/s``: reserve+settle pairs per second, all processes together;
* ``p50 ms`` / ``p99 ms``: the time one call spends in the ledger (its added latency).

InMemory is per process (not shared: 8 processes are 8 budgets); SQLite shares one file;
Redis and PostgreSQL are the local services (``redis://127.0.0.1:6379``,
``postgresql://postgres@127.0.0.1:5432/test``), each run under a fresh prefix / schema.

A second table (``--pairs``) puts InMemory and SQLite side by side in one process: CPU and
wall time per reserve+settle pair, medians of interleaved rounds (CPU is what a budgeted
call adds on a busy machine; wall adds the file I/O). ``--sqlite-modes`` adds the SQLite
setups issue 13 asked to compare, with what each keeps after a crash:

* ``wal+normal`` (what SQLiteLedger uses): commits survive the process being killed; power
  loss or an OS crash may roll back the last commits since the WAL was last synced
  (checkpoints sync it), never corrupting the file;
* ``wal+full``: every commit fsyncs the WAL, so it survives power loss too;
* ``delete+full`` (SQLite's default): a rollback journal, fsynced on every commit.

    python benchmarks/ledgers.py [--seconds S] [--procs 1,8] [--only redis,postgres]
    python benchmarks/ledgers.py --pairs [--rounds 7] [--calls 1000] [--sqlite-modes]
"""

from __future__ import annotations

# ruff: noqa: PLC0415 - the redis and psycopg drivers load only for the backends that run
import argparse
import multiprocessing
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from langchain_tiered.ledger import InMemoryLedger, SQLiteLedger
from langchain_tiered.ledger.base import SpendRecord

REDIS_URL = os.environ.get("LANGCHAIN_TIERED_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PG_DSN = os.environ.get("LANGCHAIN_TIERED_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
LIMITS = {"budget:global:day:2026-11-30": 1e9, "user:u1:day:2026-11-30": 1e9}


def _record() -> SpendRecord:
    return SpendRecord(
        time=datetime.now(timezone.utc), tier="main", model="gpt-4.1-mini", input_tokens=20,
        output_tokens=40, cost_usd=0.000072, estimated_cost_usd=0.0001,
    )  # fmt: skip


def _loop(make: Callable[[], Any], seconds: float, queue: Any) -> None:
    ledger = make()
    lat: list[float] = []
    end = time.perf_counter() + seconds
    while (start := time.perf_counter()) < end:
        held = ledger.reserve(LIMITS, 0.0001)
        ledger.settle(held, 0.000072, _record())
        lat.append(time.perf_counter() - start)
    queue.put(lat)


def _run(make: Callable[[], Any], procs: int, seconds: float) -> tuple[float, float, float]:
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    workers = [ctx.Process(target=_loop, args=(make, seconds, queue)) for _ in range(procs)]
    for w in workers:
        w.start()
    lat = [x for _ in workers for x in queue.get(timeout=seconds + 60)]
    for w in workers:
        w.join()
    lat.sort()
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    return len(lat) / seconds, statistics.median(lat) * 1e3, p99 * 1e3


def _backends(tmp: str) -> dict[str, Callable[[], Any]]:
    tag = uuid.uuid4().hex[:8]

    def redis() -> Any:
        from langchain_tiered.ledger.redis import RedisLedger

        return RedisLedger(REDIS_URL, prefix=f"bench_{tag}")

    def postgres() -> Any:
        from langchain_tiered.ledger.postgres import PostgresLedger

        return PostgresLedger(PG_DSN, schema=f"bench_{tag}", max_connections=2)

    return {
        "inmemory": InMemoryLedger,
        "sqlite": lambda: SQLiteLedger(os.path.join(tmp, "bench.db")),
        "redis": redis,
        "postgres": postgres,
    }


_SQLITE_MODES = {
    "wal+normal": (),
    "wal+full": ("PRAGMA synchronous=FULL",),
    "delete+full": ("PRAGMA journal_mode=DELETE", "PRAGMA synchronous=FULL"),
}


def _pair(ledger: Any) -> None:
    ledger.settle(ledger.reserve(LIMITS, 0.0001), 0.000072, _record())


def _times(ledger: Any, calls: int) -> tuple[float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(calls):
        _pair(ledger)
    return (time.process_time() - cpu) / calls, (time.perf_counter() - wall) / calls


def pairs(tmp: str, calls: int, rounds: int, *, modes: bool) -> None:
    """CPU and wall time per reserve+settle pair, ledgers side by side in one process."""
    ledgers: dict[str, Any] = {"inmemory": InMemoryLedger()}
    for mode, pragmas in _SQLITE_MODES.items() if modes else [("wal+normal", ())]:
        ledger = SQLiteLedger(os.path.join(tmp, f"pairs-{mode}.db"))
        for pragma in pragmas:
            ledger._conn().execute(pragma)  # the ledger's own connection, before any write
        ledgers[f"sqlite {mode}" if modes else "sqlite"] = ledger
    # Slow setups get fewer calls a round, so one round takes about as long for each.
    share = {"inmemory": 20, "sqlite wal+full": 0.25, "sqlite delete+full": 0.05}
    counts = {name: max(20, int(calls * share.get(name, 1))) for name in ledgers}
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in ledgers}
    for name, ledger in ledgers.items():  # warm-up: statements prepared, pages cached
        _times(ledger, max(10, counts[name] // 10))
    for _ in range(rounds):
        for name, ledger in ledgers.items():
            samples[name].append(_times(ledger, counts[name]))
    print(f"| ledger | CPU us/pair | wall us/pair | pairs/s (wall) |  ({rounds} rounds)")
    print("|---|---|---|---|")
    for name, got in samples.items():
        cpu = statistics.median(c for c, _ in got)
        wall = statistics.median(w for _, w in got)
        print(f"| {name} | {cpu * 1e6:,.1f} | {wall * 1e6:,.1f} | {1 / wall:,.0f} |")
    for ledger in ledgers.values():
        if isinstance(ledger, SQLiteLedger):
            ledger.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--procs", default="1,8")
    parser.add_argument("--only", default="inmemory,sqlite,redis,postgres")
    parser.add_argument("--pairs", action="store_true", help="InMemory vs SQLite per pair")
    parser.add_argument("--calls", type=int, default=1000, help="--pairs: SQLite pairs a round")
    parser.add_argument("--rounds", type=int, default=7, help="--pairs: interleaved rounds")
    parser.add_argument("--sqlite-modes", action="store_true", help="--pairs: journal setups")
    args = parser.parse_args()
    if args.pairs:
        with tempfile.TemporaryDirectory() as tmp:
            pairs(tmp, args.calls, args.rounds, modes=args.sqlite_modes)
        return
    with tempfile.TemporaryDirectory() as tmp:
        backends = _backends(tmp)
        print(f"| ledger | processes | pairs/s | p50 ms | p99 ms |  ({os.cpu_count()} cores)")
        print("|---|---|---|---|---|")
        for name in args.only.split(","):
            make = backends[name]
            make()  # create tables / schema once, before processes race to
            for procs in (int(p) for p in args.procs.split(",")):
                rate, p50, p99 = _run(make, procs, args.seconds)
                print(f"| {name} | {procs} | {rate:,.0f} | {p50:.3f} | {p99:.3f} |")
        _drop(backends)


def _drop(backends: dict[str, Callable[[], Any]]) -> None:
    import psycopg
    import redis

    pg = backends["postgres"]()
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {pg.schema} CASCADE")
    pg.close()
    rl = backends["redis"]()
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=rl.keys.pattern(), count=1000))
    if keys:
        client.delete(*keys)


if __name__ == "__main__":
    main()
