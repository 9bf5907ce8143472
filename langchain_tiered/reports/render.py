"""Reports as text: a plain table for people, JSON and CSV (money rounded) for machines."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import fields

from langchain_tiered.reports.model import MONEY_DECIMALS, ReportRow, SpendReport, round_money

__all__ = [
    "csv_lines",
    "fixed_point",
    "format_usd",
    "json_chunks",
    "render_lines",
    "render_table",
    "to_csv",
    "to_json",
]

_MONEY_FIELDS = frozenset(
    {"cost_usd", "baseline_cost_usd", "savings_usd", "total_cost_usd", "estimated_cost_usd"}
)
_SHARE_DECIMALS = 6
_KEYED = ("budget_key", "user")


def format_usd(value: float) -> str:
    """The one money format of every table: dollars with six decimals (``$0.000232``)."""
    sign = "-" if value < 0 and round(value, 6) != 0 else ""
    return f"{sign}${abs(value):,.6f}"


def _headers(report: SpendReport) -> list[str]:
    scope = ["scope"] if report.by in _KEYED else []
    return [report.by, *scope, "calls", "share", "input tok", "output tok", "cost", "baseline",
            "savings"]  # fmt: skip


def _cells(row: ReportRow, keyed: bool) -> list[str]:
    return [
        row.group,
        *([row.scope] if keyed else []),
        f"{row.calls:,}",
        f"{100 * row.share_of_calls:.1f}%",
        f"{row.input_tokens:,}",
        f"{row.output_tokens:,}",
        format_usd(row.cost_usd),
        format_usd(row.baseline_cost_usd),
        format_usd(row.savings_usd),
    ]


def _totals(report: SpendReport, keyed: bool) -> list[str]:
    return [
        "total",
        *([""] if keyed else []),
        f"{report.calls:,}",
        "100.0%" if report.calls else "-",
        f"{report.input_tokens:,}",
        f"{report.output_tokens:,}",
        format_usd(report.total_cost_usd),
        format_usd(report.baseline_cost_usd),
        f"{format_usd(report.savings_usd)} ({report.savings_pct:.1f}%)",
    ]


def _widest(rows: list[ReportRow], keyed: bool) -> list[int]:
    """Width of each column's widest cell (formats are monotonic in the value's magnitude)."""

    def count(values: list[int]) -> int:
        return len(f"{max(values):,}")

    def money(values: list[float]) -> int:
        return max(len(format_usd(min(values))), len(format_usd(max(values))))

    return [
        max(len(r.group) for r in rows),
        *([max(len(r.scope) for r in rows)] if keyed else []),
        count([r.calls for r in rows]),
        len("100.0%"),
        count([r.input_tokens for r in rows]),
        count([r.output_tokens for r in rows]),
        money([r.cost_usd for r in rows]),
        money([r.baseline_cost_usd for r in rows]),
        money([r.savings_usd for r in rows]),
    ]


def render_lines(report: SpendReport) -> Iterator[str]:
    """The table of :func:`render_table`, line by line.

    Columns are as wide as their longest cell: a budget key is never cut, whatever the
    terminal width. Text columns are left-aligned, numbers right-aligned.
    """
    keyed = report.by in _KEYED
    title = f"Spend by {report.by}"
    if report.since is not None:
        title += f" since {report.since.isoformat()}"
    yield title
    if keyed:
        yield "(a call counts under each of its keys; share = of the calls in the row's scope)"
    headers, totals = _headers(report), _totals(report, keyed)
    widths = [max(len(h), len(t)) for h, t in zip(headers, totals, strict=True)]
    if report.rows:
        # The widest cell of each column, from its extreme values, so each row is formatted
        # once and no cell is held: a report of 100,000 keys streams out.
        widths = [max(w, c) for w, c in zip(widths, _widest(report.rows, keyed), strict=True)]
    texts = 2 if keyed else 1

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i < texts else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    yield line(headers)
    yield rule
    for row in report.rows:
        yield line(_cells(row, keyed))
    yield rule
    yield line(totals)
    if report.estimated_calls:
        cost = format_usd(report.estimated_cost_usd)
        yield (
            f"of which {report.estimated_calls:,} call(s), {cost}, are estimates: outcome "
            "unknown (charged at the reserved worst case) or usage missing"
        )


def render_table(report: SpendReport, *, width: int | None = None) -> str:
    """Render the report as a plain-text table with a total line (no colour codes).

    Args:
        report: The report to render.
        width: Ignored; kept so older calls still work. Columns size to their content.

    Returns:
        The table, one line per group, ending with a newline.
    """
    del width
    return "".join(f"{line}\n" for line in render_lines(report))


_ROW_FIELDS = tuple(f.name for f in fields(ReportRow))


def _machine_row(row: ReportRow) -> tuple[object, ...]:
    """The row's values in field order, rounded for JSON and CSV (spelled out: it is hot)."""
    return (
        row.group,
        row.calls,
        round(row.share_of_calls, _SHARE_DECIMALS),
        row.input_tokens,
        row.output_tokens,
        round_money(row.cost_usd),
        round_money(row.baseline_cost_usd),
        round_money(row.savings_usd),
        row.scope,
    )


