"""Run budgets and the agent middleware without sockets (issue 17)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.runnables import RunnableLambda
from pydantic import ValidationError

from langchain_tiered import Budget, BudgetExceededError, InMemoryLedger, Tier, TieredChatModel
from langchain_tiered.agents import RunBudgetExceededError, TieredBudgetMiddleware
from langchain_tiered.agents.engine import describe_step
from tests.unit_tests.fakes import FakeTier

NOW = datetime(2026, 11, 30, tzinfo=timezone.utc)


def test_run_budget_key_is_per_run() -> None:
    budget = Budget(scope="run", limit_usd=0.2, name="agent")
    assert budget.key({"tiered_run": "r-1"}, NOW) == "agent:run:r-1"
    assert budget.key({}, NOW) is None
    assert budget.key({"tiered_run": ""}, NOW) is None


@pytest.mark.parametrize("period", ["day", "month"])
def test_run_budget_with_a_period_is_refused_at_construction(period: str) -> None:
    # It used to be accepted and the period silently ignored.
    with pytest.raises(ValidationError, match="a run budget has no period"):
        Budget(scope="run", limit_usd=0.2, period=period)


def make_model(budgets: list[Budget]) -> TieredChatModel:
    return TieredChatModel(
        tiers=[Tier(name="only", model=FakeTier(model_name="gpt-4.1-mini"))],
        budget=budgets,
        max_tokens=1000,
    )


def test_a_run_budget_stops_the_run_with_what_it_spent_and_was_doing() -> None:
    ledger = InMemoryLedger()
    # gpt-4.1-mini: 1,000 output tokens x $1.60/M = $0.0016 worst case per step.
    model = make_model([Budget(scope="run", limit_usd=0.004, ledger=ledger)])
    history: list[Any] = [HumanMessage("hi")]

    def loop(_: Any) -> None:
        while True:  # an agent that never stops on its own
            answer = model.invoke(history)
            history.extend([answer, ToolMessage("42", tool_call_id="c1", name="calc")])

    with pytest.raises(RunBudgetExceededError) as caught:
        RunnableLambda(loop).invoke(None)
    error = caught.value
    calls = len(model._rt.models["only"].calls)  # type: ignore[attr-defined]
    assert error.steps == calls > 1
    # The fake bills 10 input and 2 output tokens per step: $0.0000072 on gpt-4.1-mini.
    assert error.spent_usd == pytest.approx(calls * (10 * 0.4 + 2 * 1.6) / 1e6)
    assert ledger.spent(f"budget:run:{error.run_id}") == pytest.approx(error.spent_usd)
    assert error.doing == "continue after tool results from calc"
    assert error.remaining_usd == pytest.approx(0.004 - error.spent_usd)
    assert error.remaining_usd is not None
    assert error.estimated_cost_usd > error.remaining_usd
    assert isinstance(error, BudgetExceededError)


def test_other_budgets_keep_their_own_error() -> None:
    ledger = InMemoryLedger()
    model = make_model(
        [
            Budget(scope="run", limit_usd=1.0, name="run", ledger=ledger),
            Budget(limit_usd=0.001, name="global", ledger=ledger),
        ]
    )
    with pytest.raises(BudgetExceededError) as caught:
        RunnableLambda(lambda _: model.invoke("hi")).invoke("go")  # type: ignore[arg-type]
    assert not isinstance(caught.value, RunBudgetExceededError)
    assert caught.value.scope == "global:global:all"


def test_describe_step() -> None:
    assert describe_step([HumanMessage("q")]) == "answer the user's message"
    assert describe_step([AIMessage("a")]) == "continue after its own answer"
    tools = [ToolMessage("1", tool_call_id="a", name="x"), ToolMessage("2", tool_call_id="b")]
    assert describe_step(tools) == "continue after tool results from x, b"
    assert describe_step([]) == "an empty call"


def run_error() -> RunBudgetExceededError:
    return RunBudgetExceededError(
        "no room",
        run_id="r",
        spent_usd=0.19,
        steps=7,
        doing="continue after tool results from search",
        estimated_cost_usd=0.02,
        limit_usd=0.2,
        remaining_usd=0.01,
    )


def test_middleware_turns_a_run_budget_refusal_into_a_final_answer() -> None:
    def refuse(request: Any) -> Any:
        raise run_error()

    answer = TieredBudgetMiddleware().wrap_model_call(None, refuse)  # type: ignore[arg-type]
    assert isinstance(answer, AIMessage)
    assert answer.content == (
        "I have to stop here: this request reached its cost limit of $0.20 after 7 steps "
        "(spent $0.1900) while about to continue after tool results from search."
    )
    assert answer.response_metadata["tiered_budget"]["steps"] == 7
    custom = TieredBudgetMiddleware("Out of budget.").wrap_model_call(None, refuse)  # type: ignore[arg-type]
    assert isinstance(custom, AIMessage)
    assert custom.content == "Out of budget."


def test_middleware_lets_other_budgets_raise_unless_asked() -> None:
    plain = BudgetExceededError("daily", estimated_cost_usd=1.0, limit_usd=0.5)

    def refuse(request: Any) -> Any:
        raise plain

    with pytest.raises(BudgetExceededError):
        TieredBudgetMiddleware().wrap_model_call(None, refuse)  # type: ignore[arg-type]
    answer = TieredBudgetMiddleware(any_budget=True).wrap_model_call(None, refuse)  # type: ignore[arg-type]
    assert isinstance(answer, AIMessage)
    assert "$0.50" in str(answer.content)


async def test_async_middleware_twin() -> None:
    async def refuse(request: Any) -> Any:
        raise run_error()

    answer = await TieredBudgetMiddleware().awrap_model_call(None, refuse)  # type: ignore[arg-type]
    assert isinstance(answer, AIMessage)
    assert answer.response_metadata["tiered_budget"]["run_id"] == "r"
