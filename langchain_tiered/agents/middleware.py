"""``TieredBudgetMiddleware``: a run budget ends an agent with an answer, not an exception."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

try:
    from langchain.agents.middleware import AgentMiddleware, ModelRequest, ModelResponse
except ImportError as exc:  # langchain (the agents package) is an optional dependency
    msg = (
        "TieredBudgetMiddleware needs the `langchain` package (create_agent and its "
        'middleware): pip install "langchain-tiered[agents]"'
    )
    raise ImportError(msg) from exc
from langchain_core.messages import AIMessage

from langchain_tiered.agents.errors import RunBudgetExceededError
from langchain_tiered.errors import BudgetExceededError

__all__ = ["TieredBudgetMiddleware"]

FinalAnswer = Callable[[BudgetExceededError], str]


def default_answer(error: BudgetExceededError) -> str:
    """The final answer given when a run's money is spent."""
    if isinstance(error, RunBudgetExceededError):
        return (
            f"I have to stop here: this request reached its cost limit of "
            f"${error.limit_usd:.2f} after {error.steps} steps (spent ${error.spent_usd:.4f}) "
            f"while about to {error.doing}."
        )
    return f"I have to stop here: the budget for this request is used up (${error.limit_usd:.2f})."


class TieredBudgetMiddleware(AgentMiddleware[Any, Any]):
    """Ends an agent run cleanly when a ``Budget(scope="run")`` has no room for another step.

    A ``TieredChatModel`` raises :class:`RunBudgetExceededError` before sending a step the
    run can no longer pay for; this middleware answers that step with a final ``AIMessage``
    (no tool calls, so the agent loop ends) carrying ``response_metadata["tiered_budget"]``.

    Example:
        .. code-block:: python

            model = TieredChatModel(tiers=[...], budget=Budget(scope="run", limit_usd=0.20))
            agent = create_agent(model, tools, middleware=[TieredBudgetMiddleware()])
            agent.invoke({"messages": [("user", "...")]})  # at most $0.20, always an answer

    Args:
        answer: The final answer's text, or a function of the error returning it.
        any_budget: Also end the run on other budgets' refusals (a daily or per-user budget),
            not only on run budgets.
    """

    def __init__(self, answer: str | FinalAnswer = default_answer, *, any_budget: bool = False):
        super().__init__()
        self.answer = answer
        self.any_budget = any_budget

    def _handles(self, error: BaseException) -> bool:
        return isinstance(error, RunBudgetExceededError) or (
            self.any_budget and isinstance(error, BudgetExceededError)
        )

    def _final(self, error: BudgetExceededError) -> AIMessage:
        text = self.answer if isinstance(self.answer, str) else self.answer(error)
        meta: dict[str, Any] = {
            "error": type(error).__name__,
            "limit_usd": error.limit_usd,
            "remaining_usd": error.remaining_usd,
            "estimated_cost_usd": error.estimated_cost_usd,
            "scope": error.scope,
        }
        if isinstance(error, RunBudgetExceededError):
            meta |= {"run_id": error.run_id, "spent_usd": error.spent_usd, "steps": error.steps}
        return AIMessage(content=text, response_metadata={"tiered_budget": meta})

    def wrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], ModelResponse[Any]],
    ) -> ModelResponse[Any] | AIMessage:
        """Call the model; a refused step becomes the run's final answer."""
        try:
            return handler(request)
        except BudgetExceededError as exc:
            if not self._handles(exc):
                raise
            return self._final(exc)

    async def awrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], Awaitable[ModelResponse[Any]]],
    ) -> ModelResponse[Any] | AIMessage:
        """Async twin of :meth:`wrap_model_call`."""
        try:
            return await handler(request)
        except BudgetExceededError as exc:
            if not self._handles(exc):
                raise
            return self._final(exc)
