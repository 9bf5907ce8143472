"""State shared between replicas through Redis: budgets' helpers, rate limits, cooldowns.

What lives here: :class:`RedisState` (one handle making shared limiters, breakers and
ledgers), the Lua scripts and SQL behind :class:`~langchain_tiered.ledger.RedisLedger` and
:class:`~langchain_tiered.ledger.PostgresLedger`, the outage policy they share, and the Redis
twins of the in-memory rate limiter and circuit breaker. Imports only
``langchain_tiered.errors``, ``_clock``, ``ratelimit``, ``ledger`` and ``fallbacks``;
``redis`` and ``psycopg`` load inside the functions that need them.
"""

from __future__ import annotations

from langchain_tiered.shared.errors import SharedStateUnavailableError
from langchain_tiered.shared.state import RedisState

__all__ = ["RedisState", "SharedStateUnavailableError"]
