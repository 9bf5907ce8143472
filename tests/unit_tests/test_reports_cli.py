"""``langchain-tiered report`` reads a ledger without ever writing to the file it is given."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from langchain_tiered.cli import cli
from langchain_tiered.ledger import SpendRecord, SQLiteLedger

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_one_line_exit_2(result: Result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.fixture
def ledger_path(tmp_path: Path) -> Path:
    path = tmp_path / "spend.db"
    with SQLiteLedger(path) as ledger:
        for i, user in enumerate(("alice", "bob", "alice")):
            keys = ("budget:global:day:2026-11-28", f"user:{user}:day:2026-11-28")
            ledger.record(
                SpendRecord(
                    time=T0,
                    tier="small",
                    model="m",
                    input_tokens=10,
                    output_tokens=5,
                    cost_usd=0.001 * (i + 1),
                    baseline_cost_usd=0.01,
                    budget_keys=keys,
                )
            )
    return path


def test_a_foreign_database_is_refused_and_left_byte_identical(tmp_path: Path) -> None:
    foreign = tmp_path / "app.db"
    with closing(sqlite3.connect(foreign)) as db:
        db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
        db.execute("INSERT INTO customers (name) VALUES ('ada')")
        db.commit()
    before = digest(foreign)
    for args in ((), ("--format", "json"), ("--by", "user")):
        assert_one_line_exit_2(run("report", "--ledger", foreign, *args), "not a langchain-tiered")
    assert digest(foreign) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.db"]  # no -wal / -shm left


def test_a_file_that_is_not_sqlite_is_refused(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello\n" * 100, encoding="utf-8")
    before = digest(text)
    assert_one_line_exit_2(run("report", "--ledger", text), "not a langchain-tiered ledger")
    assert digest(text) == before


def test_reading_a_ledger_leaves_it_byte_identical(ledger_path: Path) -> None:
    before = digest(ledger_path)
    result = run("report", "--ledger", ledger_path, "--by", "budget_key")
    assert result.exit_code == 0, result.output
    assert "user:alice:day:2026-11-28" in result.stdout
    assert digest(ledger_path) == before


def test_a_read_only_ledger_file_is_reported(ledger_path: Path) -> None:
    ledger_path.chmod(0o444)
    try:
        result = run("report", "--ledger", ledger_path, "--format", "json", "--by", "user")
    finally:
        ledger_path.chmod(0o644)
    assert result.exit_code == 0, result.output
    rows = {row["group"]: row for row in json.loads(result.stdout)["rows"]}
    assert rows["user:alice"]["calls"] == 2
    assert rows["user:alice"]["cost_usd"] == 0.004
    assert rows["user:alice"]["share_of_calls"] == pytest.approx(2 / 3, abs=1e-6)
    assert rows["budget:global"]["share_of_calls"] == 1.0


@pytest.mark.parametrize("since", ["99999999d", "999999999999h", "0001-01-01x"])
def test_bad_since_is_one_line(ledger_path: Path, since: str) -> None:
    assert_one_line_exit_2(run("report", "--ledger", ledger_path, "--since", since), "--since")


def test_a_missing_ledger_is_one_line_and_not_created(tmp_path: Path) -> None:
    assert_one_line_exit_2(run("report", "--ledger", tmp_path / "nope.db"), "does not exist")
    assert not (tmp_path / "nope.db").exists()
    assert_one_line_exit_2(run("report", "--ledger", tmp_path), "does not exist")


def test_an_unwritable_plot_path_is_one_line(ledger_path: Path, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    for bad in (tmp_path / "no-such-dir" / "chart.png", tmp_path / "chart.unknown-format"):
        assert_one_line_exit_2(run("report", "--ledger", ledger_path, "--plot", bad), "--plot")


def test_a_ledger_written_before_the_version_table_is_reported(tmp_path: Path) -> None:
    old = tmp_path / "old.db"
    with closing(sqlite3.connect(old)) as db:  # the version-0 layout: no stamp, no estimate flag
        db.executescript(
            """
            CREATE TABLE spend (key TEXT PRIMARY KEY, amount INTEGER NOT NULL);
            CREATE TABLE holds (id TEXT PRIMARY KEY, amount INTEGER, expires_at REAL);
            CREATE TABLE reservations (id TEXT, key TEXT, amount INTEGER, expires_at REAL);
            CREATE TABLE records (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                time_us INTEGER NOT NULL, tier TEXT NOT NULL, model TEXT NOT NULL,
                input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL,
                cached_tokens INTEGER NOT NULL, reasoning_tokens INTEGER NOT NULL,
                cost_usd REAL NOT NULL, estimated_cost_usd REAL NOT NULL, baseline_cost_usd REAL,
                budget_keys TEXT NOT NULL, fallback INTEGER NOT NULL,
                cached_response INTEGER NOT NULL, run_id TEXT
            );
            INSERT INTO records VALUES (
                NULL, 1764000000000000, 'small', 'm', 10, 5, 0, 0, 0.002, 0.01, 0.008, '[]', 0, 0,
                NULL
            );
            """
        )
    before = digest(old)
    result = run("report", "--ledger", old, "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["calls"], data["total_cost_usd"], data["estimated_calls"]) == (1, 0.002, 0)
    assert digest(old) == before
