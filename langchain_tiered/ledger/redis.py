"""A ledger in Redis: one budget shared by every replica, enforced atomically on the server.

Every operation is one Lua script (see :mod:`langchain_tiered.shared._ledger_lua`), so the
check-then-hold of :meth:`RedisLedger.reserve` across several budget keys cannot interleave
with another replica's, and settling drops the hold, commits the spend and appends the record
in one step. Needs the ``redis`` extra: ``pip install "langchain-tiered[redis]"``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from langchain_tiered._clock import Clock, SystemClock
from langchain_tiered.ledger._reserve import admit, hold_request
from langchain_tiered.ledger.base import (
    EXPIRED_GRACE_SECONDS,
    Feedback,
    Ledger,
    Reservation,
    SpendRecord,
    actual_nanos,
    as_utc,
    to_usd,
)
from langchain_tiered.shared._client import ScriptClient, unreachable_errors
from langchain_tiered.shared._ledger_lua import (
    COMMIT_LUA,
    FEEDBACK_LUA,
    HELD_LUA,
    RESERVE_LUA,
    RedisKeys,
    period_expiry,
)
from langchain_tiered.shared._outage import LOCAL_PREFIX, OnUnavailable, OutagePolicy, Pending
from langchain_tiered.shared.errors import unavailable

if TYPE_CHECKING:
    import redis
    import redis.asyncio

__all__ = ["RedisLedger"]

_log = logging.getLogger(__name__)


class RedisLedger:
    """A :class:`~langchain_tiered.ledger.base.Ledger` shared through Redis by many processes.

    Amounts are integer nano-dollars on the server, as in every ledger. Keys of a daily or
    monthly budget expire a day after their period ends. Reservation expiry compares the
    callers' wall clocks, so keep the hosts' clocks in sync (NTP).

    When Redis is unreachable or slower than ``socket_timeout``:

    * ``on_unavailable="refuse"`` (default): :meth:`reserve` raises
      :class:`~langchain_tiered.shared.errors.SharedStateUnavailableError`: the call is
      refused, never overspent. The next call tries the server again (no restart needed).
    * ``on_unavailable="local"``: the call is admitted against an in-process allowance of
      ``local_share`` x each limit; what it spends is uploaded once Redis answers again.
      With N replicas up to N x ``local_share`` of a budget may be spent during an outage.

    A settle that cannot reach the server is queued and retried on the next operation;
    its hold expires meanwhile, so the budget is never blocked by the outage.

    Args:
        url: Redis URL, e.g. ``"redis://localhost:6379/0"``.
        prefix: Namespace of this ledger's keys (one Redis may hold many ledgers).
        clock: Time source for reservation expiry.
        socket_timeout: Seconds a command may take before Redis counts as unavailable.
        on_unavailable: ``"refuse"`` or ``"local"`` (see above).
        local_share: Fraction of each limit one process may spend locally during an outage.
        copy_records_to: Another ledger (e.g. a ``PostgresLedger``) that receives a copy of
            every spend record, for durable finance reports.
        keep_records: Keep about this many of the newest records in Redis (``None``: all).
            Budgets are unaffected; set it when ``copy_records_to`` holds the history.
    """

    def __init__(
        self,
        url: str = "redis://localhost:6379/0",
        *,
        prefix: str = "langchain_tiered",
        clock: Clock | None = None,
        socket_timeout: float = 1.0,
        on_unavailable: OnUnavailable = "refuse",
        local_share: float = 0.0,
        copy_records_to: Ledger | None = None,
        keep_records: int | None = None,
    ) -> None:
        self.url = url
        self.keys = RedisKeys(prefix)
        self._clock: Clock = clock or SystemClock()
        self._outage = OutagePolicy(on_unavailable, local_share, self._clock, server="Redis")
        self._copy_to = copy_records_to
        if keep_records is not None and keep_records < 1:
            msg = f"keep_records must be a positive number of records or None, got {keep_records}"
            raise ValueError(msg)
        self._keep = keep_records
        self._redis = ScriptClient(
            url,
            {
                "reserve": RESERVE_LUA,
                "commit": COMMIT_LUA,
                "held": HELD_LUA,
                "feedback": FEEDBACK_LUA,
            },
            socket_timeout,
        )
        self._client: redis.Redis = self._redis.client

    def __repr__(self) -> str:
        return f"RedisLedger({self.url!r}, prefix={self.keys.pattern()[:-2]!r})"

    @property
    def pending(self) -> int:
        """Settlements and local spend waiting for Redis to come back."""
        return self._outage.pending

    def flush(self) -> int:
        """Send settlements queued during an outage now; call it before a replica exits.

        Returns:
            How many are still queued (Redis still unreachable).
        """
        self._flush_quietly()
        return self._outage.pending

    def close(self) -> None:
        """Flush what is queued if Redis answers, then close the connection pool."""
        self._flush_quietly()
        self._client.close()

    async def aclose(self) -> None:
        """Flush what is queued if Redis answers, then close this loop's asyncio connection."""
        try:
            await self._aflush()
        except unreachable_errors():
            pass
        await self._redis.aclose()

    # -- the protocol, sync ----------------------------------------------------------

    def reserve(
        self,
        limits: Mapping[str, float],
        amount_usd: float,
        *,
        ttl_seconds: float = 600.0,
        tier: str | None = None,
    ) -> Reservation:
        """All-or-nothing reservation across ``limits`` (see :meth:`Ledger.reserve`)."""
        rid, keys, args = self._reserve_args(limits, amount_usd, ttl_seconds)
        try:
            self._flush()
            result = self._redis.call("reserve", keys, args)
        except unreachable_errors() as exc:
            return self._reserve_locally(exc, rid, limits, amount_usd, ttl=ttl_seconds, tier=tier)
        return _reservation(rid, limits, amount_usd, result, tier)

    def settle(
        self, reservation: Reservation, actual_usd: float, record: SpendRecord | None = None
    ) -> None:
        """Commit ``actual_usd`` to the reservation's keys (see :meth:`Ledger.settle`)."""
        self._finish(reservation, actual_nanos(actual_usd), record)

    def release(self, reservation: Reservation) -> None:
        """Drop the reservation without committing anything; a no-op if already finished."""
        self._finish(reservation, None, None)

    def record(self, record: SpendRecord) -> None:
        """Append a history row that involves no budget key."""
        self._commit(Pending("", (), None, record))

    def spent(self, key: str) -> float:
        """Committed spend under ``key`` in USD."""
        return to_usd(int(self._client.get(self.keys.budget(key)[0]) or 0))

    def reserved(self, key: str) -> float:
        """Room currently held by unexpired reservations under ``key`` in USD."""
        _, held, exp = self.keys.budget(key)
        return to_usd(int(self._redis.call("held", [held, exp], [self._now()])))

    def records(self, since: datetime | None = None) -> list[SpendRecord]:
        """Spend records in settlement order, optionally only those at or after ``since``."""
        return _parse_records(self._client.xrange(self.keys.records) or [], since)

    def record_feedback(self, run_id: str, score: float, *, prompt: str | None = None) -> None:
        """Attach an outcome to the call ``run_id`` (see ``FeedbackStore``); last one wins."""
        when = as_utc(self._clock.now()).isoformat()
        args = [run_id, repr(float(score)), "0" if prompt is None else "1", prompt or "", when]
        self._redis.call("feedback", [self.keys.feedback], args)

    def feedback(self) -> list[Feedback]:
        """Every recorded outcome, oldest first."""
        raw = self._client.hgetall(self.keys.feedback) or {}
        rows = [(k.decode() if isinstance(k, bytes) else k, json.loads(v)) for k, v in raw.items()]
        out = [
            Feedback(rid, float(d["score"]), d["prompt"], datetime.fromisoformat(d["time"]))
            for rid, d in rows
        ]
        return sorted(out, key=lambda f: (f.time, f.run_id))

    # -- the protocol, async ---------------------------------------------------------

    async def areserve(
        self,
        limits: Mapping[str, float],
        amount_usd: float,
        *,
        ttl_seconds: float = 600.0,
        tier: str | None = None,
    ) -> Reservation:
        """Async twin of :meth:`reserve` (``redis.asyncio``, never blocks the loop)."""
        rid, keys, args = self._reserve_args(limits, amount_usd, ttl_seconds)
        try:
            await self._aflush()
            result = await self._redis.acall("reserve", keys, args)
        except unreachable_errors() as exc:
            return self._reserve_locally(exc, rid, limits, amount_usd, ttl=ttl_seconds, tier=tier)
        return _reservation(rid, limits, amount_usd, result, tier)

    async def asettle(
        self, reservation: Reservation, actual_usd: float, record: SpendRecord | None = None
    ) -> None:
        """Async twin of :meth:`settle`."""
        await self._afinish(reservation, actual_nanos(actual_usd), record)

    async def arelease(self, reservation: Reservation) -> None:
        """Async twin of :meth:`release`."""
        await self._afinish(reservation, None, None)

    async def arecord(self, record: SpendRecord) -> None:
        """Async twin of :meth:`record`."""
        await self._acommit(Pending("", (), None, record))

    # -- shared pure helpers ---------------------------------------------------------

    def _now(self) -> str:
        return repr(self._clock.now().timestamp())

    def _reserve_args(
        self, limits: Mapping[str, float], amount_usd: float, ttl_seconds: float
    ) -> tuple[str, list[str], list[Any]]:
        ask = hold_request(limits, amount_usd, ttl_seconds, self._clock.now().timestamp())
        ttl, grace = ask.expires_at - ask.now, EXPIRED_GRACE_SECONDS
        keys = [self.keys.hold(ask.id)]
        args: list[Any] = [ask.id, ask.amount, repr(ask.now), repr(ttl), repr(grace)]
        for key, cap in ask.caps.items():
            keys += self.keys.budget(key)
            args += [cap, period_expiry(key)]
        return ask.id, keys, args

    def _commit_args(self, item: Pending) -> tuple[list[str], list[Any]]:
        keys = [self.keys.hold(item.reservation_id), self.keys.records]
        record = json.dumps(item.record.to_dict()) if item.record is not None else ""
        nanos = "" if item.nanos is None else item.nanos
        keep = "" if self._keep is None else self._keep
        args: list[Any] = [item.reservation_id, nanos, record, keep]
        for key in item.keys:
            keys += self.keys.budget(key)
            args.append(period_expiry(key))
        return keys, args

    def _reserve_locally(
        self,
        exc: BaseException,
        rid: str,
        limits: Mapping[str, float],
        amount_usd: float,
        *,
        ttl: float,
        tier: str | None,
    ) -> Reservation:
        # The connection may have died after the server ran the script: a hold we never heard
        # of would then block its room until the TTL. Releasing an unknown id is a no-op, so
        # queue a release of ``rid`` for the next time the server answers.
        self._outage.defer(Pending(rid, tuple(limits), None, None, orphan=True))
        if self._outage.mode == "refuse":
            raise unavailable("Redis", "reserve", exc) from exc
        _log.warning("Redis unavailable (%s); reserving from the local share", exc)
        return self._outage.local_reserve(limits, amount_usd, ttl, tier)

    def _after_commit(self, item: Pending) -> None:
        if self._copy_to is not None and item.record is not None:
            try:
                self._copy_to.record(item.record)
            except Exception:  # the record is safe in Redis; the copy is best effort
                _log.exception("could not copy a spend record to %r", self._copy_to)

    def _split(
        self, reservation: Reservation, nanos: int | None, record: SpendRecord | None
    ) -> Pending | None:
        """The server commit for a reservation, or ``None`` after finishing a local one."""
        if reservation.id.startswith(LOCAL_PREFIX):
            self._outage.local_finish(reservation, nanos, record)
            return None
        return Pending(reservation.id, tuple(reservation.limits), nanos, record)

    # -- sync I/O --------------------------------------------------------------------

    def _finish(
        self, reservation: Reservation, nanos: int | None, record: SpendRecord | None
    ) -> None:
        item = self._split(reservation, nanos, record)
        if item is not None:
            self._commit(item)
        else:
            self._flush_quietly()

    def _commit(self, item: Pending) -> None:
        self._outage.send(self._send, item, unreachable_errors(), _log)

    def _flush(self) -> None:
        """Send queued commits; raises (after re-queueing) if Redis is still away."""
        self._outage.flush(self._send, unreachable_errors())

    def _flush_quietly(self) -> None:
        try:
            self._flush()
        except unreachable_errors():
            pass

    def _send(self, item: Pending) -> None:
        if self._redis.call("commit", *self._commit_args(item)):
            self._after_commit(item)

    # -- async I/O (mirrors the sync section line for line) ---------------------------

    async def _afinish(
        self, reservation: Reservation, nanos: int | None, record: SpendRecord | None
    ) -> None:
        item = self._split(reservation, nanos, record)
        if item is not None:
            await self._acommit(item)
        else:
            try:
                await self._aflush()
            except unreachable_errors():
                pass

    async def _acommit(self, item: Pending) -> None:
        await self._outage.asend(self._asend, item, unreachable_errors(), _log)

    async def _aflush(self) -> None:
        await self._outage.aflush(self._asend, unreachable_errors())

    async def _asend(self, item: Pending) -> None:
        if await self._redis.acall("commit", *self._commit_args(item)):
            await asyncio.to_thread(self._after_commit, item)


def _reservation(
    rid: str,
    limits: Mapping[str, float],
    amount_usd: float,
    result: Sequence[Any],
    tier: str | None,
) -> Reservation:
    """Turn the reserve script's reply into a reservation, or raise its refusal."""
    index = int(result[0])
    if index:
        refused = (list(limits)[index - 1], int(result[1]), int(result[2]))
        return admit(rid, limits, amount_usd, 0.0, tier, refused)
    return admit(rid, limits, amount_usd, float(result[1]), tier, None)


def _parse_records(entries: Sequence[Any], since: datetime | None) -> list[SpendRecord]:
    rows = [SpendRecord.from_dict(json.loads(fields[b"r"])) for _, fields in entries]
    if since is None:
        return rows
    cutoff = as_utc(since)
    return [r for r in rows if r.time >= cutoff]
