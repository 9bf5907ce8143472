"""Per-user budgets in a SQLite ledger, then the spend report read back from the file.

Runs offline in a few seconds against the package's local OpenAI-compatible emulator. Two
users share a $5 daily budget and each has $0.50 a day; afterwards the ledger file is opened
read-only and aggregated in SQL, grouped by user and by budget key, exactly as
``langchain-tiered report --ledger spend.db --by user`` would.

    .venv/bin/python examples/spend_report.py
"""

from __future__ import annotations

import tempfile
from contextlib import closing
from pathlib import Path

from langchain_openai import ChatOpenAI

from langchain_tiered import Budget, SQLiteLedger, Tier, TieredChatModel, reports
from langchain_tiered.reports.sqlite import open_ledger_readonly
from langchain_tiered.testing import OpenAICompatibleEmulator

CALLS = [
    ("alice", "List the capitals of Europe"),
    ("alice", "Analyze step by step the risks of migrating our ERP to the cloud"),
    ("bob", "Translate into German: the meeting moved to Thursday"),
    ("bob", "Explain how a hash index works"),
    ("bob", "Write a Python function that merges two sorted lists, with tests"),
]


def chat(emu: OpenAICompatibleEmulator, model: str) -> ChatOpenAI:
    return ChatOpenAI(model=model, base_url=emu.base_url, api_key="sk-emulator", max_retries=0)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "spend.db"
        with SQLiteLedger(path) as ledger, OpenAICompatibleEmulator() as emu:
            model = TieredChatModel(
                tiers=[
                    Tier(name="critical", model=chat(emu, "gpt-4.1")),
                    Tier(name="budget", model=chat(emu, "gpt-4.1-nano")),
                ],
                budget=[
                    Budget(limit_usd=5.0, period="day", ledger=ledger),
                    Budget(
                        limit_usd=0.5, period="day", scope="budget_key", name="user", ledger=ledger
                    ),
                ],
            )
            for user, prompt in CALLS:
                model.invoke(prompt, config={"metadata": {"budget_key": user}})
        # Read-only: the report never writes to the file (a foreign database is refused).
        with closing(open_ledger_readonly(path)) as db:
            for by in ("user", "budget_key"):
                print(reports.render_table(reports.summarize_sql(db, by=by)))
            print(reports.to_csv(reports.summarize_sql(db, by="tier")))


if __name__ == "__main__":
    main()
