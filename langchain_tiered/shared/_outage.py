"""What a shared ledger does while its server is away: refuse, or spend a local share.

Kept apart from the Redis code so the policy reads on its own: in ``"refuse"`` mode every
budgeted call fails closed with :class:`SharedStateUnavailableError`; in ``"local"`` mode a
process reserves against an in-memory ledger whose limits are ``local_share`` of the real
ones, and the spend it settles there is queued and uploaded once the server answers again,
so nothing spent during the outage is forgotten.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from langchain_tiered._clock import Clock
from langchain_tiered.ledger.base import Reservation, SpendRecord
from langchain_tiered.ledger.memory import InMemoryLedger

__all__ = ["LOCAL_PREFIX", "UPLOAD_PREFIX", "OnUnavailable", "OutagePolicy", "Pending"]

OnUnavailable = Literal["refuse", "local"]
LOCAL_PREFIX = "local-"
UPLOAD_PREFIX = "upload-"  # ids of local spend uploaded to the server (applied at most once)

_Errors = tuple[type[BaseException], ...]
_MAX_ORPHANS = 1024


@dataclass(frozen=True)
class Pending:
    """A commit the server has not seen yet: a settle that failed, or spend made locally.

    Attributes:
        reservation_id: Server reservation to drop first, ``UPLOAD_PREFIX`` + an id for
            local spend (applied at most once), or ``""`` for a plain record.
        keys: Budget keys to charge.
        nanos: Nano-dollars to commit (``None`` for a release).
        record: Spend record to append, if any.
        orphan: A release of a reservation whose reply was lost: the server may or may not
            hold it. Kept apart from real commits (bounded, not counted in ``pending``).
    """

    reservation_id: str
    keys: tuple[str, ...]
    nanos: int | None
    record: SpendRecord | None
    orphan: bool = False


class OutagePolicy:
    """Local fallback state of one shared ledger (thread-safe).

    Args:
        on_unavailable: ``"refuse"`` (fail closed) or ``"local"``.
        local_share: Fraction of each limit one process may spend while the server is away.
        clock: Time source of the local ledger.
        server: The server's name in log messages (``"Redis"``, ``"PostgreSQL"``).
    """

    def __init__(
        self,
        on_unavailable: OnUnavailable,
        local_share: float,
        clock: Clock,
        *,
        server: str = "the server",
    ) -> None:
        if on_unavailable not in ("refuse", "local"):
            msg = f"on_unavailable must be 'refuse' or 'local', got {on_unavailable!r}"
            raise ValueError(msg)
        if on_unavailable == "local" and not (0 < local_share <= 1 and math.isfinite(local_share)):
            msg = (
                f"on_unavailable='local' needs 0 < local_share <= 1 (the fraction of each "
                f"budget one replica may spend while the server is away), got {local_share!r}"
            )
            raise ValueError(msg)
        self.mode = on_unavailable
        self.server = server
        self.share = local_share
        self.local = InMemoryLedger(clock)
        self._lock = threading.Lock()
        self._pending: list[Pending] = []
        # Releases of reservations whose reply was lost. Bounded: in a long outage every
        # refused call adds one, and a hold that is never released still expires at its TTL.
        self._orphans: deque[Pending] = deque(maxlen=_MAX_ORPHANS)

    def local_reserve(
        self, limits: Mapping[str, float], amount_usd: float, ttl_seconds: float, tier: str | None
    ) -> Reservation:
        """Reserve against the local share; the returned id marks the reservation local."""
        scaled = {k: v * self.share for k, v in limits.items()}
        held = self.local.reserve(scaled, amount_usd, ttl_seconds=ttl_seconds, tier=tier)
        return dataclasses.replace(held, id=LOCAL_PREFIX + held.id, limits=dict(limits))

    def local_finish(
        self, reservation: Reservation, nanos: int | None, record: SpendRecord | None
    ) -> None:
        """Settle (``nanos`` given) or release a local reservation and queue its upload."""
        inner = dataclasses.replace(reservation, id=reservation.id[len(LOCAL_PREFIX) :])
        if nanos is None:
            self.local.release(inner)
            return
        self.local.settle(inner, nanos / 1e9, record)
        # The upload's own id lets the server apply it once even if it is sent twice.
        self.defer(Pending(UPLOAD_PREFIX + inner.id, tuple(reservation.limits), nanos, record))

    def defer(self, item: Pending) -> None:
        """Queue a commit for the next time the server answers."""
        with self._lock:
            (self._orphans if item.orphan else self._pending).append(item)

    def take_pending(self) -> list[Pending]:
        """Remove and return every queued commit (the caller re-queues what still fails)."""
        with self._lock:
            items, self._pending = [*self._orphans, *self._pending], []
            self._orphans.clear()
        return items

    @property
    def pending(self) -> int:
        """Commits still waiting for the server."""
        with self._lock:
            return len(self._pending)

    # -- writing commits: now, or queued while the server is away (sync, then async) ----

    def send(
        self,
        write: Callable[[Pending], object],
        item: Pending,
        errors: _Errors,
        log: logging.Logger,
    ) -> None:
        """Write ``item`` now, or queue it (with a warning) when ``write`` raises ``errors``."""
        try:
            write(item)
        except errors as exc:
            log.warning("%s unavailable (%s); settlement queued for retry", self.server, exc)
            self.defer(item)

    def flush(self, write: Callable[[Pending], object], errors: _Errors) -> None:
        """Write every queued commit in order; on ``errors`` re-queue it and the rest, and raise."""
        items = self.take_pending()
        for i, item in enumerate(items):
            try:
                write(item)
            except errors:
                self._requeue(items[i:])
                raise

    async def asend(
        self,
        awrite: Callable[[Pending], Awaitable[object]],
        item: Pending,
        errors: _Errors,
        log: logging.Logger,
    ) -> None:
        """Async twin of :meth:`send`."""
        try:
            await awrite(item)
        except errors as exc:
            log.warning("%s unavailable (%s); settlement queued for retry", self.server, exc)
            self.defer(item)

    async def aflush(self, awrite: Callable[[Pending], Awaitable[object]], errors: _Errors) -> None:
        """Async twin of :meth:`flush`."""
        items = self.take_pending()
        for i, item in enumerate(items):
            try:
                await awrite(item)
            except errors:
                self._requeue(items[i:])
                raise

    def _requeue(self, items: list[Pending]) -> None:
        for item in items:
            self.defer(item)
