"""How every ledger makes a reservation: the same request, the same check, the same verdict.

Each backend holds the room its own way (a lock, a SQLite transaction, a Lua script, a
PL/pgSQL function); what goes in and what comes out is computed here once, so the four
ledgers cannot round, validate or refuse differently.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Mapping
from typing import NamedTuple

from langchain_tiered.ledger.base import (
    Reservation,
    expiry,
    limit_nanos,
    refusal,
    reserve_nanos,
)

__all__ = ["HoldRequest", "admit", "hold_request", "new_id", "overdraft"]


class HoldRequest(NamedTuple):
    """A reservation about to be made, in nano-dollars.

    Attributes:
        id: The new reservation's id.
        amount: The worst case, rounded up (see :func:`~.base.reserve_nanos`).
        caps: Budget key -> limit, rounded down (see :func:`~.base.limit_nanos`), in the
            caller's key order.
        now: Epoch seconds (wall clock) of the request.
        expires_at: Epoch seconds at which the hold stops holding room.
    """

    id: str
    amount: int
    caps: dict[str, int]
    now: float
    expires_at: float


def hold_request(
    limits: Mapping[str, float], amount_usd: float, ttl_seconds: float, now: float
) -> HoldRequest:
    """Validate and convert a ``reserve`` call's arguments.

    Raises:
        ValueError: ``amount_usd``, a limit or ``ttl_seconds`` is negative or not finite
            (checked in that order).
    """
    amount = reserve_nanos(amount_usd)
    caps = {key: limit_nanos(limit) for key, limit in limits.items()}
    return HoldRequest(new_id(), amount, caps, now, expiry(now, ttl_seconds))


# Ids come from a private generator seeded from os.urandom: a random.seed() elsewhere in the
# process (common in ML code, the same seed on every replica) cannot make two replicas draw
# the same ids, and a forked child is reseeded so it never repeats its parent's.
_IDS = random.Random()  # noqa: S311 - ids must be unique, not secret
if hasattr(os, "register_at_fork"):  # POSIX; elsewhere there is no fork to guard against
    os.register_at_fork(after_in_child=_IDS.seed)


def new_id() -> str:
    """A fresh reservation id: 32 random hex digits, unique across processes and hosts."""
    # As random as uuid.uuid4().hex (128 bits here, 122 there) without building a UUID (~6 us)
    # or a system call per id (os.urandom, 0.5-2 us): a Mersenne Twister seeded with 2,496
    # bytes from os.urandom per process (0.2 us an id). Ids need to be unique, not secret.
    return _IDS.randbytes(16).hex()


def overdraft(
    caps: Mapping[str, int], amount: int, totals: Callable[[str], tuple[int, int]]
) -> tuple[str, int, int] | None:
    """The first key that cannot hold ``amount`` more, as ``(key, committed, held)``, or ``None``.

    Args:
        caps: Budget key -> limit in nano-dollars (see :func:`limit_nanos`).
        amount: The reservation in nano-dollars (see :func:`reserve_nanos`).
        totals: Key -> ``(committed, held)`` nano-dollars; asked for each key in turn, and
            for no key after the first that does not fit.
    """
    for key, cap in caps.items():
        committed, held = totals(key)
        if committed + held + amount > cap:
            return key, committed, held
    return None


def admit(  # noqa: PLR0917 - the five values every ledger's reserve ends with, plus its verdict
    rid: str,
    limits: Mapping[str, float],
    amount_usd: float,
    expires_at: float,
    tier: str | None,
    refused: tuple[str, int, int] | None,
) -> Reservation:
    """The reservation a ledger made, or raise the refusal it found.

    Args:
        rid: The reservation id.
        limits: Budget key -> limit in USD, as the caller gave them.
        amount_usd: The caller's worst-case amount in USD.
        expires_at: Epoch seconds at which the hold stops holding room.
        tier: Tier name, reported in the error on refusal.
        refused: ``(key, committed, held)`` nano-dollars of the key that had no room
            (see :func:`overdraft`), or ``None`` when every key had room.

    Raises:
        BudgetExceededError: ``refused`` names a key.
    """
    if refused is not None:
        key, committed, held = refused
        raise refusal(
            key,
            limit_usd=limits[key],
            amount_usd=amount_usd,
            committed=committed,
            held=held,
            tier=tier,
        )
    return Reservation(id=rid, limits=dict(limits), amount_usd=amount_usd, expires_at=expires_at)
