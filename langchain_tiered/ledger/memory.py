"""An in-process ledger: thread- and asyncio-safe, lost when the process exits."""

from __future__ import annotations

import heapq
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from langchain_tiered._clock import Clock, SystemClock
from langchain_tiered.ledger._reserve import admit, hold_request, overdraft
from langchain_tiered.ledger.base import (
    EXPIRED_GRACE_SECONDS,
    Feedback,
    Reservation,
    SpendRecord,
    actual_nanos,
    as_utc,
    to_usd,
    wall_seconds,
)

__all__ = ["EXPIRED_GRACE_SECONDS", "InMemoryLedger"]


@dataclass(slots=True)
class _Hold:
    keys: tuple[str, ...]
    nanos: int
    expires_at: float
    active: bool = True


class InMemoryLedger:
    """A :class:`~langchain_tiered.ledger.base.Ledger` kept in memory.

    Every operation takes one :class:`threading.Lock` for O(number of keys) work and never
    awaits while holding it, so the same instance is safe to share between threads and
    asyncio tasks (the async methods simply call the sync ones).

    Spend *totals* are kept forever, but the history returned by :meth:`records` is a ring
    buffer: only the newest ``max_records`` records are kept (each costs ~0.6 KB, so the
    default holds ~6 MB), and :attr:`dropped_records` counts the ones pushed out. Use a
    :class:`~langchain_tiered.ledger.sqlite.SQLiteLedger` to keep the whole history.

    Args:
        clock: Time source for reservation expiry. Defaults to the system clock.
        max_records: How many spend records to keep (the newest); ``None`` keeps every one.
    """

    def __init__(self, clock: Clock | None = None, *, max_records: int | None = 10_000) -> None:
        if max_records is not None and max_records < 0:
            msg = f"max_records must be >= 0 or None (keep every record), got {max_records!r}"
            raise ValueError(msg)
        self._clock: Clock = clock or SystemClock()
        self._now = wall_seconds(self._clock)
        self._lock = threading.Lock()
        self._feedback: dict[str, Feedback] = {}
        self._spent: dict[str, int] = {}
        self._reserved: dict[str, int] = {}
        self._holds: dict[str, _Hold] = {}
        # Min-heap of (deadline, reservation id): the next hold to expire or to forget.
        self._deadlines: list[tuple[float, str]] = []
        self._records: deque[SpendRecord] = deque(maxlen=max_records)
        self.dropped_records = 0
        """How many of the oldest records the ring buffer has pushed out."""

    def __repr__(self) -> str:
        return f"InMemoryLedger(keys={len(self._spent)}, in_flight={len(self._holds)})"

    def reserve(
        self,
        limits: Mapping[str, float],
        amount_usd: float,
        *,
        ttl_seconds: float = 600.0,
        tier: str | None = None,
    ) -> Reservation:
        """All-or-nothing reservation across ``limits`` (see :meth:`Ledger.reserve`)."""
        rid, amount, caps, now, expires_at = hold_request(
            limits, amount_usd, ttl_seconds, self._now()
        )
        with self._lock:
            self._expire(now)
            refused = overdraft(caps, amount, self._totals)
            reservation = admit(rid, limits, amount_usd, expires_at, tier, refused)
            reserved = self._reserved
            for key in caps:
                reserved[key] = reserved.get(key, 0) + amount
            self._holds[rid] = _Hold(tuple(caps), amount, expires_at)
            heapq.heappush(self._deadlines, (expires_at, rid))
        return reservation

    def settle(
        self, reservation: Reservation, actual_usd: float, record: SpendRecord | None = None
    ) -> None:
        """Commit ``actual_usd`` to the reservation's keys (see :meth:`Ledger.settle`)."""
        actual = actual_nanos(actual_usd)
        with self._lock:
            hold = self._drop(reservation.id)
            if hold is None:
                return
            for key in hold.keys:
                self._spent[key] = self._spent.get(key, 0) + actual
            if record is not None:
                self._append(record)

    def release(self, reservation: Reservation) -> None:
        """Drop the reservation without committing anything; a no-op if already finished.

        Args:
            reservation: What :meth:`reserve` returned.
        """
        with self._lock:
            self._drop(reservation.id)

    def record(self, record: SpendRecord) -> None:
        """Append a history row that involves no budget key.

        Args:
            record: The row to append.
        """
        with self._lock:
            self._append(record)

    def spent(self, key: str) -> float:
        """Committed spend under ``key`` in USD."""
        with self._lock:
            return to_usd(self._spent.get(key, 0))

    def reserved(self, key: str) -> float:
        """Room currently held by unexpired reservations under ``key`` in USD."""
        now = self._now()
        with self._lock:
            self._expire(now)
            return to_usd(self._reserved.get(key, 0))

    def records(self, since: datetime | None = None) -> list[SpendRecord]:
        """Spend records in insertion order, optionally only those at or after ``since``.

        Only the newest ``max_records`` are kept (see the class docstring).

        Args:
            since: Earliest record time to include (naive values are taken as UTC).

        Returns:
            The matching records.
        """
        with self._lock:
            rows = list(self._records)
        if since is None:
            return rows
        cutoff = as_utc(since)
        return [r for r in rows if r.time >= cutoff]

    def record_feedback(self, run_id: str, score: float, *, prompt: str | None = None) -> None:
        """Attach an outcome to the call ``run_id``; a later one replaces the score only."""
        with self._lock:
            old = self._feedback.pop(run_id, None)  # re-insert: order is "last recorded"
            if prompt is None and old is not None:
                prompt = old.prompt
            self._feedback[run_id] = Feedback(run_id, float(score), prompt, self._clock.now())

    def feedback(self) -> list[Feedback]:
        """Every recorded outcome, oldest first."""
        with self._lock:
            return list(self._feedback.values())

    async def areserve(
        self,
        limits: Mapping[str, float],
        amount_usd: float,
        *,
        ttl_seconds: float = 600.0,
        tier: str | None = None,
    ) -> Reservation:
        """Async twin of :meth:`reserve`; never blocks for longer than the lock's O(keys) work."""
        return self.reserve(limits, amount_usd, ttl_seconds=ttl_seconds, tier=tier)

    async def asettle(
        self, reservation: Reservation, actual_usd: float, record: SpendRecord | None = None
    ) -> None:
        """Async twin of :meth:`settle`."""
        self.settle(reservation, actual_usd, record)

    async def arelease(self, reservation: Reservation) -> None:
        """Async twin of :meth:`release`."""
        self.release(reservation)

    async def arecord(self, record: SpendRecord) -> None:
        """Async twin of :meth:`record`."""
        self.record(record)

    # -- private helpers; callers hold self._lock -------------------------------------

    def _totals(self, key: str) -> tuple[int, int]:
        return self._spent.get(key, 0), self._reserved.get(key, 0)

    def _append(self, record: SpendRecord) -> None:
        if len(self._records) == self._records.maxlen:
            self.dropped_records += 1
        self._records.append(record)

    def _drop(self, reservation_id: str) -> _Hold | None:
        hold = self._holds.pop(reservation_id, None)
        if hold is not None and hold.active:
            self._unreserve(hold)
        return hold

    def _unreserve(self, hold: _Hold) -> None:
        hold.active = False
        for key in hold.keys:
            left = self._reserved[key] - hold.nanos
            if left:
                self._reserved[key] = left
            else:
                del self._reserved[key]  # keeps the dict from growing with stale keys

    def _expire(self, now: float) -> None:
        """Free the room of expired holds, and forget holds expired for longer than the grace."""
        heap = self._deadlines
        while heap and heap[0][0] <= now:
            _, reservation_id = heapq.heappop(heap)
            hold = self._holds.get(reservation_id)
            if hold is None:
                continue  # settled or released before its deadline
            if hold.active:
                self._unreserve(hold)
                heapq.heappush(heap, (hold.expires_at + EXPIRED_GRACE_SECONDS, reservation_id))
            else:
                del self._holds[reservation_id]
        # Settled holds leave their deadline behind; rebuild once stale entries dominate
        # so the heap stays proportional to the calls actually in flight.
        if len(heap) > 2 * len(self._holds) + 64:
            self._deadlines = [
                (h.expires_at + (0.0 if h.active else EXPIRED_GRACE_SECONDS), rid)
                for rid, h in self._holds.items()
            ]
            heapq.heapify(self._deadlines)
