"""Actions a call plan yields; the drivers in :mod:`langchain_tiered._call.drivers` perform them.

Keeping I/O behind these small values lets one plan serve both sync and async callers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage
    from langchain_core.runnables import Runnable

    from langchain_tiered.ledger import Reservation, SpendRecord
    from langchain_tiered.ratelimit import RateLimiter

__all__ = [
    "AcquireRate",
    "Action",
    "CallTier",
    "Emit",
    "Record",
    "Release",
    "Reserve",
    "Settle",
    "Sleep",
]


@dataclass(frozen=True)
class Sleep:
    """Wait before retrying (through the runtime clock)."""

    seconds: float


@dataclass(frozen=True)
class Reserve:
    """Reserve ``amount_usd`` under every budget key in ``limits``; result: a Reservation."""

    limits: dict[str, float]
    amount_usd: float
    tier: str
    ttl_seconds: float


@dataclass(frozen=True)
class Settle:
    """Commit the real cost of a reservation and write its spend record."""

    reservation: Reservation
    actual_usd: float
    record: SpendRecord | None


@dataclass(frozen=True)
class Release:
    """Drop a reservation without spending (the call failed or was skipped)."""

    reservation: Reservation


@dataclass(frozen=True)
class Record:
    """Write a spend record for a call that had no budget reservation."""

    record: SpendRecord


@dataclass(frozen=True)
class AcquireRate:
    """Take ``tokens`` from a tier's rate limiter, waiting at most ``max_wait`` seconds."""

    limiter: RateLimiter
    tokens: int
    max_wait: float
    tier: str


@dataclass(frozen=True)
class CallTier:
    """Call a tier's runnable; result: an AIMessage, or ``(first_chunk, rest)`` when streaming."""

    tier: str
    runnable: Runnable[Any, Any]
    messages: list[BaseMessage]
    stop: list[str] | None
    kwargs: dict[str, Any]
    stream: bool


@dataclass(frozen=True)
class Emit:
    """Dispatch a LangChain custom event (decisions: route, fallback, ...)."""

    name: str
    data: dict[str, Any]


Action = Sleep | Reserve | Settle | Release | Record | AcquireRate | CallTier | Emit
