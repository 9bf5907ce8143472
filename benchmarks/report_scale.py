"""``langchain-tiered report`` on a large SQLite ledger: wall time and peak memory per ``--by``.

Writes N spend records (default 1,000,000: 3 tiers, 5,000 users, a global and a per-user daily
key each, 2 s apart) into a fresh ledger file, then runs the real command once per grouping
and format in a child process and prints its wall time and peak resident memory (from
``wait4``: the whole process, SQLite's own allocations included). With ``--baseline`` it also
runs, side by side, what the report did before aggregation moved into SQL: load every record
into Python (``SQLiteLedger.records()``) and tally them there.

Target (issue 10): every ``--by`` over 1M records under 5 s and under 200 MB.

    python benchmarks/report_scale.py [--records N] [--baseline] [--keep PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

from langchain_tiered.ledger import SQLiteLedger

TIERS = (("opus", "claude-opus-4-6", 0.0009), ("sonnet", "claude-sonnet-4-6", 0.0003),
         ("v3.2", "deepseek-v3.2", 0.00001))  # fmt: skip
START_US = 1_764_000_000_000_000  # 2025-11-24 UTC
COLUMNS = (
    "time_us, tier, model, input_tokens, output_tokens, cached_tokens, reasoning_tokens, "
    "cost_usd, estimated_cost_usd, baseline_cost_usd, budget_keys, fallback, cached_response"
)
BASELINE = """
import sys, time
from collections import Counter
from langchain_tiered.ledger import SQLiteLedger
with SQLiteLedger(sys.argv[1]) as ledger:
    records = ledger.records()
calls, cost = Counter(), Counter()
for r in records:
    for key in r.budget_keys:
        calls[key] += 1
        cost[key] += r.cost_usd
print(len(calls))
"""


def _rows(n: int) -> Iterator[tuple[Any, ...]]:
    for i in range(n):
        tier, model, cost = TIERS[i % len(TIERS)]
        t = START_US + i * 2_000_000
        day = time.strftime("%Y-%m-%d", time.gmtime(t / 1e6))
        keys = json.dumps([f"budget:global:day:{day}", f"user:user-{i % 5000}:day:{day}"])
        yield (t, tier, model, 100, 50, 0, 0, cost, cost * 3, 0.0009, keys, 0, 0)


def write_ledger(path: Path, n: int) -> None:
    """A ledger made by SQLiteLedger (its schema), filled in one bulk transaction."""
    SQLiteLedger(path).close()
    with closing(sqlite3.connect(path)) as db, db:  # closing checkpoints the WAL into the file
        marks = ", ".join("?" * 13)
        db.executemany(f"INSERT INTO records ({COLUMNS}) VALUES ({marks})", _rows(n))


def measure(args: list[str]) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak RSS (MB) of one child process.

    CPU time is printed next to wall time because on a busy machine the wall time mostly
    measures the wait for a core.
    """
    started = time.perf_counter()
    with open(os.devnull, "w") as sink:
        proc = subprocess.Popen(args, stdout=sink)
        _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        msg = f"{args} exited with {proc.returncode}"
        raise RuntimeError(msg)
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024  # KB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--baseline", action="store_true", help="also time the old Python tally")
    parser.add_argument("--keep", type=Path, help="write the ledger here and keep it")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = opts.keep or Path(tmp) / "spend.db"
        started = time.perf_counter()
        write_ledger(path, opts.records)
        size = path.stat().st_size / 1e6
        print(f"{opts.records:,} records written in {time.perf_counter() - started:.1f}s "
              f"({size:.0f} MB)")  # fmt: skip
        cli = [sys.executable, "-m", "langchain_tiered", "report", "--ledger", str(path)]
        print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        print(f"{'command':<44} {'wall s':>7} {'CPU s':>7} {'peak MB':>8}")

        def row(name: str, args: list[str]) -> None:
            wall, cpu, peak = measure(args)
            print(f"{name:<44} {wall:>7.2f} {cpu:>7.2f} {peak:>8.0f}")

        for by in ("tier", "model", "day", "budget_key", "user"):
            for fmt in ("table", "csv", "json"):
                row(f"report --by {by} --format {fmt}", [*cli, "--by", by, "--format", fmt])
        row("(python + import only)", [sys.executable, "-c", "import langchain_tiered.cli"])
        if opts.baseline:
            row("old way: records() + Python tally", [sys.executable, "-c", BASELINE, str(path)])


if __name__ == "__main__":
    main()
