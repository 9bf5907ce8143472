"""The report's values: one row per group, totals, and how money is rounded for machines."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

__all__ = [
    "GROUPINGS",
    "MONEY_DECIMALS",
    "NO_KEY",
    "GroupBy",
    "ReportRow",
    "SpendReport",
    "key_scope",
    "round_money",
]

GroupBy = Literal["tier", "model", "day", "budget_key", "user"]
GROUPINGS: tuple[GroupBy, ...] = ("tier", "model", "day", "budget_key", "user")
NO_KEY = "(none)"
"""Group of records committed to no budget key."""

MONEY_DECIMALS = 9
"""Decimals of USD amounts in JSON and CSV: nano-dollars, the ledger's own unit, so a sum's
float noise (``0.00023200000000000003``) never reaches a file."""

# A ledger key is "<budget name>:<who>:<period>", period "day:YYYY-MM-DD", "month:YYYY-MM" or
# "all" (see Budget.key). <who> may itself contain colons, so the period is matched at the end.
_KEY = re.compile(
    r"^(?P<name>[^:]+):(?P<who>.+?)(?::(?P<period>day|month):[0-9-]+|:(?P<all>all))?$"
)


def round_money(value: float) -> float:
    """``value`` rounded to :data:`MONEY_DECIMALS` (and ``-0.0`` turned into ``0.0``)."""
    return round(value, MONEY_DECIMALS) + 0.0


def key_scope(group: str, *, by: GroupBy) -> str:
    """The scope a budget-key (or user) group belongs to; shares add up to 100% per scope.

    A call is charged to one key per budget, so the keys of one budget (``user:*:day``:
    every user's daily key) never overlap, while a global and a per-user key of the same
    call do. Keys that do not follow the ``name:who:period`` layout, and records without a
    key, share the scope ``"all"`` (a share of every call).

    Args:
        group: A ledger key (``by="budget_key"``) or a key without its period (``"user"``).
        by: The grouping that produced ``group``.
    """
    match = _KEY.match(group)
    if group == NO_KEY or match is None or (by == "budget_key" and not _has_period(match)):
        return "all"
    who = "global" if match["who"] == "global" else "*"
    if by == "user":
        return f"{match['name']}:{who}"
    return f"{match['name']}:{who}:{match['period'] or 'all'}"


def _has_period(match: re.Match[str]) -> bool:
    return bool(match["period"] or match["all"])


@dataclass(frozen=True)
class ReportRow:
    """Spend of one group.

    Attributes:
        group: The tier, model, day (``YYYY-MM-DD``, UTC), budget key or user (a budget key
            without its period, e.g. ``user:alice``).
        calls: Records in the group.
        share_of_calls: ``calls`` divided by the calls of the row's ``scope`` (all calls for
            tier, model and day; see :func:`key_scope` for keys), 0 if there are none.
        input_tokens: Prompt tokens billed.
        output_tokens: Output tokens billed.
        cost_usd: Actual cost in USD.
        baseline_cost_usd: What the same usage would have cost on the top tier.
        savings_usd: ``baseline_cost_usd - cost_usd``.
        scope: What ``share_of_calls`` is a share of: ``"all"``, or a budget's keys such as
            ``"user:*:day"`` (every user's daily key) for the key groupings.
    """

    group: str
    calls: int
    share_of_calls: float
    input_tokens: int
    output_tokens: int
    cost_usd: float
    baseline_cost_usd: float
    savings_usd: float
    scope: str = "all"


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
        estimated_calls: Records whose cost is an estimate, not the provider's count (an
            unknown outcome charged at its reserved worst case, or usage missing).
        estimated_cost_usd: The cost of those records, included in ``total_cost_usd``.
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
    estimated_calls: int = 0
    estimated_cost_usd: float = 0.0
