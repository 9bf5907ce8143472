"""Reports aggregated in SQL: a SQLite ledger file, per-user grouping, shares per scope, money."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path

import pytest

from langchain_tiered.ledger import SpendRecord, SQLiteLedger
from langchain_tiered.reports import (
    plot_daily,
    render_table,
    summarize,
    summarize_sql,
    to_csv,
    to_json,
)

UTC = timezone.utc
DAY = "day:2026-03-02"
MONTH = "month:2026-03"


def record(
    cost: float, keys: tuple[str, ...], *, tier: str = "small", hour: int = 9
) -> SpendRecord:
    return SpendRecord(
        time=datetime(2026, 3, 2, hour, tzinfo=UTC),
        tier=tier,
        model=f"{tier}-model",
        input_tokens=10,
        output_tokens=5,
        cost_usd=cost,
        baseline_cost_usd=cost * 4,
        budget_keys=keys,
    )


# Two budgets named "user" (daily and monthly) plus a global one: alice's calls carry three keys.
ALICE = (f"budget:global:{DAY}", f"user:alice:{DAY}", f"user:alice:{MONTH}")
BOB = (f"budget:global:{DAY}", f"user:bob:{DAY}", f"user:bob:{MONTH}")
KEYED = [record(0.01, ALICE), record(0.02, ALICE, tier="big"), record(0.04, BOB), record(0.5, ())]


def by_group(report: object) -> dict[str, object]:
    return {row.group: row for row in report.rows}  # type: ignore[attr-defined]


def test_a_sqlite_ledger_file_gives_the_same_report_as_its_records(tmp_path: Path) -> None:
    path = tmp_path / "spend.db"
    with SQLiteLedger(path) as ledger:
        for r in KEYED:
            ledger.record(r)
        records = ledger.records()
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        for by in ("tier", "model", "day", "budget_key", "user"):
            assert summarize_sql(db, by=by) == summarize(records, by=by)  # type: ignore[arg-type]
        since = summarize_sql(db, by="tier", since=datetime(2026, 3, 2, 10, tzinfo=UTC))
    assert since.calls == 0


def test_by_user_counts_a_call_once_although_two_periods_charged_it() -> None:
    report = summarize(KEYED, by="user")
    rows = by_group(report)
    assert set(rows) == {"budget:global", "user:alice", "user:bob", "(none)"}
    alice = rows["user:alice"]
    assert alice.calls == 2  # type: ignore[attr-defined]
    assert alice.cost_usd == pytest.approx(0.03)  # type: ignore[attr-defined]
    assert alice.share_of_calls == pytest.approx(2 / 3)  # type: ignore[attr-defined]
    assert rows["budget:global"].calls == 3  # type: ignore[attr-defined]
    assert report.calls == 4


def test_since_is_inclusive_and_keeps_the_records_without_a_key() -> None:
    since = datetime(2026, 3, 2, 9, tzinfo=UTC)  # exactly the records' time
    for by in ("budget_key", "user"):
        report = summarize(KEYED, by=by, since=since)
        assert report.calls == 4
        assert by_group(report)["(none)"].calls == 1  # type: ignore[attr-defined]


def test_a_record_without_a_model_name_is_grouped_under_its_tier() -> None:
    nameless = SpendRecord(
        time=datetime(2026, 3, 2, 9, tzinfo=UTC),
        tier="small",
        model="",
        input_tokens=1,
        output_tokens=1,
        cost_usd=0.25,
    )
    rows = by_group(summarize([*KEYED, nameless], by="model"))
    assert set(rows) == {"small-model", "big-model", "small"}
    assert rows["small"].cost_usd == pytest.approx(0.25)  # type: ignore[attr-defined]


def test_shares_add_to_100_percent_per_scope_not_200() -> None:
    for by in ("budget_key", "user"):
        report = summarize(KEYED, by=by)  # type: ignore[arg-type]
        per_scope: dict[str, float] = {}
        for row in report.rows:
            if row.scope != "all":
                per_scope[row.scope] = per_scope.get(row.scope, 0.0) + row.share_of_calls
        assert per_scope, by
        assert all(total == pytest.approx(1.0) for total in per_scope.values()), per_scope
    scopes = {row.group: row.scope for row in summarize(KEYED, by="budget_key").rows}
    assert scopes[f"user:alice:{DAY}"] == "user:*:day"
    assert scopes[f"user:bob:{MONTH}"] == "user:*:month"
    assert scopes[f"budget:global:{DAY}"] == "budget:global:day"
    none = by_group(summarize(KEYED, by="budget_key"))["(none)"]
    assert (none.scope, none.share_of_calls) == ("all", pytest.approx(0.25))  # type: ignore[attr-defined]


def test_json_and_csv_money_carry_no_float_noise() -> None:
    noisy = [record(0.1, ()), record(0.2, ())]
    assert 0.1 + 0.2 != 0.3  # the noise is real: 0.30000000000000004
    report = summarize(noisy)
    text = to_json(report)
    data = json.loads(text)
    assert data["total_cost_usd"] == 0.3
    assert data["rows"][0]["cost_usd"] == 0.3
    assert "0000000" not in text
    row = next(csv.DictReader(io.StringIO(to_csv(report))))
    assert (row["cost_usd"], row["baseline_cost_usd"], row["savings_usd"]) == ("0.3", "1.2", "0.9")
    tiny = next(csv.DictReader(io.StringIO(to_csv(summarize([record(0.00003, ())])))))
    assert tiny["cost_usd"] == "0.00003"  # plain decimals, never 3e-05


def test_table_never_cuts_a_long_key_and_uses_one_money_format() -> None:
    key = "user:" + "customer-with-a-really-long-identifier-" * 3 + ":day:2026-03-02"
    text = render_table(
        summarize([record(1234.5, (key,)), record(0.000008, (key,))], by="budget_key")
    )
    assert key in text
    assert "$1,234.500008" in text
    assert "$4,938.000032" in text  # baseline in the same $x,xxx.xxxxxx format
    assert "share = of the calls in the row's scope" in text


def test_plot_axis_has_units(tmp_path: Path) -> None:
    matplotlib = pytest.importorskip("matplotlib")
    with matplotlib.rc_context({"svg.fonttype": "none"}):  # keep text as text in the SVG
        out = plot_daily(KEYED, tmp_path / "daily.svg")
    svg = out.read_text(encoding="utf-8")
    assert "cost per day (USD)" in svg
    assert "day (UTC)" in svg


def test_table_columns_line_up_with_negative_savings_and_large_counts() -> None:
    over = SpendRecord(
        time=datetime(2026, 3, 2, tzinfo=UTC),
        tier="pricey-fallback-tier",
        model="m",
        input_tokens=12_345_678,
        cost_usd=0.5,
        baseline_cost_usd=0.1,  # answered by a tier dearer than the baseline: negative saving
    )
    lines = render_table(summarize([over, *KEYED], by="tier")).splitlines()[1:]
    assert "-$0.400000" in next(line for line in lines if line.startswith("pricey"))
    assert len({len(line) for line in lines}) == 1, lines  # every column right-aligned in step


def test_estimated_costs_are_counted_and_said() -> None:
    unknown = SpendRecord(
        time=datetime(2026, 3, 2, tzinfo=UTC),
        tier="big",
        model="m",
        cost_usd=0.25,  # a request that failed after it was sent, charged at its worst case
        cost_is_estimate=True,
        error="ReadTimeout",
    )
    report = summarize([unknown, *KEYED])
    assert (report.estimated_calls, report.estimated_cost_usd) == (1, 0.25)
    assert "of which 1 call(s), $0.250000, are estimates" in render_table(report)
    data = json.loads(to_json(report))
    assert (data["estimated_calls"], data["estimated_cost_usd"]) == (1, 0.25)
    assert "are estimates" not in render_table(summarize(KEYED))
