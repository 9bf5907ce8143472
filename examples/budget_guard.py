"""A per-user daily budget: downgrade to cheaper tiers while it lasts, then refuse.

Every user (``config["metadata"]["budget_key"]``) may spend $0.01 a day. Each call's worst
case is reserved before anything is sent, so a call that might overspend goes to a cheaper
tier ("downgrade") and, once even the cheapest tier's worst case no longer fits, is refused
with ``BudgetExceededError`` -- before any network call. A second model with
``on_budget_exceeded="raise"`` (and $0.05 a day) refuses as soon as the routed tier's worst
case no longer fits, instead of downgrading.

Offline: the tiers talk to the local emulator, scripted to bill 3,000 output tokens per answer
so the budget runs out after a few calls.

    .venv/bin/python examples/budget_guard.py
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from langchain_openai import ChatOpenAI

from langchain_tiered import Budget, BudgetExceededError, InMemoryLedger, Tier, TieredChatModel
from langchain_tiered.testing import OpenAICompatibleEmulator, Reply

PROMPT = (
    "Analysiere und bewerte mehrstufig die Strategie unseres Unternehmens für den "
    "Markteintritt in Asien, begründe jede Annahme"
)


def long_answer(request: Mapping[str, Any]) -> Reply:
    """Bill 3,000 output tokens, or the call's cap if lower (as a real model would stop)."""
    cap = request.get("max_completion_tokens") or request.get("max_tokens") or 4096
    return Reply(content="(a long, careful analysis)", completion_tokens=min(3000, cap))


def make_model(
    emu: OpenAICompatibleEmulator, policy: str, limit_usd: float
) -> tuple[TieredChatModel, Budget]:
    ledger = InMemoryLedger()
    per_user = Budget(
        limit_usd=limit_usd, period="day", scope="budget_key", name="user", ledger=ledger
    )
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
    model = TieredChatModel(tiers=tiers, budget=per_user, on_budget_exceeded=policy)
    return model, per_user


def ask(model: TieredChatModel, budget: Budget, user: str) -> None:
    metadata = {"budget_key": user}
    try:
        meta = model.invoke(PROMPT, config={"metadata": metadata}).response_metadata["tiered"]
        outcome = (
            f"answered by {meta['tier']:<8} (routed {meta['routed_tier']}) "
            f"cost ${meta['cost_usd']:.5f}"
        )
    except BudgetExceededError as exc:
        outcome = f"REFUSED before sending: {str(exc)[:90]}..."
    left = budget.remaining(metadata, datetime.now(timezone.utc)) or 0.0
    print(f"  {user:<6} {outcome}  | ${left:.5f} left today")


def main() -> None:
    with OpenAICompatibleEmulator(responder=long_answer) as emu:
        print("on_budget_exceeded='downgrade' ($0.01 per user per day):")
        model, budget = make_model(emu, "downgrade", 0.01)
        for user in ["alice"] * 6 + ["bob"]:
            ask(model, budget, user)
        print("on_budget_exceeded='raise' ($0.05 per user per day):")
        model, budget = make_model(emu, "raise", 0.05)
        for user in ["alice", "alice"]:
            ask(model, budget, user)


if __name__ == "__main__":
    main()
