"""An agent with a dollar bound per run, thread stickiness, and a clean stop.

``create_agent`` over a ``TieredChatModel`` (gpt-5, then gpt-5-mini) with
``Budget(scope="run", limit_usd=0.03)``: each ``agent.invoke`` may cost at most $0.03. The
thread (LangGraph's ``thread_id``) stays on its tier while the prompt cache pays; as the run's
money runs low the calls step down to gpt-5-mini; when not even that fits,
``TieredBudgetMiddleware`` ends the run with a final answer instead of an exception.

Offline: the tiers talk to the local emulator, with OpenAI-style prompt caching on and a
model that keeps calling the ``lookup`` tool (an agent that would never stop by itself).

    .venv/bin/python examples/agent_run_budget.py
"""

from __future__ import annotations

from typing import Any

from langchain.agents import create_agent
from langchain_core.messages import AIMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI

from langchain_tiered import Budget, RouteDecision, RouteRequest, Tier, TieredChatModel
from langchain_tiered.agents import TieredBudgetMiddleware
from langchain_tiered.testing import OpenAICompatibleEmulator, Reply, ToolCall


@tool
def lookup(topic: str) -> str:
    """Look a topic up in the archive (returns a long record, as agent tools do)."""
    return f"{topic}: " + " ".join(f"entry-{i} holds value {i * 7 % 101}" for i in range(220))


def quality_first(request: RouteRequest) -> RouteDecision:
    """A router that always asks for gpt-5: only the run budget makes the agent step down."""
    return RouteDecision(tier="top", reason="quality first")


def main() -> None:
    with OpenAICompatibleEmulator(prompt_cache=True) as emu:
        emu.respond_with(lambda body: Reply(tool_calls=[ToolCall("lookup", {"topic": "rates"})]))

        def chat(name: str) -> ChatOpenAI:
            return ChatOpenAI(model=name, base_url=emu.base_url, api_key="sk-emulator")

        model = TieredChatModel(
            tiers=[
                Tier(name="top", model=chat("gpt-5")),
                Tier(name="mini", model=chat("gpt-5-mini")),
            ],
            router=quality_first,
            max_tokens=512,
            budget=Budget(scope="run", limit_usd=0.03),
            # sticky="priced" is the default: a thread stays on its tier while the cache pays
        )
        agent = create_agent(model, [lookup], middleware=[TieredBudgetMiddleware()])
        config: Any = {"configurable": {"thread_id": "customer-42"}, "recursion_limit": 200}
        result = agent.invoke({"messages": [("user", "Collect every rate you can find")]}, config)

    total = 0.0
    for message in result["messages"]:
        meta = message.response_metadata.get("tiered") if isinstance(message, AIMessage) else None
        if meta is None:
            continue
        total += meta["cost_usd"]
        decision = meta["reason"].split("; ", 1)[-1]  # after the router's own reason
        print(f"{meta['tier']:>4}  ${meta['cost_usd']:.5f}  {decision[:100]}")
    final = result["messages"][-1]
    print(f"\nspent ${total:.5f} of $0.03 in {len(emu.requests)} model calls")
    print("final answer:", final.content)
    print("run:", final.response_metadata["tiered_budget"])


if __name__ == "__main__":
    main()
