"""Structured output through a cascade: escalate only when the cheap JSON does not validate.

``with_structured_output(Invoice)`` on a ``TieredChatModel`` with a cascade: the cheap tier
answers first; ``ValidStructuredOutput`` checks its arguments against the schema (a missing
field, a string where a number belongs) and a failure is answered again on the capable tier.
``include_raw=True`` shows the steps and what the cascade cost in total.

Offline: the emulator plays both models.

    .venv/bin/python examples/cascade_structured.py
"""

from __future__ import annotations

from langchain_openai import ChatOpenAI
from pydantic import BaseModel, Field

from langchain_tiered import Tier, TieredChatModel
from langchain_tiered.cascade import Cascade, ValidStructuredOutput
from langchain_tiered.testing import OpenAICompatibleEmulator, Reply


class Invoice(BaseModel):
    """An invoice's key fields."""

    number: str = Field(description="Invoice number")
    total_eur: float = Field(description="Total in EUR")


TEXTS = {
    "Rechnung RE-2026-17 über 1.190,00 EUR": {"number": "RE-2026-17", "total_eur": 1190.0},
    "Invoice 88, total due: one hundred euros": {"number": "88", "total_eur": "one hundred"},
}


def main() -> None:
    with OpenAICompatibleEmulator() as emu:
        for arguments in TEXTS.values():  # the cheap model's attempts, in order
            emu.script("gpt-4.1-nano", Reply.tool_call("Invoice", arguments))
        emu.script("gpt-4.1", Reply.tool_call("Invoice", {"number": "88", "total_eur": 100.0}))

        def chat(name: str) -> ChatOpenAI:
            return ChatOpenAI(model=name, base_url=emu.base_url, api_key="sk-emulator")

        model = TieredChatModel(
            tiers=[
                Tier(name="strong", model=chat("gpt-4.1")),
                Tier(name="cheap", model=chat("gpt-4.1-nano")),
            ],
            cascade=Cascade(validators=[ValidStructuredOutput()], start="cheapest"),
        )
        extract = model.with_structured_output(Invoice, include_raw=True)
        for text in TEXTS:
            result = extract.invoke(f"Extract the invoice fields: {text}")
            meta = result["raw"].response_metadata["tiered"]
            print(f"{text!r}\n  -> {result['parsed']!r}  (${meta['cost_usd']:.6f})")
            for step in meta["steps"]:
                print(f"     {step['tier']:>6} {step['verdict']:<6} {step['reason']}")


if __name__ == "__main__":
    main()
