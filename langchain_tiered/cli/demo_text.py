"""Plain-text pieces of the demo's output: aligned tables, router signals, attempt paths."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from langchain_tiered.cli.common import excerpt

__all__ = ["attempt_path", "signals", "table"]


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], align: str) -> Iterator[str]:
    """An aligned plain-text table: ``align`` has one ``l`` or ``r`` per column."""
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.ljust(w) if a == "l" else c.rjust(w)
            for c, w, a in zip(cells, widths, align, strict=True)
        ).rstrip()

    yield line(headers)
    yield "  ".join("-" * w for w in widths)
    for row in rows:
        yield line(row)


def signals(reason: str) -> str:
    """The router's signal list, without the score and tier the table already shows."""
    head, sep, rest = reason.split("; ", maxsplit=1)[0].partition("): ")
    return rest if sep else head


def _skip_reason(reason: str) -> str:
    for short in ("cooling down", "budget", "context window", "max_cost_per_call"):
        if short in reason:
            return short
    return excerpt(reason.split(";", maxsplit=1)[0], 30)


def attempt_path(
    attempts: Sequence[Mapping[str, Any]], skipped: Sequence[Mapping[str, Any]]
) -> str:
    """``skipped v4-pro (cooling down) -> v3.2 429 -> v3.2 ok``: what each tier did, in order."""
    steps = []
    if skipped:
        why = [f"{s.get('tier')} ({_skip_reason(str(s.get('reason', '')))})" for s in skipped]
        steps.append("skipped " + ", ".join(why))
    for attempt in attempts:
        if attempt.get("kind") == "ok":
            outcome = "ok"
        else:
            outcome = str(attempt.get("status") or attempt.get("error_type") or "failed")
        steps.append(f"{attempt.get('tier')} {outcome}")
    return " -> ".join(steps)
