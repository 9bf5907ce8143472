"""Budget alerts: log when a user's daily budget crosses 50 %, 80 % and 100 %.

``Budget(on_alert=...)`` is called once per fraction, per user and per day, with a
``BudgetAlert`` (key, budget_key, spent, limit, period); the same alert also reaches every
LangChain callback handler of the call as the custom event ``tiered.budget_alert``. Wire
either to Slack, a pager or a log: no polling of the ledger needed.

Offline: the tiers talk to the local emulator, scripted to bill 800 output tokens per answer,
so the $0.004 daily budget fills within a few calls; with ``cap_output_to_budget`` the last
calls are capped to the room left, so the spend reaches the limit and the 100 % alert fires.

    .venv/bin/python examples/budget_alerts.py
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_openai import ChatOpenAI

from langchain_tiered import Budget, BudgetAlert, BudgetExceededError, Tier, TieredChatModel
from langchain_tiered.testing import OpenAICompatibleEmulator, Reply

logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
log = logging.getLogger("budget")
log.setLevel(logging.INFO)


def log_alert(alert: BudgetAlert) -> None:
    """The ``on_alert`` hook: one line per crossing."""
    log.warning(
        "%s reached %.0f%% of its %s budget: $%.4f of $%.4f (%s)",
        alert.budget_key,
        alert.fraction * 100,
        alert.period,
        alert.spent_usd,
        alert.limit_usd,
        alert.key,
    )


class AlertEvents(BaseCallbackHandler):
    """The same alerts as LangChain custom events (e.g. for a tracing or metrics handler)."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    def on_custom_event(self, name: str, data: Any, **kwargs: Any) -> None:
        if name == "tiered.budget_alert":
            self.seen.append(data)


def answer(request: Mapping[str, Any]) -> Reply:
    cap = request.get("max_completion_tokens") or request.get("max_tokens") or 4096
    return Reply(content="(an answer)", completion_tokens=min(800, cap))


def main() -> None:
    with OpenAICompatibleEmulator(responder=answer) as emu:
        chat = ChatOpenAI(
            model="gpt-4.1-mini", base_url=emu.base_url, api_key="sk-emulator", max_retries=0
        )
        per_user = Budget(
            limit_usd=0.004,
            period="day",
            scope="budget_key",
            name="user",
            require_key=True,  # a call without a user is refused, not silently unlimited
            on_alert=log_alert,
        )
        model = TieredChatModel(
            tiers=[Tier(name="standard", model=chat)],
            budget=per_user,
            max_tokens=800,
            # the last calls get a smaller output cap that still fits: spend can reach 100 %
            cap_output_to_budget=True,
            min_output_tokens=32,
        )
        events = AlertEvents()
        config: Any = {"metadata": {"budget_key": "user-42"}, "callbacks": [events]}
        for call in range(1, 10):
            try:
                model.invoke("Summarise our meeting notes", config=config)
            except BudgetExceededError:
                log.info("call %d refused before sending: the day's budget is spent", call)
                break
        print(f"alert events seen by the callback handler: {[e['fraction'] for e in events.seen]}")


if __name__ == "__main__":
    main()
