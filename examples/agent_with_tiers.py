"""An agent over tiers: ``langchain.agents.create_agent`` with a ``TieredChatModel``.

``Runnable.with_fallbacks`` returns something that is not a chat model, so ``create_agent``
rejects it; a ``TieredChatModel`` *is* a chat model, so every agent step is routed, budgeted
and falls back like any other call. Here the cheapest tier is down (503 on every call), and
the agent still finishes: each step falls back to the next tier.

Offline: the emulator plays the model's half of the loop (call the matching tool after a user
turn, answer with the tool's result after a tool turn).

    .venv/bin/python examples/agent_with_tiers.py
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langchain.agents import create_agent
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI

from langchain_tiered import Tier, TieredChatModel, get_tiered_cost_callback
from langchain_tiered.testing import Fault, OpenAICompatibleEmulator, Reply


@tool
def get_weather(city: str) -> str:
    """Return the current weather for a city."""
    return f"{city}: 18°C, light rain"


@tool
def convert_currency(amount: float, source: str, target: str) -> str:
    """Convert an amount of money between two ISO currency codes."""
    rates = {("EUR", "USD"): 1.08, ("USD", "EUR"): 0.93}
    return f"{amount:g} {source} = {amount * rates.get((source, target), 1.0):.2f} {target}"


def scripted_model(request: Mapping[str, Any]) -> Reply:
    """The emulated model's turn: pick a tool from the question, then answer with its result."""
    last = request["messages"][-1]
    if last["role"] == "tool":
        return Reply(content=f"Here you go: {last['content']}")
    question = str(last["content"]).lower()
    if "wetter" in question or "weather" in question:
        return Reply.tool_call("get_weather", {"city": "Berlin"})
    return Reply.tool_call("convert_currency", {"amount": 100, "source": "EUR", "target": "USD"})


def main() -> None:
    with OpenAICompatibleEmulator(faults=[Fault("overloaded", model="gpt-4.1-nano")]) as emu:
        emu.respond_with(scripted_model)
        tiers = [
            Tier(
                name=name,
                model=ChatOpenAI(
                    model=model, base_url=emu.base_url, api_key="sk-emulator", max_retries=0
                ),
            )
            for name, model in (
                ("critical", "gpt-4.1"),
                ("standard", "gpt-4.1-mini"),
                ("budget", "gpt-4.1-nano"),
            )
        ]
        model = TieredChatModel(tiers=tiers, max_cost_per_call=0.05)
        agent = create_agent(model, tools=[get_weather, convert_currency])
        with get_tiered_cost_callback() as cb:
            for question in ("Wie ist das Wetter in Berlin?", "Convert 100 EUR to USD"):
                result = agent.invoke({"messages": [("user", question)]})
                for message in result["messages"]:
                    meta = message.response_metadata.get("tiered")
                    where = f" [{meta['tier']}, routed {meta['routed_tier']}]" if meta else ""
                    text = message.content or message.tool_calls
                    print(f"{message.type:>5}{where}: {text}")
                print()
        print(f"{cb.calls} model calls, ${cb.total_cost_usd:.6f}, {cb.fallbacks} fallbacks")


if __name__ == "__main__":
    main()