def fixed_point(value: object) -> object:
    """A float as plain decimal text (``0.00003``, never ``3e-05``) for CSV; others unchanged."""
    if isinstance(value, float):
        text = f"{value:.{MONEY_DECIMALS}f}".rstrip("0").rstrip(".")
        return "0" if text in ("", "-0") else text
    return value


def _row_data(row: ReportRow) -> dict[str, object]:
    return dict(zip(_ROW_FIELDS, _machine_row(row), strict=True))


def json_chunks(report: SpendReport, *, rows_per_chunk: int = 2000) -> Iterator[str]:
    """The JSON of :func:`to_json` in pieces, so a report of many groups streams out."""
    head = {
        f.name: _csv_cell(f.name, getattr(report, f.name))
        for f in fields(SpendReport)
        if f.name not in ("rows", "since")
    }
    head["savings_pct"] = round(report.savings_pct, 4)
    head["since"] = report.since.isoformat() if report.since is not None else None
    yield json.dumps(head, indent=2)[:-2] + ',\n  "rows": ['
    rows = report.rows
    for start in range(0, len(rows), rows_per_chunk):
        chunk = ",".join(
            "\n    " + json.dumps(_row_data(r)) for r in rows[start : start + rows_per_chunk]
        )
        yield ("," if start else "") + chunk
    yield "\n  ]\n}" if rows else "]\n}"


def to_json(report: SpendReport) -> str:
    """The report as JSON (one row per line); USD rounded to nano-dollars, ``since`` ISO 8601."""
    return "".join(json_chunks(report))


def _csv_cell(name: str, value: object) -> object:
    """A machine-format value: money rounded to nano-dollars, shares to six decimals."""
    if name in _MONEY_FIELDS:
        return round_money(float(value))  # type: ignore[arg-type]
    if name == "share_of_calls":
        return round(float(value), _SHARE_DECIMALS)  # type: ignore[arg-type]
    return value


def csv_lines(report: SpendReport, *, rows_per_chunk: int = 2000) -> Iterator[str]:
    """The CSV of :func:`to_csv` in chunks of ``rows_per_chunk`` rows (the header first)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([report.by, *_ROW_FIELDS[1:]])
    for i, row in enumerate(report.rows, start=1):
        writer.writerow([fixed_point(v) for v in _machine_row(row)])
        if i % rows_per_chunk == 0:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    if out.tell():
        yield out.getvalue()


def to_csv(report: SpendReport) -> str:
    """The rows as CSV with a header; the first column is named after the grouping.

    USD amounts are rounded to nano-dollars, so sums carry no float noise.
    """
    return "".join(csv_lines(report))
