"""Agent awareness: thread stickiness priced against prompt caches, and run budgets.

What lives here:

* ``threads`` - thread identity (explicit ``tiered_thread``, LangGraph ``thread_id``, the
  root run) and :class:`ThreadStore` (a thread's last tier and usage, with an expiry);
* ``runs`` - the root-run tracker (a callback handler attached through langchain-core's
  configure hook) and the per-run call log;
* ``sticky`` - pure pricing of a tier change against the cache (saving vs cache loss);
* ``engine`` - the glue the call engine calls (route a thread, remember it, run errors);
* ``errors`` - :class:`RunBudgetExceededError`;
* ``redis_store`` - :class:`RedisThreadStore`, thread state shared by replicas (redis loads on
  use);
* ``middleware`` - :class:`TieredBudgetMiddleware` for ``langchain.agents.create_agent``
  (imports ``langchain``; loaded only when used).

May import ``errors``, ``pricing``, ``budget``, ``shared`` and langchain-core; never
``chat_models`` or ``_call`` at import time (the engine imports this package).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from langchain_tiered.agents.errors import RunBudgetExceededError
from langchain_tiered.agents.threads import InMemoryThreadStore, ThreadState, ThreadStore

if TYPE_CHECKING:
    from langchain_tiered.agents.middleware import TieredBudgetMiddleware
    from langchain_tiered.agents.redis_store import RedisThreadStore

__all__ = [
    "InMemoryThreadStore",
    "RedisThreadStore",
    "RunBudgetExceededError",
    "ThreadState",
    "ThreadStore",
    "TieredBudgetMiddleware",
]


def __getattr__(name: str) -> Any:
    if name == "TieredBudgetMiddleware":
        from langchain_tiered.agents.middleware import TieredBudgetMiddleware  # noqa: PLC0415

        return TieredBudgetMiddleware
    if name == "RedisThreadStore":
        from langchain_tiered.agents.redis_store import RedisThreadStore  # noqa: PLC0415

        return RedisThreadStore
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
