"""Issue 10, "done when": a provider that always answers at full length cannot overspend a budget.

The emulator answers every text request with far more words than any cap allows, so only the
cap sent with the request stops it. Driven through invoke, stream, batch, an agent loop
(``langchain.agents.create_agent``) and structured output until the budget refuses, the
provider's own bill (the emulator's request log priced by hand) and the ledger both stay
under the limit, and every request carried the cap that priced it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import httpx
import pytest
from langchain.agents import create_agent
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from pydantic import BaseModel

from langchain_tiered import (
    Budget,
    BudgetExceededError,
    InMemoryLedger,
    ModelPrice,
    RouteDecision,
    Tier,
    TieredChatModel,
)
from langchain_tiered.fallbacks import RetryPolicy
from langchain_tiered.routing import RouteRequest
from langchain_tiered.testing import OpenAICompatibleEmulator, Reply

pytestmark = pytest.mark.integration

PRICE = ModelPrice(input_per_mtok=0.10, output_per_mtok=0.40)
CAP = 200
LIMIT = 0.0015
ENDLESS = " ".join(["word"] * 3000)  # ~3,000 tokens: far past CAP


def full_length(request: Mapping[str, Any]) -> Reply:
    """Call the first tool after a user turn when tools are offered; else answer at length."""
    tools = request.get("tools") or []
    if tools and request["messages"][-1]["role"] == "user":
        return Reply.tool_call(tools[0]["function"]["name"], {"city": "Paris"})
    return Reply(content=ENDLESS)


def always_cheap(request: RouteRequest) -> RouteDecision:
    return RouteDecision(tier="cheap", reason="test: one tier under test")


@tool
def weather(city: str) -> str:
    """Get the weather in a city."""
    return f"Sunny in {city}."


class Answer(BaseModel):
    city: str


def build(emu: OpenAICompatibleEmulator, bodies: list[dict[str, Any]]) -> TieredChatModel:
    def capture(request: httpx.Request) -> None:
        bodies.append(json.loads(request.content))

    chat = ChatOpenAI(
        model="cheap-model",
        base_url=emu.base_url,
        api_key="sk-emulator",  # type: ignore[arg-type]
        max_retries=0,
        stream_usage=True,
        http_client=httpx.Client(event_hooks={"request": [capture]}),
    )
    return TieredChatModel(
        tiers=[Tier(name="cheap", model=chat, price=PRICE, max_output_tokens=CAP)],
        router=always_cheap,
        retry=RetryPolicy(max_attempts=1),
        budget=Budget(limit_usd=LIMIT, ledger=InMemoryLedger()),
        on_budget_exceeded="raise",
    )


def entry_points(model: TieredChatModel) -> list[Callable[[], Any]]:
    agent = create_agent(model=model, tools=[weather])
    structured = model.with_structured_output(Answer, include_raw=True)
    return [
        lambda: model.invoke("Describe Paris at length."),
        lambda: list(model.stream("Describe Paris at length.")),
        lambda: model.batch(["Describe Rome.", "Describe Oslo."]),
        lambda: agent.invoke({"messages": [("user", "What is the weather in Paris?")]}),
        lambda: structured.invoke("Which city is the capital of France?"),
    ]


def test_full_length_provider_never_overspends_on_any_entry_point(
    emu: OpenAICompatibleEmulator,
) -> None:
    emu.respond_with(full_length)
    bodies: list[dict[str, Any]] = []
    model = build(emu, bodies)
    refused: set[int] = set()
    for _ in range(40):  # until the budget refuses every entry point
        for i, call in enumerate(entry_points(model)):
            try:
                call()
            except BudgetExceededError:
                refused.add(i)
        if len(refused) == 5:
            break
    assert refused == {0, 1, 2, 3, 4}

    # every request carried the cap that priced it, under the name the API expects
    assert bodies
    assert {b.get("max_completion_tokens") for b in bodies} == {CAP}
    # the provider answered every text request at full length: only the cap stopped it
    texts = [r for r in emu.requests if r.outcome == "ok" and r.completion_tokens > 20]
    assert texts
    assert {r.completion_tokens for r in texts} == {CAP}
    # the provider's own bill and the ledger both stay under the limit
    billed = sum(
        (r.prompt_tokens * PRICE.input_per_mtok + r.completion_tokens * PRICE.output_per_mtok) / 1e6
        for r in emu.requests
    )
    key = next(iter(model._rt.limits_for({})))
    spent = model._rt.ledger.spent(key)  # type: ignore[union-attr]
    assert billed <= LIMIT
    assert spent <= LIMIT
    assert billed == pytest.approx(spent, rel=1e-6)  # the ledger saw exactly what was billed
    assert spent > LIMIT / 2  # the budget was really used up, not refused from the start
