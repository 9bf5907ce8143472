"""Run budgets with ``create_agent`` against the caching emulator (issue 17).

The emulated model calls the ``lookup`` tool on every turn, so the agent would loop until
LangGraph's recursion limit; a ``Budget(scope="run")`` ends it instead - stepping down from
gpt-5 to gpt-5-mini as the run's money runs low, then with a final answer from
``TieredBudgetMiddleware`` (or a ``RunBudgetExceededError`` without it).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.messages import AIMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI

from langchain_tiered import Budget, InMemoryLedger, Tier, TieredChatModel
from langchain_tiered.agents import RunBudgetExceededError, TieredBudgetMiddleware
from langchain_tiered.pricing import PriceBook
from langchain_tiered.routing import RouteDecision
from langchain_tiered.testing import OpenAICompatibleEmulator, Reply

pytestmark = pytest.mark.integration

TOP, MINI = "gpt-5", "gpt-5-mini"
LIMIT = 0.02
CONFIG: Any = {"recursion_limit": 500}


@pytest.fixture(scope="module")
def server() -> Iterator[OpenAICompatibleEmulator]:
    with OpenAICompatibleEmulator(prompt_cache=True) as emulator:
        yield emulator


@pytest.fixture
def looping(emu: OpenAICompatibleEmulator) -> OpenAICompatibleEmulator:
    emu.respond_with(lambda request: Reply.tool_call("lookup", {"topic": "rates"}))
    return emu


@tool
def lookup(topic: str) -> str:
    """Look a topic up (returns a long document, as agent tools do)."""
    return f"{topic}: " + " ".join(f"row-{i} value" for i in range(250))


def make_model(emu: OpenAICompatibleEmulator, ledger: InMemoryLedger) -> TieredChatModel:
    def chat(name: str) -> ChatOpenAI:
        return ChatOpenAI(model=name, base_url=emu.base_url, api_key="sk-emulator", max_retries=0)

    return TieredChatModel(
        tiers=[Tier(name="top", model=chat(TOP)), Tier(name="mini", model=chat(MINI))],
        router=lambda request: RouteDecision(tier="top", reason="the most capable tier"),
        max_tokens=300,
        budget=Budget(scope="run", limit_usd=LIMIT, ledger=ledger),
    )


def billed(emu: OpenAICompatibleEmulator) -> float:
    """What the emulated provider billed, priced from its own request log."""
    book = PriceBook.default()
    return sum(book.price_for(r.model).cost(r.usage_metadata) for r in emu.requests)


def assert_stepped_down(emu: OpenAICompatibleEmulator) -> None:
    models = [r.model for r in emu.requests]
    first_mini = models.index(MINI)
    assert first_mini > 0
    assert set(models[:first_mini]) == {TOP}
    assert set(models[first_mini:]) == {MINI}


def test_agent_run_ends_with_an_answer_on_its_budget(looping: OpenAICompatibleEmulator) -> None:
    ledger = InMemoryLedger()
    agent = create_agent(
        make_model(looping, ledger), [lookup], middleware=[TieredBudgetMiddleware()]
    )
    result = agent.invoke({"messages": [("user", "Collect the rates")]}, CONFIG)
    final = result["messages"][-1]
    assert isinstance(final, AIMessage)
    assert not final.tool_calls
    assert str(final.content).startswith("I have to stop here")
    info = final.response_metadata["tiered_budget"]
    assert info["error"] == "RunBudgetExceededError"
    assert info["steps"] == len(looping.requests)  # every paid call counted, the refused none
    assert_stepped_down(looping)
    # Never over the run's limit, by the provider's own bill and by the ledger's.
    spent = billed(looping)
    assert spent <= LIMIT
    assert info["spent_usd"] == pytest.approx(spent)
    assert ledger.spent(f"budget:run:{info['run_id']}") == pytest.approx(spent)
    # It stopped because even gpt-5-mini's worst case for the next step no longer fit.
    assert info["remaining_usd"] == pytest.approx(LIMIT - spent)
    assert info["remaining_usd"] < info["estimated_cost_usd"]


def test_without_the_middleware_the_run_raises_a_typed_error(
    looping: OpenAICompatibleEmulator,
) -> None:
    agent = create_agent(make_model(looping, InMemoryLedger()), [lookup])
    with pytest.raises(RunBudgetExceededError) as caught:
        agent.invoke({"messages": [("user", "Collect the rates")]}, CONFIG)
    error = caught.value
    assert error.steps == len(looping.requests)
    assert error.doing == "continue after tool results from lookup"
    assert error.spent_usd == pytest.approx(billed(looping))
    assert error.limit_usd == LIMIT
    assert "Budget(scope='run'" in str(error)


def test_each_invocation_is_its_own_run(looping: OpenAICompatibleEmulator) -> None:
    ledger = InMemoryLedger()
    agent = create_agent(
        make_model(looping, ledger), [lookup], middleware=[TieredBudgetMiddleware()]
    )
    first = agent.invoke({"messages": [("user", "Collect the rates")]}, CONFIG)
    calls = len(looping.requests)
    second = agent.invoke({"messages": [("user", "Collect them again")]}, CONFIG)
    assert len(looping.requests) == 2 * calls  # the second run got its own full budget
    ids = {r["messages"][-1].response_metadata["tiered_budget"]["run_id"] for r in (first, second)}
    assert len(ids) == 2


async def test_async_agent_run_ends_with_an_answer(looping: OpenAICompatibleEmulator) -> None:
    agent = create_agent(
        make_model(looping, InMemoryLedger()), [lookup], middleware=[TieredBudgetMiddleware()]
    )
    result = await agent.ainvoke({"messages": [("user", "Collect the rates")]}, CONFIG)
    final = result["messages"][-1]
    assert str(final.content).startswith("I have to stop here")
    assert_stepped_down(looping)
    assert billed(looping) <= LIMIT


def test_a_run_key_in_metadata_spans_invocations(looping: OpenAICompatibleEmulator) -> None:
    agent = create_agent(
        make_model(looping, InMemoryLedger()), [lookup], middleware=[TieredBudgetMiddleware()]
    )
    config: Any = {**CONFIG, "metadata": {"tiered_run": "job-7"}}
    agent.invoke({"messages": [("user", "Collect the rates")]}, config)
    first_calls = len(looping.requests)
    again = agent.invoke({"messages": [("user", "Collect them again")]}, config)
    # One pot for both: the second invocation only had the first one's leftovers.
    assert billed(looping) <= LIMIT
    assert len(looping.requests) - first_calls < first_calls
    assert again["messages"][-1].response_metadata["tiered_budget"]["run_id"] == "job-7"
