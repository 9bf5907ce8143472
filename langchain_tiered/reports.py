"""Spend reports from ledger records: aggregation (pure) and JSON, CSV, table and chart output.

:func:`summarize` groups :class:`~langchain_tiered.ledger.SpendRecord` rows by tier, model,
day (UTC) or budget key and computes what tiering saved against the top tier. Nothing here
touches a ledger or the network; the ``langchain-tiered report`` command reads the records
and hands them to these functions.

Grouping by ``budget_key``: a record committed to several keys (say ``global`` and
``user-42``) counts in the row of *each* key, so the rows may add up to more than the
totals; the totals always count each record once. Records without a key are grouped
under ``"(none)"``.

Savings: a record without a baseline (the answer was estimated, or the top tier's price
was unknown) counts its own cost as its baseline, so no saving is claimed for it.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from langchain_tiered.ledger.base import as_utc

if TYPE_CHECKING:
    import os

    from langchain_tiered.ledger import SpendRecord

__all__ = [
    "GroupBy",
    "ReportRow",
    "SpendReport",
    "plot_daily",
    "render_table",
    "summarize",
    "to_csv",
    "to_json",
]

GroupBy = Literal["tier", "model", "day", "budget_key"]
_GROUPINGS: tuple[GroupBy, ...] = ("tier", "model", "day", "budget_key")
_NO_KEY = "(none)"


@dataclass(frozen=True)
class ReportRow:
    """Spend of one group.

    Attributes:
        group: The tier, model, day (``YYYY-MM-DD``, UTC) or budget key.
        calls: Records in the group.
        share_of_calls: ``calls`` divided by the report's total calls (0 if there are none).
        input_tokens: Prompt tokens billed.
        output_tokens: Output tokens billed.
        cost_usd: Actual cost in USD.
        baseline_cost_usd: What the same usage would have cost on the top tier.
        savings_usd: ``baseline_cost_usd - cost_usd``.
    """

    group: str
    calls: int
    share_of_calls: float
    input_tokens: int
    output_tokens: int
    cost_usd: float
    baseline_cost_usd: float
    savings_usd: float


@dataclass(frozen=True)
class SpendReport:
    """Totals over the selected records and one row per group.

    Attributes:
        total_cost_usd: Actual cost of all records, each counted once.
        calls: Number of records.
        baseline_cost_usd: What they would have cost on the top tier.
        savings_usd: ``baseline_cost_usd - total_cost_usd``.
        savings_pct: Savings as a percentage of the baseline (0 when the baseline is 0).
        rows: One row per group, days in date order, other groups by cost (highest first).
        by: The grouping used.
        since: The earliest time included, if the records were filtered.
        input_tokens: Prompt tokens of all records.
        output_tokens: Output tokens of all records.
    """

    total_cost_usd: float
    calls: int
    baseline_cost_usd: float
    savings_usd: float
    savings_pct: float
    rows: list[ReportRow]
    by: GroupBy = "tier"
    since: datetime | None = None
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass
class _Acc:
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    baseline_cost_usd: float = 0.0

    def add(self, record: SpendRecord) -> None:
        self.calls += 1
        self.input_tokens += record.input_tokens
        self.output_tokens += record.output_tokens
        self.cost_usd += record.cost_usd
        self.baseline_cost_usd += _baseline(record)


def _baseline(record: SpendRecord) -> float:
    base = record.baseline_cost_usd
    return record.cost_usd if base is None else base


def _groups(record: SpendRecord, by: GroupBy) -> Iterator[str]:
    if by == "tier":
        yield record.tier
    elif by == "model":
        yield record.model or record.tier
    elif by == "day":
        yield record.time.date().isoformat()  # records are UTC, so this is the UTC day
    else:
        yield from record.budget_keys or (_NO_KEY,)


def summarize(
    records: Iterable[SpendRecord], *, by: GroupBy = "tier", since: datetime | None = None
) -> SpendReport:
    """Aggregate spend records into a report.

    Args:
        records: Spend records, e.g. ``ledger.records()``.
        by: Group rows by ``"tier"``, ``"model"``, ``"day"`` (UTC) or ``"budget_key"``
            (a record with several keys counts under each of them).
        since: Only records at or after this time (naive values are taken as UTC).

    Returns:
        The report; totals count each record once.

    Raises:
        ValueError: If ``by`` is not one of the four groupings.
    """
    if by not in _GROUPINGS:
        msg = f"by must be one of {', '.join(map(repr, _GROUPINGS))}; got {by!r}"
        raise ValueError(msg)
    cutoff = as_utc(since) if since is not None else None
    total = _Acc()
    groups: dict[str, _Acc] = {}
    for record in records:
        if cutoff is not None and record.time < cutoff:
            continue
        total.add(record)
        for name in _groups(record, by):
            groups.setdefault(name, _Acc()).add(record)
    rows = [_row(name, acc, total.calls) for name, acc in groups.items()]
    if by == "day":
        rows.sort(key=lambda r: r.group)
    else:
        rows.sort(key=lambda r: (-r.cost_usd, r.group))
    savings = total.baseline_cost_usd - total.cost_usd
    pct = 100.0 * savings / total.baseline_cost_usd if total.baseline_cost_usd > 0 else 0.0
    return SpendReport(
        total_cost_usd=total.cost_usd,
        calls=total.calls,
        baseline_cost_usd=total.baseline_cost_usd,
        savings_usd=savings,
        savings_pct=pct,
        rows=rows,
        by=by,
        since=cutoff,
        input_tokens=total.input_tokens,
        output_tokens=total.output_tokens,
    )


def _row(name: str, acc: _Acc, total_calls: int) -> ReportRow:
    return ReportRow(
        group=name,
        calls=acc.calls,
        share_of_calls=acc.calls / total_calls if total_calls else 0.0,
        input_tokens=acc.input_tokens,
        output_tokens=acc.output_tokens,
        cost_usd=acc.cost_usd,
        baseline_cost_usd=acc.baseline_cost_usd,
        savings_usd=acc.baseline_cost_usd - acc.cost_usd,
    )


def to_json(report: SpendReport) -> str:
    """Return the report as indented JSON (``since`` as ISO 8601 or ``null``)."""
    data = asdict(report)
    data["since"] = report.since.isoformat() if report.since is not None else None
    return json.dumps(data, indent=2)


def to_csv(report: SpendReport) -> str:
    """Return the rows as CSV with a header; the first column is named after the grouping."""
    names = [f.name for f in fields(ReportRow)]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([report.by, *names[1:]])
    for row in report.rows:
        writer.writerow([getattr(row, name) for name in names])
    return out.getvalue()


def render_table(report: SpendReport, *, width: int = 110) -> str:
    """Render the report as a plain-text table (rich), with a total line.

    Args:
        report: The report to render.
        width: Console width in characters.

    Returns:
        The table as text, without colour codes.
    """
    from rich.console import Console  # noqa: PLC0415 - keeps `import langchain_tiered` light
    from rich.table import Table  # noqa: PLC0415

    title = f"Spend by {report.by}"
    if report.since is not None:
        title += f" since {report.since.isoformat()}"
    table = Table(title=title, show_footer=True)
    totals = [
        "total",
        str(report.calls),
        "100.0%",
        f"{report.input_tokens:,}",
        f"{report.output_tokens:,}",
        f"${report.total_cost_usd:.6f}",
        f"${report.baseline_cost_usd:.6f}",
        f"${report.savings_usd:.6f} ({report.savings_pct:.1f}%)",
    ]
    headers = [
        report.by,
        "calls",
        "share",
        "input tok",
        "output tok",
        "cost",
        "baseline",
        "savings",
    ]
    for i, (header, footer) in enumerate(zip(headers, totals, strict=True)):
        table.add_column(header, footer=footer, justify="left" if i == 0 else "right")
    for row in report.rows:
        table.add_row(
            row.group,
            str(row.calls),
            f"{100 * row.share_of_calls:.1f}%",
            f"{row.input_tokens:,}",
            f"{row.output_tokens:,}",
            f"${row.cost_usd:.6f}",
            f"${row.baseline_cost_usd:.6f}",
            f"${row.savings_usd:.6f}",
        )
    console = Console(record=True, width=width, file=io.StringIO(), color_system=None)
    console.print(table)
    return console.export_text()


def _daily_cost_by_tier(
    records: list[SpendRecord], days: list[str], cutoff: datetime | None
) -> dict[str, list[float]]:
    """Cost per tier per day (the report's own day grouping), aligned with ``days``."""
    index = {day: i for i, day in enumerate(days)}
    out: dict[str, list[float]] = {}
    for record in records:
        if cutoff is not None and record.time < cutoff:
            continue
        for day in _groups(record, "day"):
            out.setdefault(record.tier, [0.0] * len(days))[index[day]] += record.cost_usd
    return out


def plot_daily(
    records: Iterable[SpendRecord],
    path: str | os.PathLike[str],
    *,
    since: datetime | None = None,
) -> Path:
    """Save a chart of daily cost per tier against the top-tier baseline (needs matplotlib).

    Args:
        records: Spend records.
        path: Where to write the image; the format follows the suffix (``.png``, ``.svg``).
        since: Only records at or after this time.

    Returns:
        The path written.

    Raises:
        RuntimeError: If matplotlib is not installed.
    """
    try:
        # Imported by name: matplotlib is an optional extra and may be absent (no stubs either).
        mpl = import_module("matplotlib")
        mpl.use("Agg")  # files only: never open a window or need a display
        plt = import_module("matplotlib.pyplot")
    except ImportError as exc:
        msg = "plot_daily needs matplotlib: pip install 'langchain-tiered[plot]'"
        raise RuntimeError(msg) from exc
    records = list(records)
    report = summarize(records, by="day", since=since)
    days = [row.group for row in report.rows]
    per_tier = _daily_cost_by_tier(records, days, report.since)
    fig, ax = plt.subplots(figsize=(max(6, len(days) * 0.6), 4))
    try:
        bottom = [0.0] * len(days)
        for tier, costs in per_tier.items():  # stacked: each bar is one day's total
            ax.bar(days, costs, bottom=bottom, label=tier)
            bottom = [b + c for b, c in zip(bottom, costs, strict=True)]
        ax.plot(
            days,
            [row.baseline_cost_usd for row in report.rows],
            "o--",
            color="gray",
            label="top-tier baseline",
        )
        ax.set_ylabel("USD")
        ax.set_title(f"Daily spend per tier (saved {report.savings_pct:.1f}%)")
        ax.legend()
        fig.autofmt_xdate()
        out = Path(path)
        fig.savefig(out)
    finally:
        plt.close(fig)
    return out
