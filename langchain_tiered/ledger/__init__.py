"""Spend ledgers: where budgets are reserved before a call and settled after it.

:class:`InMemoryLedger` is the default (one process); :class:`SQLiteLedger` persists spend
in a file shared safely by several processes. :class:`RedisLedger` and :class:`PostgresLedger`
share one budget between hosts; they load lazily, so their drivers (the ``redis`` and
``postgres`` extras) are imported only when used.
"""

from typing import TYPE_CHECKING, Any

from langchain_tiered.ledger.base import (
    Ledger,
    LedgerError,
    LedgerReadOnlyError,
    LedgerWriteWarning,
    NotALedgerError,
    Reservation,
    SpendRecord,
)
from langchain_tiered.ledger.memory import InMemoryLedger
from langchain_tiered.ledger.sqlite import SQLiteLedger

if TYPE_CHECKING:
    from langchain_tiered.ledger.postgres import PostgresLedger
    from langchain_tiered.ledger.redis import RedisLedger

__all__ = [
    "InMemoryLedger",
    "Ledger",
    "LedgerError",
    "LedgerReadOnlyError",
    "LedgerWriteWarning",
    "NotALedgerError",
    "PostgresLedger",
    "RedisLedger",
    "Reservation",
    "SQLiteLedger",
    "SpendRecord",
]

_LAZY = {"PostgresLedger": "postgres", "RedisLedger": "redis"}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        msg = f"module 'langchain_tiered.ledger' has no attribute {name!r}"
        raise AttributeError(msg)
    from importlib import import_module  # noqa: PLC0415

    value = getattr(import_module(f"langchain_tiered.ledger.{_LAZY[name]}"), name)
    globals()[name] = value
    return value
