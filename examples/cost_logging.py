"""Log what a tiered model spends, per tier, with ``get_tiered_cost_callback`` and a report.

Runs offline in a few seconds: every tier is a ``ChatOpenAI`` talking to the package's local
OpenAI-compatible emulator, which answers with realistic usage and can inject faults.

    .venv/bin/python examples/cost_logging.py
"""

from __future__ import annotations

from langchain_core.caches import InMemoryCache
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_openai import ChatOpenAI

from langchain_tiered import (
    Budget,
    InMemoryLedger,
    Tier,
    TieredChatModel,
    get_tiered_cost_callback,
)
from langchain_tiered.reports import render_table, summarize
from langchain_tiered.testing import Fault, OpenAICompatibleEmulator

PROMPTS = [
    "List the capitals of Europe",
    "Explain the difference between REST and GraphQL in 3 sentences",
    "Analyze and evaluate step by step our company's strategy for entering the Asian "
    "market, justify every assumption",
]


def chat(emu: OpenAICompatibleEmulator, model: str) -> ChatOpenAI:
    # max_retries=0: retries and fallbacks are the tiered model's job, not the client's.
    # stream_usage=True: without it a stream reports no usage and its cost is only estimated.
    return ChatOpenAI(
        model=model, base_url=emu.base_url, api_key="sk-emulator", max_retries=0, stream_usage=True
    )


def main() -> None:
    ledger = InMemoryLedger()
    # One rate limit on the cheapest tier shows a fallback in the numbers.
    faults = [Fault("rate_limit", model="gpt-4.1-nano", times=1)]
    with OpenAICompatibleEmulator(faults=faults) as emu:
        model = TieredChatModel(
            tiers=[
                Tier(name="critical", model=chat(emu, "gpt-4.1")),
                Tier(name="standard", model=chat(emu, "gpt-4.1-mini")),
                Tier(name="budget", model=chat(emu, "gpt-4.1-nano")),
            ],
            budget=Budget(limit_usd=1.0, ledger=ledger),
            max_retries=0,
            cache=InMemoryCache(),
        )
        chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | model | StrOutputParser()
        with get_tiered_cost_callback() as cb:
            chain.batch([{"q": q} for q in PROMPTS])
            model.invoke(PROMPTS[0])  # same prompt again: a cache hit, never billed
            "".join(chain.stream({"q": "Name three rivers"}))
            chat(emu, "gpt-4o").invoke("A plain model, priced from the price book")

    print(cb)
    print(f"\n{'tier':<10} {'calls':>5} {'in':>7} {'out':>7} {'cost USD':>12} {'fallbacks':>9}")
    for name, stats in sorted(cb.by_tier.items()):
        print(
            f"{name:<10} {stats.calls:>5} {stats.input_tokens:>7} {stats.output_tokens:>7} "
            f"{stats.cost_usd or 0:>12.6f} {stats.fallbacks:>9}"
        )
    for name, stats in sorted(cb.by_model.items()):
        cost = "unpriced" if stats.cost_usd is None else f"${stats.cost_usd:.6f}"
        print(f"model {name:<14} calls {stats.calls}  cost {cost}")
    print(
        f"\nestimated (worst case) ${cb.estimated_cost_usd:.6f}, actual "
        f"${cb.total_cost_usd:.6f}, saved ${cb.savings_usd:.6f} against the top tier, "
        f"cache hits {cb.cache_hits} (avoided ${cb.avoided_cost_usd:.6f})"
    )
    print(
        "decisions:",
        [(e["name"], e["data"].get("tier") or e["data"].get("from_tier")) for e in cb.events],
    )
    print()
    report = summarize(ledger.records(), by="tier")
    print(render_table(report))
    # The two counts differ by design: a response-cache hit never reaches a tier, so the
    # callback counts it as a $0 call while the ledger (and so the report) has no record of it.
    plain = cb.calls - report.calls - cb.cache_hits
    print(
        f"ledger: {report.calls} calls; callback: {cb.calls} = those + {cb.cache_hits} cache "
        f"hit(s) at $0 (no ledger record) + {plain} plain model call(s) outside the tiered model"
    )


if __name__ == "__main__":
    main()
