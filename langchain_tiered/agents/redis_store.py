"""``RedisThreadStore``: thread state shared by every replica of a service, expiring in Redis.

Behind a load balancer the calls of one agent thread land on different replicas; with the
thread's tier and usage in Redis each replica continues the thread where the last one left
it (and where its prompt cache is). One ``GET`` before and one ``SET ... EX`` after a call on
a thread. Thread state only steers routing: when Redis is away the call routes as if the
thread were new (warned once), it never fails because of the store.
"""

from __future__ import annotations

import json
import threading
import warnings
from typing import Any

from langchain_tiered.agents.threads import ThreadState
from langchain_tiered.shared._client import connect, unreachable_errors

__all__ = ["RedisThreadStore"]


class RedisThreadStore:
    """Thread state in Redis under ``{prefix}:thread:<id>``, expiring ``ttl_seconds`` after use.

    Args:
        url: Redis URL.
        prefix: Key namespace shared by the replicas of one service.
        ttl_seconds: How long a thread is remembered after its last call (keep it near the
            providers' cache lifetime).
        socket_timeout: Seconds before Redis counts as unavailable for one command.
    """

    def __init__(
        self,
        url: str = "redis://localhost:6379/0",
        *,
        prefix: str = "langchain_tiered",
        ttl_seconds: float = 600.0,
        socket_timeout: float = 0.5,
    ) -> None:
        if ttl_seconds <= 0:
            msg = "ttl_seconds must be positive"
            raise ValueError(msg)
        self.url = url
        self.prefix = prefix
        self.ttl_seconds = ttl_seconds
        self.client = connect(url, socket_timeout)
        self._warned = threading.Event()

    def __repr__(self) -> str:
        return f"RedisThreadStore({self.url!r}, prefix={self.prefix!r})"

    def key(self, thread: str) -> str:
        """The Redis key of a thread."""
        return "{" + self.prefix + "}:thread:" + thread

    def get(self, thread: str) -> ThreadState | None:
        """The thread's state, or ``None`` when unknown, expired or Redis is unavailable."""
        try:
            raw = self.client.get(self.key(thread))
        except unreachable_errors() as exc:
            self._warn(exc)
            return None
        return None if raw is None else _decode(raw)

    def put(self, thread: str, state: ThreadState) -> None:
        """Store the thread's state and restart its expiry (skipped while Redis is away)."""
        value = json.dumps(_encode(state), separators=(",", ":"))
        try:
            self.client.set(self.key(thread), value, px=round(self.ttl_seconds * 1000))
        except unreachable_errors() as exc:
            self._warn(exc)

    def close(self) -> None:
        """Close the connection pool."""
        self.client.close()

    def _warn(self, exc: BaseException) -> None:
        if not self._warned.is_set():
            self._warned.set()
            warnings.warn(
                f"{self!r} is unavailable ({type(exc).__name__}: {exc}); threads route as new "
                "until it is back",
                RuntimeWarning,
                stacklevel=3,
            )


def _encode(state: ThreadState) -> dict[str, Any]:
    return {
        "tier": state.tier,
        "input": state.input_tokens,
        "cached": state.cached_tokens,
        "output": state.output_tokens,
        "steps": state.steps,
        "prefixes": dict(state.prefixes),
        "asked": dict(state.asked),
    }


def _decode(raw: bytes | str) -> ThreadState | None:
    try:
        data = json.loads(raw)
        return ThreadState(
            tier=str(data["tier"]),
            input_tokens=int(data["input"]),
            cached_tokens=int(data["cached"]),
            output_tokens=int(data["output"]),
            steps=int(data["steps"]),
            prefixes=tuple((str(k), int(v)) for k, v in data["prefixes"].items()),
            asked=tuple((str(k), int(v)) for k, v in data["asked"].items()),
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None  # written by another version: start the thread afresh
