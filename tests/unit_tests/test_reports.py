"""Spend reports: exact SQL aggregation by tier, model, day, budget key and user, every format."""

from __future__ import annotations

import csv
import io
import json
from contextlib import closing
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from langchain_tiered import Budget, InMemoryLedger, Tier, TieredChatModel, get_tiered_cost_callback
from langchain_tiered.ledger import SpendRecord
from langchain_tiered.reports import (
    ReportRow,
    daily_cost_by_tier,
    plot_daily,
    records_connection,
    render_table,
    summarize,
    to_csv,
    to_json,
)
from langchain_tiered.reports import plot as plot_module
from tests.unit_tests.fakes import PRICES, FakeTier

UTC = timezone.utc
PLUS2 = timezone(timedelta(hours=2))

RECORDS = [
    SpendRecord(
        time=datetime(2026, 1, 1, 10, 0, tzinfo=UTC),
        tier="budget",
        model="bm",
        input_tokens=100,
        output_tokens=10,
        cost_usd=0.001,
        baseline_cost_usd=0.010,
        budget_keys=("global", "user-1"),
    ),
    SpendRecord(
        time=datetime(2026, 1, 1, 23, 30, tzinfo=UTC),
        tier="critical",
        model="cm",
        input_tokens=200,
        output_tokens=20,
        cost_usd=0.020,
        baseline_cost_usd=0.020,
        budget_keys=("global",),
    ),
    # 00:30 at +02:00 is still 1 January in UTC; no baseline: no saving claimed.
    SpendRecord(
        time=datetime(2026, 1, 2, 0, 30, tzinfo=PLUS2),
        tier="budget",
        model="bm",
        input_tokens=50,
        output_tokens=5,
        cost_usd=0.0005,
    ),
    SpendRecord(
        time=datetime(2026, 1, 3, 12, 0, tzinfo=UTC),
        tier="standard",
        model="sm",
        input_tokens=300,
        output_tokens=30,
        cost_usd=0.003,
        baseline_cost_usd=0.015,
        budget_keys=("user-1",),
    ),
]


def rows(report: Any) -> dict[str, ReportRow]:
    return {row.group: row for row in report.rows}


def test_totals_count_each_record_once() -> None:
    report = summarize(RECORDS)
    assert report.calls == 4
    assert report.total_cost_usd == pytest.approx(0.0245)
    assert report.baseline_cost_usd == pytest.approx(0.0455)
    assert report.savings_usd == pytest.approx(0.021)
    assert (report.input_tokens, report.output_tokens) == (650, 65)
    assert report.savings_pct == pytest.approx(100 * 0.021 / 0.0455)


def test_by_tier_rows_are_exact_and_ordered_by_cost() -> None:
    report = summarize(RECORDS, by="tier")
    assert [r.group for r in report.rows] == ["critical", "standard", "budget"]
    budget = rows(report)["budget"]
    assert budget.calls == 2
    assert budget.share_of_calls == pytest.approx(0.5)
    assert (budget.input_tokens, budget.output_tokens) == (150, 15)
    assert budget.cost_usd == pytest.approx(0.0015)
    assert budget.baseline_cost_usd == pytest.approx(0.0105)
    assert budget.savings_usd == pytest.approx(0.009)
    assert rows(report)["critical"].savings_usd == pytest.approx(0.0)


def test_by_model() -> None:
    report = summarize(RECORDS, by="model")
    assert {g: r.calls for g, r in rows(report).items()} == {"bm": 2, "cm": 1, "sm": 1}


def test_by_day_uses_utc_days_in_date_order() -> None:
    report = summarize(RECORDS, by="day")
    assert [r.group for r in report.rows] == ["2026-01-01", "2026-01-03"]
    first = report.rows[0]
    assert first.calls == 3
    assert first.cost_usd == pytest.approx(0.0215)
    assert first.share_of_calls == pytest.approx(0.75)


def test_by_budget_key_counts_a_record_under_each_of_its_keys() -> None:
    report = summarize(RECORDS, by="budget_key")
    assert [r.group for r in report.rows] == ["global", "user-1", "(none)"]
    by_key = rows(report)
    assert by_key["global"].calls == 2
    assert by_key["global"].cost_usd == pytest.approx(0.021)
    assert by_key["user-1"].calls == 2
    assert by_key["user-1"].cost_usd == pytest.approx(0.004)
    assert by_key["user-1"].baseline_cost_usd == pytest.approx(0.025)
    assert by_key["(none)"].calls == 1
    assert sum(r.calls for r in report.rows) == 5  # rows overlap ...
    assert report.calls == 4  # ... totals do not


