"""``langchain-tiered estimate``: formats, --summary, the expected projection, bad input."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sqlite3
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from langchain_tiered.cli import cli
from langchain_tiered.ledger import SpendRecord, SQLiteLedger

SIMPLE_DE = "Liste die Hauptstädte Europas auf"  # 15 tokens for gpt-4.1-mini
TWO_TIERS = """
[[tiers]]
name = "big"
model = "openai:gpt-4.1"
price = { input_per_mtok = 10.0, output_per_mtok = 20.0 }

[[tiers]]
name = "small"
model = "gpt-4.1-mini"
price = { input_per_mtok = 1.0, output_per_mtok = 2.0 }
"""


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    config = tmp_path / "tiers.toml"
    config.write_text(TWO_TIERS, encoding="utf-8")
    prompts = tmp_path / "prompts.jsonl"
    lines = [{"id": f"p{i}", "prompt": SIMPLE_DE, "max_tokens": 100} for i in range(3)]
    prompts.write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    return prompts, config


def assert_one_line_exit_2(result: Result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_json_has_every_prompt_totals_and_projection(files: tuple[Path, Path]) -> None:
    prompts, config = files
    result = run("estimate", prompts, "--config", config, "--format", "json", "--per-month", "10")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [p["id"] for p in data["prompts"]] == ["p0", "p1", "p2"]
    first = data["prompts"][0]
    # 15 x $1 + 100 x $2 per Mtok on small, written without float noise
    assert (first["tier"], first["prompt_tokens"], first["worst_case_usd"]) == (
        "small",
        15,
        0.000215,
    )
    assert data["routed"]["worst_case_usd"] == 0.000645
    big = data["projection"][0]
    assert big["strategy"] == "all on big (gpt-4.1)"
    assert big["per_call_worst_usd"] == 0.00215
    assert big["per_month_worst_usd"] == 0.0215


def test_summary_prints_totals_only_in_every_format(files: tuple[Path, Path]) -> None:
    prompts, config = files
    table = run("estimate", prompts, "--config", config, "--summary")
    assert table.exit_code == 0, table.output
    assert "Pre-flight plan per prompt" not in table.stdout
    assert " p0 " not in table.stdout
    assert "Totals per tier" in table.stdout
    data = json.loads(
        run("estimate", prompts, "--config", config, "--summary", "--format", "json").stdout
    )
    assert "prompts" not in data
    assert data["planned"] == 3
    rows = list(csv.DictReader(io.StringIO(
        run("estimate", prompts, "--config", config, "--summary", "--format", "csv").stdout
    )))  # fmt: skip
    assert [r["strategy"] for r in rows] == [
        "all on big (gpt-4.1)",
        "all on small (gpt-4.1-mini)",
        "routed",
    ]
    assert rows[-1]["per_call_worst_usd"] == "0.000215"


def test_csv_has_one_row_per_prompt(files: tuple[Path, Path]) -> None:
    prompts, config = files
    result = run("estimate", prompts, "--config", config, "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["id"] for r in rows] == ["p0", "p1", "p2"]
    assert rows[0]["worst_case_usd"] == "0.000215"
    assert rows[0]["max_output_tokens"] == "100"


def test_expected_cost_uses_real_output_lengths_from_a_ledger(
    files: tuple[Path, Path], tmp_path: Path
) -> None:
    prompts, config = files
    ledger = tmp_path / "spend.db"
    with SQLiteLedger(ledger) as book:
        for tokens in (30, 50):  # mean 40 output tokens on "small"
            book.record(
                SpendRecord(
                    time=datetime(2026, 1, 1, tzinfo=timezone.utc),
                    tier="small",
                    model="gpt-4.1-mini",
                    output_tokens=tokens,
                )
            )
    before = hashlib.sha256(ledger.read_bytes()).hexdigest()
    args = ("estimate", prompts, "--config", config, "--format", "json", "--summary")
    without = json.loads(run(*args).stdout)
    assert without["routed"]["expected_usd"] == without["routed"]["worst_case_usd"]
    assert without["expected_at_full_cap"] == 3  # a max_tokens line cap is no task cap
    data = json.loads(run(*args, "--ledger", ledger).stdout)
    # 15 x $1 + 40 x $2 per Mtok = $0.000095 a call, against a worst case of $0.000215
    assert data["routed"]["expected_usd"] == 0.000285
    assert data["routed"]["worst_case_usd"] == 0.000645
    assert "spend.db (2 calls)" in data["expected_basis"]
    assert hashlib.sha256(ledger.read_bytes()).hexdigest() == before  # read-only


@pytest.mark.parametrize(
    ("tier", "tokens", "expected_usd"),
    [
        ("renamed", 40, 0.000285),  # tier renamed since: the model's mean still applies
        ("small", 300, 0.000645),  # a mean above the cap counts as the cap, never above
    ],
)
def test_ledger_mean_by_model_name_and_capped_at_the_worst_case(
    files: tuple[Path, Path], tmp_path: Path, tier: str, tokens: int, expected_usd: float
) -> None:
    prompts, config = files
    ledger = tmp_path / "spend.db"
    with SQLiteLedger(ledger) as book:
        book.record(
            SpendRecord(
                time=datetime(2026, 1, 1, tzinfo=timezone.utc),
                tier=tier,
                model="gpt-4.1-mini",
                output_tokens=tokens,
            )
        )
    args = ("estimate", prompts, "--config", config, "--format", "json", "--summary")
    data = json.loads(run(*args, "--ledger", ledger).stdout)
    assert data["routed"]["expected_usd"] == expected_usd
    assert data["routed"]["worst_case_usd"] == 0.000645


def test_expected_without_task_cap_says_so(tmp_path: Path) -> None:
    config = tmp_path / "tiers.toml"
    config.write_text(TWO_TIERS, encoding="utf-8")
    prompts = tmp_path / "p.jsonl"
    prompts.write_text(
        json.dumps({"prompt": "Tell me about the weather in Munich"}) + "\n", encoding="utf-8"
    )
    result = run("estimate", prompts, "--config", config, "--summary")
    assert result.exit_code == 0, result.output
    assert "1 of 1 prompts have no task cap" in result.stdout


def test_bad_inputs_are_one_line(files: tuple[Path, Path], tmp_path: Path) -> None:
    prompts, config = files
    latin1 = tmp_path / "latin1.jsonl"
    latin1.write_bytes(json.dumps({"prompt": "x"}).encode() + b"\n\xe4\xf6\n")
    assert_one_line_exit_2(run("estimate", latin1, "--config", config), "not UTF-8")
    assert_one_line_exit_2(
        run("estimate", tmp_path / "missing.jsonl", "--config", config), "missing.jsonl"
    )
    assert_one_line_exit_2(
        run("estimate", prompts, "--config", config, "--ledger", tmp_path / "nope.db"), "nope.db"
    )
    foreign = tmp_path / "app.db"
    with closing(sqlite3.connect(foreign)) as db:
        db.execute("CREATE TABLE t (x)")
        db.commit()
    before = foreign.read_bytes()
    assert_one_line_exit_2(
        run("estimate", prompts, "--config", config, "--ledger", foreign), "not a langchain-tiered"
    )
    assert foreign.read_bytes() == before


def test_expected_is_priced_with_the_preflights_cache_writes(tmp_path: Path) -> None:
    # gpt-4.1-mini caches prompts by itself, so its pre-flight bounds a cache write; at a
    # write price above the input price the expected figure must use the same inputs.
    config = tmp_path / "tiers.toml"
    config.write_text(
        TWO_TIERS.replace(
            "{ input_per_mtok = 1.0, output_per_mtok = 2.0 }",
            "{ input_per_mtok = 1.0, output_per_mtok = 2.0, cache_write_per_mtok = 3.0 }",
        ),
        encoding="utf-8",
    )
    prompts = tmp_path / "p.jsonl"
    prompts.write_text(json.dumps({"prompt": SIMPLE_DE, "max_tokens": 100}) + "\n", "utf-8")
    data = json.loads(run("estimate", prompts, "--config", config, "--format", "json").stdout)
    # 15 prompt tokens at the $3 write price + 100 output tokens at $2 per Mtok
    assert data["routed"]["worst_case_usd"] == 0.000245
    assert data["routed"]["expected_usd"] == data["routed"]["worst_case_usd"]
