"""What ``estimate`` prints: streamed per-prompt rows, totals per tier, the monthly projection.

Three formats (``table``, ``json``, ``csv``), one money format in tables (``$1,234.567890``)
and USD rounded to nano-dollars in JSON and CSV. Rows are written as they are planned, so a
large file never sits in memory; ``--summary`` prints only the totals.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import click

from langchain_tiered.cli.common import excerpt
from langchain_tiered.reports import format_usd, round_money
from langchain_tiered.reports.render import fixed_point

if TYPE_CHECKING:
    from langchain_tiered.cli.estimate import EstimateTotals, PlannedPrompt, TierSum

__all__ = ["projection", "write"]

_PLAN_COLUMNS = ("line", "id", "routed_tier", "tier", "prompt_tokens", "max_output_tokens",
                 "worst_case_usd", "expected_usd")  # fmt: skip
_PROJECTION_COLUMNS = ("strategy", "per_call_worst_usd", "per_month_worst_usd",
                       "per_call_expected_usd", "per_month_expected_usd")  # fmt: skip


def _plan_values(p: PlannedPrompt) -> tuple[Any, ...]:
    pre = p.plan.chosen
    return (
        p.item.line,
        p.item.id,
        p.plan.routed_tier,
        p.plan.tier,
        pre.prompt_tokens if pre else None,
        pre.max_output_tokens if pre else None,
        round_money(pre.worst_case_usd) if pre else None,
        round_money(p.expected_usd) if p.expected_usd is not None else None,
    )


def projection(totals: EstimateTotals, per_month: int) -> list[tuple[str, float, float]]:
    """``(strategy, worst case per call, expected per call)``: each single tier, then routed."""
    n = totals.planned or 1
    rows = []
    for tier, model_name in totals.tiers:
        s = totals.all_on.get(tier)
        if s is not None:
            rows.append((f"all on {tier} ({model_name})", s.worst_case_usd / n, s.expected_usd / n))
    routed = totals.routed_total()
    rows.append(("routed", routed.worst_case_usd / n, routed.expected_usd / n))
    return rows


def write(
    planned: Iterable[PlannedPrompt],
    totals: EstimateTotals,
    per_month: int,
    *,
    fmt: str,
    summary: bool,
) -> None:
    """Print the plans (unless ``summary``) as they come, then the totals, in ``fmt``."""
    if summary:
        for _ in planned:  # plan everything, keep only the totals
            pass
        planned = ()
    writer = {"table": _table, "json": _json, "csv": _csv}[fmt]
    for chunk in writer(planned, totals, per_month, summary):
        click.echo(chunk)


# -- table ---------------------------------------------------------------------------------


def _line(cells: Iterable[str], widths: Iterable[int], align: str) -> str:
    parts = (
        c.ljust(w) if a == "l" else c.rjust(w) for c, w, a in zip(cells, widths, align, strict=True)
    )
    return "  ".join(parts).rstrip()


def _table(
    planned: Iterable[PlannedPrompt], totals: EstimateTotals, per_month: int, summary: bool
) -> Iterator[str]:
    tier_w = max(6, *(len(t) for t, _ in totals.tiers), len("none fits"))
    # Fixed widths, known before the first row: rows are printed as soon as they are planned.
    widths = (6, 12, 36, tier_w, tier_w, 10, 7, 14, 14)
    align = "rllllrrrr"
    head = ("line", "id", "prompt", "routed", "tier", "prompt tok", "max out", "worst case",
            "expected")  # fmt: skip
    if not summary:
        yield "Pre-flight plan per prompt"
        yield _line(head, widths, align)
        yield "  ".join("-" * w for w in widths)
        for p in planned:
            pre = p.plan.chosen
            yield _line(
                (
                    str(p.item.line),
                    excerpt(p.item.id, 12),
                    excerpt(p.item.text, 36),
                    p.plan.routed_tier,
                    p.plan.tier or "none fits",
                    str(pre.prompt_tokens) if pre else "-",
                    str(pre.max_output_tokens) if pre else "-",
                    format_usd(pre.worst_case_usd) if pre else "-",
                    format_usd(p.expected_usd) if p.expected_usd is not None else "-",
                ),
                widths,
                align,
            )
        yield ""
    yield from _tier_lines(totals)
    yield ""
    yield from _projection_lines(totals, per_month)
    yield ""
    yield (
        f"{totals.planned} prompts planned, {totals.skipped_lines} malformed line(s) skipped; "
        "no API calls were made."
    )
    yield f"Worst case: every call uses its full output cap. {totals.basis_line()}"


def _aligned(
    headers: tuple[str, ...], rows: Sequence[tuple[str, ...]], align: str
) -> Iterator[str]:
    widths = [max(len(r[i]) for r in (headers, *rows)) for i in range(len(headers))]
    yield _line(headers, widths, align)
    yield "  ".join("-" * w for w in widths)
    for row in rows:
        yield _line(row, widths, align)


def _sum_cells(name: str, model_name: str, s: TierSum) -> tuple[str, ...]:
    return (name, model_name, f"{s.prompts:,}", f"{s.prompt_tokens:,}",
            f"{s.max_output_tokens:,}", format_usd(s.worst_case_usd),
            format_usd(s.expected_usd))  # fmt: skip


def _tier_lines(totals: EstimateTotals) -> Iterator[str]:
    yield "Totals per tier (routed)"
    rows = [_sum_cells(t, m, totals.routed.get(t) or _empty()) for t, m in totals.tiers]
    rows.append(_sum_cells("total", "", totals.routed_total()))
    if totals.none_fits:
        rows.append(("none fits", "", f"{totals.none_fits:,}", "", "", "", ""))
    headers = ("tier", "model", "prompts", "prompt tok", "max out tok", "worst case", "expected")
    yield from _aligned(headers, rows, "llrrrrr")


def _empty() -> TierSum:
    from langchain_tiered.cli.estimate import TierSum  # noqa: PLC0415

    return TierSum()


def _projection_lines(totals: EstimateTotals, per_month: int) -> Iterator[str]:
    yield f"Monthly projection for {per_month:,} calls (same prompt mix)"
    rows = projection(totals, per_month)
    routed_worst = rows[-1][1]
    cells = []
    for strategy, worst, expected in rows:
        ratio = f"{worst / routed_worst:.2f}x" if routed_worst > 0 else "-"
        cells.append((strategy, format_usd(worst), format_usd(worst * per_month),
                      format_usd(expected), format_usd(expected * per_month), ratio))  # fmt: skip
    headers = ("strategy", "worst/call", "worst/month", "expected/call", "expected/month",
               "vs routed")  # fmt: skip
    yield from _aligned(headers, cells, "lrrrrr")
    top_worst, top_expected = rows[0][1], rows[0][2]
    if len(rows) > 1 and top_expected > 0:
        saved = (top_expected - rows[-1][2]) * per_month
        share = saved / (top_expected * per_month)
        yield (
            f"routing saves {format_usd(saved)}/month expected ({share:.0%}), "
            f"{format_usd((top_worst - routed_worst) * per_month)}/month at worst, "
            f"versus sending everything to {totals.tiers[0][0]}"
        )


# -- json and csv --------------------------------------------------------------------------


def _tail(totals: EstimateTotals, per_month: int) -> dict[str, Any]:
    def sums(s: TierSum) -> dict[str, Any]:
        return {
            "prompts": s.prompts,
            "prompt_tokens": s.prompt_tokens,
            "max_output_tokens": s.max_output_tokens,
            "worst_case_usd": round_money(s.worst_case_usd),
            "expected_usd": round_money(s.expected_usd),
        }

    return {
        "tiers": [
            {"tier": t, "model": m, **sums(totals.routed.get(t) or _empty())}
            for t, m in totals.tiers
        ],
        "routed": {**sums(totals.routed_total()), "none_fits": totals.none_fits},
        "per_month": per_month,
        "projection": [
            dict(zip(_PROJECTION_COLUMNS, r, strict=True))
            for r in _projection_rows(totals, per_month)
        ],
        "expected_basis": totals.basis,
        "expected_at_full_cap": totals.at_full_cap,
        "planned": totals.planned,
        "skipped_lines": totals.skipped_lines,
    }


def _projection_rows(totals: EstimateTotals, per_month: int) -> list[tuple[Any, ...]]:
    return [
        (s, round_money(w), round_money(w * per_month), round_money(e), round_money(e * per_month))
        for s, w, e in projection(totals, per_month)
    ]


def _json(
    planned: Iterable[PlannedPrompt], totals: EstimateTotals, per_month: int, summary: bool
) -> Iterator[str]:
    if not summary:
        yield '{"prompts": ['
        first = True
        for p in planned:
            row = json.dumps(dict(zip(_PLAN_COLUMNS, _plan_values(p), strict=True)))
            yield ("" if first else ",") + row
            first = False
        # The totals are known only now, after the last row.
        yield "], " + json.dumps(_tail(totals, per_month))[1:]
    else:
        yield json.dumps(_tail(totals, per_month), indent=2)


def _csv_line(values: Iterable[Any]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow([fixed_point(v) for v in values])
    return out.getvalue()


def _csv(
    planned: Iterable[PlannedPrompt], totals: EstimateTotals, per_month: int, summary: bool
) -> Iterator[str]:
    if summary:  # the projection: the totals a spreadsheet wants
        yield _csv_line(_PROJECTION_COLUMNS)
        for row in _projection_rows(totals, per_month):
            yield _csv_line(row)
        return
    yield _csv_line(_PLAN_COLUMNS)
    for p in planned:
        yield _csv_line(_plan_values(p))
