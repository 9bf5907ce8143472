"""What the money guarantee means in practice: a provider that never stops talking, a dropped
connection and an abandoned stream, all under a small budget.

Runs offline in a few seconds against the package's local OpenAI-compatible emulator:

    .venv/bin/python examples/money_guarantee.py

* every request carries the output cap that priced it, so an answer "at full length" is cut
  at the cap and the bill never passes the budget;
* a request that fails after it was sent (here: the connection drops) may still be billed, so
  its worst case is charged (``unknown_outcome="charge"``, the default) and shown;
* a stream the caller stops reading is settled on what was produced, in the ledger and in the
  cost callback alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langchain_openai import ChatOpenAI

from langchain_tiered import (
    Budget,
    BudgetExceededError,
    InMemoryLedger,
    ModelPrice,
    Tier,
    TieredChatModel,
    get_tiered_cost_callback,
)
from langchain_tiered.testing import Fault, OpenAICompatibleEmulator, Reply

PRICE = ModelPrice(input_per_mtok=0.40, output_per_mtok=1.60)


def never_stops(request: Mapping[str, Any]) -> Reply:
    return Reply(content=" ".join(["blah"] * 5000))  # far more than any cap


def main() -> None:
    ledger = InMemoryLedger()
    with OpenAICompatibleEmulator(responder=never_stops) as emu:
        chat = ChatOpenAI(
            model="chatty", base_url=emu.base_url, api_key="sk-emulator", max_retries=0
        )
        model = TieredChatModel(
            tiers=[Tier(name="chatty", model=chat, price=PRICE, max_output_tokens=300)],
            budget=Budget(limit_usd=0.003, ledger=ledger),
        )
        key = next(iter(model._rt.limits_for({})))
        with get_tiered_cost_callback() as cb:
            emu.add_fault(Fault("disconnect", times=1))  # the first attempt's connection drops
            meta = model.invoke("Tell me everything about Paris.").response_metadata["tiered"]
            kinds = [a["kind"] for a in meta["attempts"]]
            print(f"attempts {kinds}: the dropped one charged ${meta['unknown_outcome_usd']:.6f}")
            stream = model.stream("Tell me everything about Rome.")
            next(stream)
            stream.close()  # the caller stops reading: settled on what was produced
            answered = refused = 0
            while True:
                try:
                    model.invoke("Tell me everything about Oslo.")
                    answered += 1
                except BudgetExceededError:
                    refused += 1
                    break
        billed = sum(
            (r.prompt_tokens * PRICE.input_per_mtok + r.completion_tokens * PRICE.output_per_mtok)
            / 1e6
            for r in emu.requests
        )
        caps = {r.completion_tokens for r in emu.requests if r.outcome == "ok"}
    print(f"answered {answered}, then refused {refused} call before sending it")
    print(f"completion tokens per full answer: {sorted(caps)} (the cap sent: 300)")
    print(
        f"budget ${0.003:.6f}  ledger ${ledger.spent(key):.6f}  callback ${cb.total_cost_usd:.6f}"
    )
    print(f"provider bill (emulator log) ${billed:.6f}")
    print(f"unknown outcomes charged: {cb.unknown_outcomes} (${cb.unknown_outcome_usd:.6f})")


if __name__ == "__main__":
    main()
