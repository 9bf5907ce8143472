"""``RunBudgetExceededError``: a run budget has no room for the run's next step."""

from __future__ import annotations

from langchain_tiered.errors import BudgetExceededError

__all__ = ["RunBudgetExceededError"]


class RunBudgetExceededError(BudgetExceededError):
    """A ``Budget(scope="run")`` has no room left for the next model call of a run.

    Raised before the call is sent, so the step itself cost nothing. It is a
    :class:`~langchain_tiered.BudgetExceededError` too. ``TieredBudgetMiddleware`` turns it
    into a final answer of an agent instead of an exception.

    Attributes:
        run_id: The run (root run id, or the metadata's ``tiered_run``).
        spent_usd: Spent (and still reserved) by the run when it was stopped.
        steps: Model calls the run had made.
        doing: What the refused step was about to do (answer the user, continue after
            tool results from ...).
    """

    def __init__(
        self,
        message: str,
        *,
        run_id: str,
        spent_usd: float,
        steps: int,
        doing: str,
        estimated_cost_usd: float,
        limit_usd: float,
        tier: str | None = None,
        scope: str = "run",
        remaining_usd: float | None = None,
    ) -> None:
        super().__init__(
            message,
            estimated_cost_usd=estimated_cost_usd,
            limit_usd=limit_usd,
            tier=tier,
            scope=scope,
            remaining_usd=remaining_usd,
        )
        self.run_id = run_id
        self.spent_usd = spent_usd
        self.steps = steps
        self.doing = doing
