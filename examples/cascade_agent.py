"""A cascade in an agent loop: the cheap tier answers every step unless its tool call is invalid.

``create_agent`` drives a ``TieredChatModel`` with ``Cascade(validators=[ValidToolCalls(), ...])``.
The cheap model (emulated) sometimes calls a tool that does not exist or passes a string where
the schema wants a number; those steps are rejected before the agent sees them and answered
again on the next more capable tier. Steps the cheap tier gets right stay cheap.

Offline: the emulator plays both models.

    .venv/bin/python examples/cascade_agent.py
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langchain.agents import create_agent
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI

from langchain_tiered import Tier, TieredChatModel, get_tiered_cost_callback
from langchain_tiered.cascade import Cascade, NotEmpty, NotRefusal, ValidToolCalls
from langchain_tiered.testing import OpenAICompatibleEmulator, Reply


@tool
def convert_currency(amount: float, source: str, target: str) -> str:
    """Convert an amount of money between two ISO currency codes."""
    rates = {("EUR", "USD"): 1.08, ("USD", "EUR"): 0.93}
    return f"{amount:g} {source} = {amount * rates.get((source, target), 1.0):.2f} {target}"


def cheap_model(request: Mapping[str, Any]) -> Reply:
    """The cheap model: a sloppy tool call for EUR, a good one for USD, fine final answers."""
    last = request["messages"][-1]
    if last["role"] == "tool":
        return Reply(content=f"Done: {last['content']}")
    if "EUR" in str(last["content"]).split(" to ")[0]:
        return Reply.tool_call("convert_currency", {"amount": "hundred", "source": "EUR"})
    return Reply.tool_call("convert_currency", {"amount": 50, "source": "USD", "target": "EUR"})


def strong_model(request: Mapping[str, Any]) -> Reply:
    """The capable model: a correct tool call."""
    return Reply.tool_call("convert_currency", {"amount": 100, "source": "EUR", "target": "USD"})


def main() -> None:
    with OpenAICompatibleEmulator() as emu:
        emu.respond_with(cheap_model, model="gpt-4.1-nano")
        emu.respond_with(strong_model, model="gpt-4.1")

        def chat(name: str) -> ChatOpenAI:
            return ChatOpenAI(model=name, base_url=emu.base_url, api_key="sk-emulator")

        model = TieredChatModel(
            tiers=[
                Tier(name="strong", model=chat("gpt-4.1")),
                Tier(name="cheap", model=chat("gpt-4.1-nano")),
            ],
            cascade=Cascade(
                validators=[NotEmpty(), NotRefusal(), ValidToolCalls()], start="cheapest"
            ),
            max_cost_per_call=0.05,  # caps each model call's whole cascade
        )
        agent = create_agent(model, tools=[convert_currency])
        with get_tiered_cost_callback() as cb:
            for question in ("Convert 100 EUR to USD", "Convert 50 USD to EUR"):
                result = agent.invoke({"messages": [("user", question)]})
                for message in result["messages"]:
                    meta = message.response_metadata.get("tiered")
                    text = message.content or [(c["name"], c["args"]) for c in message.tool_calls]
                    print(f"{message.type:>5}: {text}")
                    for step in meta["steps"] if meta else ():
                        print(f"         {step['tier']:>6} {step['verdict']:<6} {step['reason']}")
                print()
        print(f"{cb.calls} model calls, ${cb.total_cost_usd:.6f} in total (every step counted)")


if __name__ == "__main__":
    main()
