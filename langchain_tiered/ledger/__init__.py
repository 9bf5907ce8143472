"""Spend ledgers: where budgets are reserved before a call and settled after it.

:class:`InMemoryLedger` is the default (one process); :class:`SQLiteLedger` persists spend
in a file shared safely by several processes.
"""

from langchain_tiered.ledger.base import Ledger, Reservation, SpendRecord
from langchain_tiered.ledger.memory import InMemoryLedger
from langchain_tiered.ledger.sqlite import SQLiteLedger

__all__ = ["InMemoryLedger", "Ledger", "Reservation", "SQLiteLedger", "SpendRecord"]
