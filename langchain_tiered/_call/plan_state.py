"""The plan's bookkeeping of one call, and the words for why a tier or the call was refused.

:class:`PlanState` collects what the plan (:mod:`langchain_tiered._call.plan`) tried and
skipped; :meth:`PlanState.final_error` turns it into the error that explains why no tier
answered, and :func:`shortfall_detail` words a money skip (needed, left, what to change).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from langchain_tiered._call.records import Attempt, Skip, SkipReason
from langchain_tiered._redact import redact
from langchain_tiered.budget import shortfall
from langchain_tiered.errors import AllTiersFailedError, BudgetExceededError, NoTierFitsError

if TYPE_CHECKING:
    from collections import deque

    from langchain_tiered._call.state import Runtime
    from langchain_tiered.preflight import Preflight
    from langchain_tiered.routing import RouteDecision

__all__ = ["PlanState", "shortfall_detail"]


@dataclass
class PlanState:
    """Mutable bookkeeping of one plan run."""

    decision: RouteDecision
    order: deque[str]
    attempts: list[Attempt] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)
    budget_errors: list[BudgetExceededError] = field(default_factory=list)
    windows_checked: list[int | None] = field(default_factory=list)
    largest_prompt: int = 0
    min_window: int | None = None
    tried: set[str] = field(default_factory=set)
    started: float = 0.0
    unknown_outcome_usd: float = 0.0

    def skip(self, tier: str, reason: SkipReason, detail: str) -> None:
        """Record a tier passed over without a call."""
        self.skipped.append(Skip(tier, reason, detail))

    def final_error(self, secrets: tuple[str, ...]) -> Exception:
        """The error that explains why no tier answered."""
        if self.attempts:
            tried = ", ".join(f"{a.tier}: {a.error_type}" for a in self.attempts)
            return AllTiersFailedError(
                redact(f"every tier failed ({tried}); skipped: {self._skips()}", secrets),
                attempts=[a.to_error_dict() for a in self.attempts],
            )
        if self.budget_errors:
            cheapest = min(self.budget_errors, key=lambda e: e.estimated_cost_usd)
            cheapest.args = (f"{cheapest.args[0]} (no tier fits; skipped: {self._skips()})",)
            return cheapest
        windows = [s for s in self.skipped if s.reason is SkipReason.CONTEXT_WINDOW]
        if windows and len(windows) == len(self.skipped):
            known = [w for w in self.windows_checked if w is not None]
            largest = max(known) if known else None
            return NoTierFitsError(
                f"prompt of ~{self.largest_prompt} tokens fits no tier (largest context window "
                f"{largest}); shorten the prompt or add a tier with a larger window",
                token_count=self.largest_prompt,
                largest_window=largest,
            )
        text = f"no tier could take the call; skipped: {self._skips()}"
        return AllTiersFailedError(text, attempts=[])

    def _skips(self) -> str:
        return "; ".join(f"{s.tier} ({s.detail})" for s in self.skipped) or "none"


def shortfall_detail(
    rt: Runtime, what: str, pre: Preflight, left: float, limit: float, *, left_label: str = "left"
) -> str:
    """A money skip's detail: needed, left, and what to change (``budget.shortfall``)."""
    settings = rt.settings
    return shortfall(
        what,
        pre.worst_case_usd,
        left,
        limit,
        capping=settings.cap_output_to_budget,
        min_output_tokens=settings.min_output_tokens,
        left_label=left_label,
    )
