"""A ledger in PostgreSQL: durable spend records and reservations that cannot oversell.

A reservation is one call of a PL/pgSQL function that locks the budget keys' ``spend`` rows
(``SELECT ... FOR UPDATE``, in key order so two reservations never deadlock), sums the
unexpired holds and inserts the new one, all in one transaction and one round-trip. Settling
drops the hold, adds the real cost and inserts the spend record in one transaction, so a
record exists if and only if its spend does. Needs the ``postgres`` extra:
``pip install "langchain-tiered[postgres]"``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from langchain_tiered._clock import Clock, SystemClock
from langchain_tiered.ledger._reserve import admit, hold_request
from langchain_tiered.ledger.base import (
    EXPIRED_GRACE_SECONDS,
    Feedback,
    Reservation,
    SpendRecord,
    actual_nanos,
    as_utc,
    to_usd,
)
from langchain_tiered.shared._outage import OutagePolicy, Pending
from langchain_tiered.shared._pg_sql import Statements, record_params
from langchain_tiered.shared.errors import unavailable

__all__ = ["PostgresLedger"]

_log = logging.getLogger(__name__)
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# Expired holds are deleted at most this often, so the cleanup stays off the hot path.
_CLEANUP_EVERY_SECONDS = 60.0


def _unreachable_errors() -> tuple[type[BaseException], ...]:
    import psycopg  # noqa: PLC0415
    import psycopg_pool  # noqa: PLC0415

    return (psycopg.OperationalError, psycopg_pool.PoolTimeout)


class PostgresLedger:
    """A :class:`~langchain_tiered.ledger.base.Ledger` in PostgreSQL, shared by many hosts.

    Amounts are integer nano-dollars (``bigint``) as in every ledger. Tables and functions
    live in their own ``schema`` and are created on first use. Reservation expiry compares
    the callers' wall clocks, so keep the hosts' clocks in sync (NTP).

    When the database is unreachable, :meth:`reserve` raises
    :class:`~langchain_tiered.shared.errors.SharedStateUnavailableError` (fail closed). Pooled
    connections are checked before use, so connections the server dropped (restart, idle
    timeout, ``pg_terminate_backend``) are replaced without a restart. A settlement that
    cannot reach the server is queued and written before the next reservation (and by
    :meth:`flush`/:meth:`close`).

    Args:
        dsn: libpq connection string or URL, e.g. ``"postgresql://postgres@localhost/test"``.
        schema: Schema holding this ledger's tables (lower-case identifier).
        clock: Time source for reservation expiry.
        max_connections: Size of each connection pool (one sync, one per event loop).
        connect_timeout: Seconds to wait for a connection before counting the server down.
    """

    def __init__(
        self,
        dsn: str,
        *,
        schema: str = "langchain_tiered",
        clock: Clock | None = None,
        max_connections: int = 10,
        connect_timeout: float = 5.0,
    ) -> None:
        if not _SCHEMA_NAME.match(schema):
            msg = f"schema must be a lower-case SQL identifier (e.g. 'spend'), got {schema!r}"
            raise ValueError(msg)
        self.dsn = dsn
        self.schema = schema
        self._sql = Statements(schema)
        self._clock: Clock = clock or SystemClock()
        self._max = max_connections
        self._timeout = connect_timeout
        self._last_cleanup = float("-inf")
        self._pool = self._open_pool()
        self._apools: dict[int, tuple[Any, Any]] = {}
        self._outage = OutagePolicy("refuse", 0.0, self._clock, server="PostgreSQL")
        try:
            with self._pool.connection() as conn, conn.transaction():
                conn.execute(self._sql.lock_ddl)
                conn.execute(self._sql.ddl)
        except _unreachable_errors() as exc:
            self._pool.close()
            raise unavailable("PostgreSQL", "connect", exc) from exc

    def __repr__(self) -> str:
        return f"PostgresLedger(schema={self.schema!r})"

    @property
    def pending(self) -> int:
        """Settlements waiting for the database to come back."""
        return self._outage.pending

    def flush(self) -> int:
        """Write settlements queued during an outage; returns how many are still queued."""
        try:
            self._flush()
        except _unreachable_errors():
            pass
        return self._outage.pending

    def close(self) -> None:
        """Write queued settlements if the database answers, then close the pool."""
        self.flush()
        self._pool.close()

    async def aclose(self) -> None:
        """Close the running event loop's connection pool (call it before the loop ends)."""
        entry = self._apools.get(id(asyncio.get_running_loop()))
        if entry is not None:
            self._apools = {}
            await entry[1].close()

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
        params, rid, expires_at = self._reserve_params(limits, amount_usd, ttl_seconds)
        try:
            self._flush()
            with self._pool.connection() as conn, conn.transaction():
                self._maybe_cleanup(conn)
                conn.execute(self._sql.fast_commit)
                row = conn.execute(self._sql.reserve, params).fetchone()
        except _unreachable_errors() as exc:
            raise unavailable("PostgreSQL", "reserve", exc) from exc
        return _reservation(row, rid, limits, amount_usd, expires_at, tier)

    def settle(
        self, reservation: Reservation, actual_usd: float, record: SpendRecord | None = None
    ) -> None:
        """Commit ``actual_usd`` to the reservation's keys (see :meth:`Ledger.settle`)."""
        self._finish(Pending(reservation.id, (), actual_nanos(actual_usd), record))

    def release(self, reservation: Reservation) -> None:
        """Drop the reservation without committing anything; a no-op if already finished."""
        self._finish(Pending(reservation.id, (), None, None))

    def record(self, record: SpendRecord) -> None:
        """Append a history row that involves no budget key."""
        with self._pool.connection() as conn:
            conn.execute(self._sql.insert_record, record_params(record))

    def spent(self, key: str) -> float:
        """Committed spend under ``key`` in USD."""
        with self._pool.connection() as conn:
            row = conn.execute(self._sql.spent, (key,)).fetchone()
        return to_usd(int(row[0]) if row else 0)

    def reserved(self, key: str) -> float:
        """Room currently held by unexpired reservations under ``key`` in USD."""
        with self._pool.connection() as conn:
            row = conn.execute(self._sql.held, (key, self._now())).fetchone()
        return to_usd(int(row[0]) if row else 0)

    def records(self, since: datetime | None = None) -> list[SpendRecord]:
        """Spend records in insertion order, optionally only those at or after ``since``."""
        with self._pool.connection() as conn:
            rows = conn.execute(*self._sql.select_records(since)).fetchall()
        return [_row_record(row[0]) for row in rows]

    def record_feedback(self, run_id: str, score: float, *, prompt: str | None = None) -> None:
        """Attach an outcome to the call ``run_id`` (see ``FeedbackStore``); last one wins."""
        with self._pool.connection() as conn:
            conn.execute(self._sql.upsert_feedback, (run_id, float(score), prompt, self._utc()))

    def feedback(self) -> list[Feedback]:
        """Every recorded outcome, oldest first."""
        with self._pool.connection() as conn:
            rows = conn.execute(self._sql.select_feedback).fetchall()
        return [Feedback(r, float(s), p, as_utc(t)) for r, s, p, t in rows]

    def query(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        """Run a read-only query (``{schema}`` is replaced by this ledger's schema).

        Reports use it to aggregate records on the server instead of loading every row.
        """
        with self._pool.connection() as conn:
            rows: list[tuple[Any, ...]] = conn.execute(
                sql.replace("{schema}", self.schema),
                params,
            ).fetchall()
        return rows

    # -- the protocol, async ---------------------------------------------------------

    async def areserve(
        self,
        limits: Mapping[str, float],
        amount_usd: float,
        *,
        ttl_seconds: float = 600.0,
        tier: str | None = None,
    ) -> Reservation:
        """Async twin of :meth:`reserve` (``psycopg.AsyncConnection``)."""
        params, rid, expires_at = self._reserve_params(limits, amount_usd, ttl_seconds)
        try:
            await self._aflush()
            async with (await self._apool()).connection() as conn, conn.transaction():
                await conn.execute(self._sql.fast_commit)
                cur = await conn.execute(self._sql.reserve, params)
                row = await cur.fetchone()
        except _unreachable_errors() as exc:
            raise unavailable("PostgreSQL", "reserve", exc) from exc
        return _reservation(row, rid, limits, amount_usd, expires_at, tier)

    async def asettle(
        self, reservation: Reservation, actual_usd: float, record: SpendRecord | None = None
    ) -> None:
        """Async twin of :meth:`settle`."""
        await self._afinish(Pending(reservation.id, (), actual_nanos(actual_usd), record))

    async def arelease(self, reservation: Reservation) -> None:
        """Async twin of :meth:`release`."""
        await self._afinish(Pending(reservation.id, (), None, None))

    async def arecord(self, record: SpendRecord) -> None:
        """Async twin of :meth:`record`."""
        async with (await self._apool()).connection() as conn:
            await conn.execute(self._sql.insert_record, record_params(record))

    # -- settlement I/O (sync, then async mirroring it) ------------------------------

    def _finish(self, item: Pending) -> None:
        self._outage.send(self._write, item, _unreachable_errors(), _log)

    def _write(self, item: Pending) -> None:
        with self._pool.connection() as conn, conn.transaction():
            done = conn.execute(self._sql.finish, (item.reservation_id, item.nanos)).fetchone()
            if done and done[0] and item.record is not None:
                conn.execute(self._sql.insert_record, record_params(item.record))

    def _flush(self) -> None:
        self._outage.flush(self._write, _unreachable_errors())

    async def _afinish(self, item: Pending) -> None:
        await self._outage.asend(self._awrite, item, _unreachable_errors(), _log)

    async def _awrite(self, item: Pending) -> None:
        async with (await self._apool()).connection() as conn, conn.transaction():
            cur = await conn.execute(self._sql.finish, (item.reservation_id, item.nanos))
            done = await cur.fetchone()
            if done and done[0] and item.record is not None:
                await conn.execute(self._sql.insert_record, record_params(item.record))

    async def _aflush(self) -> None:
        await self._outage.aflush(self._awrite, _unreachable_errors())

    # -- helpers ---------------------------------------------------------------------

    def _now(self) -> float:
        return self._clock.now().timestamp()

    def _utc(self) -> datetime:
        return as_utc(self._clock.now())

    def _reserve_params(
        self, limits: Mapping[str, float], amount_usd: float, ttl_seconds: float
    ) -> tuple[tuple[Any, ...], str, float]:
        ask = hold_request(limits, amount_usd, ttl_seconds, self._now())
        params = (ask.id, list(ask.caps), list(ask.caps.values()), ask.amount, ask.now)
        return (*params, ask.expires_at), ask.id, ask.expires_at

    def _open_pool(self) -> Any:
        from psycopg_pool import ConnectionPool  # noqa: PLC0415

        return ConnectionPool(
            self.dsn,
            check=ConnectionPool.check_connection,
            min_size=1,
            max_size=self._max,
            timeout=self._timeout,
            kwargs={"autocommit": True, "connect_timeout": max(1, round(self._timeout))},
            open=True,
        )

    async def _apool(self) -> Any:
        # Async connections belong to the loop that opened them: one pool per loop.
        loop = asyncio.get_running_loop()
        entry = self._apools.get(id(loop))
        if entry is not None and entry[0] is loop:
            return entry[1]
        from psycopg_pool import AsyncConnectionPool  # noqa: PLC0415

        pool = AsyncConnectionPool(
            self.dsn,
            check=AsyncConnectionPool.check_connection,
            min_size=1,
            max_size=self._max,
            timeout=self._timeout,
            kwargs={"autocommit": True, "connect_timeout": max(1, round(self._timeout))},
            open=False,
        )
        await pool.open()
        self._apools = {id(loop): (loop, pool)}
        return pool

    def _maybe_cleanup(self, conn: Any) -> None:
        now = self._now()
        if now - self._last_cleanup < _CLEANUP_EVERY_SECONDS:
            return
        self._last_cleanup = now
        # Keep expired holds through the grace period so a slow holder can still settle.
        conn.execute(self._sql.cleanup, (now - EXPIRED_GRACE_SECONDS,))


def _reservation(  # noqa: PLR0917 - private, called twice with the same six values
    row: Any,
    rid: str,
    limits: Mapping[str, float],
    amount_usd: float,
    expires_at: float,
    tier: str | None,
) -> Reservation:
    refused = None
    if row is not None and row[0] is not None:
        key, committed, held = row
        refused = (key, int(committed), int(held))
    return admit(rid, limits, amount_usd, expires_at, tier, refused)


def _row_record(data: Any) -> SpendRecord:
    return SpendRecord.from_dict(data if isinstance(data, dict) else json.loads(data))