def test_since_filters_and_naive_since_is_utc() -> None:
    report = summarize(RECORDS, since=datetime(2026, 1, 2))  # naive: read as UTC
    assert report.calls == 1
    assert report.total_cost_usd == pytest.approx(0.003)
    assert report.since == datetime(2026, 1, 2, tzinfo=UTC)


def test_empty_and_invalid_grouping() -> None:
    empty = summarize([])
    assert (empty.calls, empty.total_cost_usd, empty.savings_pct, empty.rows) == (0, 0.0, 0.0, [])
    with pytest.raises(ValueError, match="by must be one of"):
        summarize(RECORDS, by="week")  # type: ignore[arg-type]


def test_to_json_round_trips() -> None:
    report = summarize(RECORDS, by="day", since=datetime(2026, 1, 1, tzinfo=UTC))
    data = json.loads(to_json(report))
    assert data["calls"] == 4
    assert data["by"] == "day"
    assert data["since"] == "2026-01-01T00:00:00+00:00"
    assert data["rows"][0]["group"] == "2026-01-01"
    assert data["rows"][0]["cost_usd"] == pytest.approx(0.0215)


def test_to_csv_has_a_header_named_after_the_grouping() -> None:
    text = to_csv(summarize(RECORDS, by="tier"))
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert list(parsed[0]) == [
        "tier",
        "calls",
        "share_of_calls",
        "input_tokens",
        "output_tokens",
        "cost_usd",
        "baseline_cost_usd",
        "savings_usd",
        "scope",
    ]
    assert [r["tier"] for r in parsed] == ["critical", "standard", "budget"]
    assert parsed[2]["calls"] == "2"
    assert float(parsed[2]["cost_usd"]) == pytest.approx(0.0015)


def test_render_table_is_plain_text_with_rows_and_totals() -> None:
    text = render_table(summarize(RECORDS, by="tier"), width=120)
    assert "Spend by tier" in text
    for expected in (
        "critical",
        "standard",
        "budget",
        "total",
        "$0.024500",
        "$0.045500",
        "(46.2%)",
        "50.0%",
    ):
        assert expected in text
    assert "\x1b[" not in text  # no colour codes in files or logs


def test_plot_daily_without_matplotlib_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def missing(name: str) -> Any:
        raise ImportError(name)

    monkeypatch.setattr(plot_module, "import_module", missing)
    with pytest.raises(RuntimeError, match=r"pip install 'langchain-tiered\[plot\]'"):
        plot_daily(RECORDS, tmp_path / "daily.png")


def test_plot_daily_writes_an_image(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = plot_daily(RECORDS, tmp_path / "daily.png")
    assert out.stat().st_size > 0


def test_report_from_a_real_ledger_matches_the_cost_callback() -> None:
    ledger = InMemoryLedger()
    tiers = [
        Tier(name=n, model=FakeTier(model_name=f"{n}-model"), price=PRICES[n])
        for n in ("critical", "standard", "budget")
    ]
    model = TieredChatModel(tiers=tiers, budget=Budget(limit_usd=1, ledger=ledger))
    with get_tiered_cost_callback() as cb:
        for tier in ("budget", "budget", "standard", "critical"):
            model.invoke("Liste die Hauptstädte Europas auf", tier=tier)
    report = summarize(ledger.records(), by="tier")
    assert report.calls == cb.calls == 4
    assert report.total_cost_usd == pytest.approx(cb.total_cost_usd)
    assert report.savings_usd == pytest.approx(cb.savings_usd)
    for row in report.rows:
        assert row.calls == cb.by_tier[row.group].calls
        assert row.cost_usd == pytest.approx(cb.by_tier[row.group].cost_usd)


def test_daily_cost_by_tier_sums_to_the_daily_report() -> None:
    report = summarize(RECORDS, by="day")
    with closing(records_connection(RECORDS)) as db:
        per_day = daily_cost_by_tier(db)
    assert list(per_day) == [row.group for row in report.rows]
    for row in report.rows:
        assert sum(per_day[row.group].values()) == pytest.approx(row.cost_usd)
    assert {t for costs in per_day.values() for t in costs} == {r.tier for r in RECORDS}
