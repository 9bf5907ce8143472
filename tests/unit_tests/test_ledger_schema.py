"""The SQLite ledger recognises itself: a version table, read-only opens, foreign files refused."""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import pytest

from langchain_tiered.ledger import (
    LedgerReadOnlyError,
    NotALedgerError,
    SpendRecord,
    SQLiteLedger,
)
from langchain_tiered.ledger._sqlite_schema import SCHEMA_VERSION

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _ledger_with_one_call(path: Path) -> None:
    with SQLiteLedger(path) as ledger:
        r = ledger.reserve({"day": 1.0}, 0.5)
        ledger.settle(r, 0.25, SpendRecord(time=T0, tier="t", model="m", cost_usd=0.25))


def _foreign(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    db.execute("INSERT INTO customers (name) VALUES ('ada')")
    db.commit()
    db.close()


def test_a_write_open_stamps_the_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "spend.db"
    SQLiteLedger(path).close()
    db = sqlite3.connect(path)
    assert db.execute("SELECT version FROM tiered_schema").fetchall() == [(SCHEMA_VERSION,)]
    db.close()


def test_readonly_reads_spend_and_records(tmp_path: Path) -> None:
    path = tmp_path / "spend.db"
    _ledger_with_one_call(path)
    with SQLiteLedger.open_readonly(path) as ledger:
        assert ledger.spent("day") == pytest.approx(0.25)
        assert [r.cost_usd for r in ledger.records()] == [0.25]
    with SQLiteLedger(path, readonly=True) as ledger:
        assert ledger.readonly
        assert ledger.spent("day") == pytest.approx(0.25)


def test_readonly_never_writes(tmp_path: Path) -> None:
    path = tmp_path / "spend.db"
    _ledger_with_one_call(path)
    before = _digest(path)
    with SQLiteLedger.open_readonly(path) as ledger:
        with pytest.raises(LedgerReadOnlyError, match="read-only"):
            ledger.reserve({"day": 1.0}, 0.1)
        with pytest.raises(LedgerReadOnlyError):
            ledger.record(SpendRecord(time=T0, tier="t", model="m"))
        ledger.records()
    assert _digest(path) == before


def test_readonly_on_a_foreign_database_raises_and_leaves_it_byte_identical(
    tmp_path: Path,
) -> None:
    path = tmp_path / "app.db"
    _foreign(path)
    before = _digest(path)
    with pytest.raises(NotALedgerError, match="not a langchain-tiered ledger"):
        SQLiteLedger.open_readonly(path)
    assert _digest(path) == before
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    assert {r[0] for r in db.execute("SELECT name FROM sqlite_master")} == {"customers"}
    db.close()


def test_a_write_open_refuses_a_foreign_database_too(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    _foreign(path)
    before = _digest(path)
    with pytest.raises(NotALedgerError, match="not a langchain-tiered ledger"):
        SQLiteLedger(path)
    assert _digest(path) == before


@pytest.mark.parametrize(
    ("content", "match"),
    [(None, "does not exist"), (b"", "no ledger tables"), (b"hello, not sqlite\n" * 200, "not")],
)
def test_readonly_refuses_missing_empty_and_non_sqlite_files(
    tmp_path: Path, content: bytes | None, match: str
) -> None:
    path = tmp_path / "x.db"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(NotALedgerError, match=match):
        SQLiteLedger.open_readonly(path)
    assert (not path.exists()) if content is None else path.read_bytes() == content


def test_readonly_refuses_a_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "spend.db"
    SQLiteLedger(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE tiered_schema SET version = ?", (SCHEMA_VERSION + 1,))
    db.commit()
    db.close()
    with pytest.raises(NotALedgerError, match="schema"):
        SQLiteLedger.open_readonly(path)
    with pytest.raises(NotALedgerError, match="upgrade langchain-tiered"):
        SQLiteLedger(path)


def _legacy(path: Path) -> None:
    """A ledger file as version 0 wrote it: no version table, no error columns."""
    _ledger_with_one_call(path)
    db = sqlite3.connect(path)
    db.execute("DROP TABLE tiered_schema")
    db.execute("DROP TABLE journal_applied")
    db.execute("ALTER TABLE records DROP COLUMN error")
    db.execute("ALTER TABLE records DROP COLUMN cost_is_estimate")
    db.commit()
    db.close()


def test_a_version_0_ledger_is_read_as_is_and_upgraded_on_write_open(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _legacy(path)
    before = _digest(path)
    with SQLiteLedger.open_readonly(path) as ledger:
        (rec,) = ledger.records()
        assert (rec.cost_usd, rec.error, rec.cost_is_estimate) == (0.25, None, False)
    assert _digest(path) == before
    with SQLiteLedger(path) as ledger:
        ledger.record(
            SpendRecord(time=T0, tier="t", model="m", error="boom", cost_is_estimate=True)
        )
        assert [(r.error, r.cost_is_estimate) for r in ledger.records()] == [
            (None, False),
            ("boom", True),
        ]
    db = sqlite3.connect(path)
    assert db.execute("SELECT version FROM tiered_schema").fetchall() == [(SCHEMA_VERSION,)]
    db.close()


def test_readonly_works_on_a_read_only_wal_file_in_a_read_only_directory(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    path = folder / "spend.db"
    _ledger_with_one_call(path)
    path.chmod(0o444)
    folder.chmod(0o555)
    try:
        with SQLiteLedger.open_readonly(path) as ledger:
            assert ledger.spent("day") == pytest.approx(0.25)
    finally:
        folder.chmod(0o755)
        path.chmod(0o644)


def test_record_error_text_is_stored_with_keys_masked(tmp_path: Path) -> None:
    leak = "Incorrect API key provided: sk-LEAKCANARY123456"
    with SQLiteLedger(tmp_path / "spend.db") as ledger:
        ledger.record(SpendRecord(time=T0, tier="t", model="m", error=leak))
        (rec,) = ledger.records()
    assert rec.error is not None
    assert "LEAKCANARY" not in rec.error
    assert "[REDACTED]" in rec.error
    assert b"LEAKCANARY" not in (tmp_path / "spend.db").read_bytes()
