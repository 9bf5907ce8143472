"""Agent threads: which calls belong together, and what the last call of each left behind.

A thread is a sequence of model calls over one growing history (an agent loop, a chat).
Its identity comes, in order, from an explicit ``config["metadata"]["tiered_thread"]``,
LangGraph's ``configurable.thread_id`` (LangGraph copies it into the run's metadata), or
the root run of the call when the call runs inside a larger one (an ``agent.invoke``
without a checkpointer). A lone ``model.invoke`` has no thread.

A :class:`ThreadStore` keeps each thread's last tier and usage with an expiry (prompt caches
expire too: OpenAI's after minutes of inactivity, Anthropic's after 5 minutes or 1 hour).
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from langchain_tiered.agents.runs import root_of

if TYPE_CHECKING:
    from langchain_tiered._clock import Clock

__all__ = [
    "RUN_KEY",
    "THREAD_KEY",
    "InMemoryThreadStore",
    "ThreadState",
    "ThreadStore",
    "call_identity",
]

THREAD_KEY = "tiered_thread"
"""Metadata key naming a thread explicitly."""
RUN_KEY = "tiered_run"
"""Metadata key naming the run a call belongs to (set by the model; may be given explicitly)."""


@dataclass(frozen=True)
class ThreadState:
    """What a thread's last call left behind: its tier and its usage.

    Attributes:
        tier: The tier that answered the last call (where the thread's cache is).
        input_tokens: Prompt tokens of the last call (the prefix the next call repeats).
        cached_tokens: Of those, the tokens the provider reported as read from its cache.
        output_tokens: Output tokens of the last call (the expected size of the next).
        steps: Calls answered on this thread so far.
        prefixes: The last prompt size the thread sent to each tier it used: a tier it
            returns to still holds that prefix in its cache (OpenAI-style prefix caching).
        asked: How often the router asked for each tier on this thread (from its second
            call on): how long a stay on a cheaper tier is likely to last.
    """

    tier: str
    input_tokens: int
    cached_tokens: int
    output_tokens: int
    steps: int
    prefixes: tuple[tuple[str, int], ...] = ()
    asked: tuple[tuple[str, int], ...] = ()

    def prefix_on(self, tier: str) -> int:
        """The last prompt size the thread sent to ``tier`` (0 if never)."""
        return dict(self.prefixes).get(tier, 0)

    def with_asked(self, tier: str) -> ThreadState:
        """This state with one more router decision for ``tier``."""
        counts = dict(self.asked)
        counts[tier] = counts.get(tier, 0) + 1
        return dataclasses.replace(self, asked=tuple(counts.items()))

    def after_call(self, tier: str, tokens: Mapping[str, int]) -> ThreadState:
        """The state after a call answered on ``tier`` with usage ``tokens``."""
        prefixes = dict(self.prefixes)
        prefixes[tier] = tokens.get("input_tokens", 0)
        return dataclasses.replace(
            self,
            tier=tier,
            input_tokens=tokens.get("input_tokens", 0),
            cached_tokens=tokens.get("cached_tokens", 0),
            output_tokens=tokens.get("output_tokens", 0),
            steps=self.steps + 1,
            prefixes=tuple(prefixes.items()),
        )


@runtime_checkable
class ThreadStore(Protocol):
    """Where thread state lives; entries expire like the prompt caches they describe."""

    def get(self, thread: str) -> ThreadState | None:
        """The thread's state, or ``None`` when unknown or expired."""
        ...

    def put(self, thread: str, state: ThreadState) -> None:
        """Store the thread's state after a call (restarts its expiry)."""
        ...


class InMemoryThreadStore:
    """Thread state in this process, expiring ``ttl_seconds`` after a thread's last call.

    Args:
        ttl_seconds: How long a thread is remembered after its last call. Keep it near the
            providers' cache lifetime (5-10 minutes): after that the cache is gone anyway.
        max_threads: Threads remembered at once (least recently used evicted first).
        clock: Time source (inject a ``FakeClock`` in tests); default: the model's clock.
    """

    def __init__(
        self,
        *,
        ttl_seconds: float = 600.0,
        max_threads: int = 100_000,
        clock: Clock | None = None,
    ) -> None:
        if ttl_seconds <= 0 or max_threads <= 0:
            msg = "ttl_seconds and max_threads must be positive"
            raise ValueError(msg)
        self.ttl_seconds = ttl_seconds
        self.max_threads = max_threads
        self.clock = clock
        self._items: OrderedDict[str, tuple[float, ThreadState]] = OrderedDict()
        self._lock = threading.Lock()

    def _now(self) -> float:
        if self.clock is None:
            import time  # noqa: PLC0415

            return time.monotonic()
        return self.clock.monotonic()

    def get(self, thread: str) -> ThreadState | None:
        """The thread's state, or ``None`` when unknown or expired."""
        with self._lock:
            item = self._items.get(thread)
            if item is None:
                return None
            if self._now() - item[0] > self.ttl_seconds:
                del self._items[thread]
                return None
            return item[1]

    def put(self, thread: str, state: ThreadState) -> None:
        """Store the thread's state (restarts its expiry)."""
        with self._lock:
            self._items[thread] = (self._now(), state)
            self._items.move_to_end(thread)
            while len(self._items) > self.max_threads:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def call_identity(
    run_id: Any, parent_run_id: Any, metadata: Mapping[str, Any]
) -> tuple[str | None, str | None]:
    """``(thread, run)`` of a call from its LangChain run ids and config metadata.

    Args:
        run_id: The call's own LangChain run id (``None`` outside a run).
        parent_run_id: The run the call was made from (``None`` for a top-level call).
        metadata: The call's ``config["metadata"]`` (LangGraph adds ``thread_id`` to it).

    Returns:
        The thread (explicit key, LangGraph thread, else the root run when the call is nested)
        and the run (explicit ``tiered_run``, else the root run, else the call itself).
    """
    root = root_of(parent_run_id)
    own = None if run_id is None else str(run_id)
    run = _text(metadata.get(RUN_KEY)) or root or own
    thread = (
        _text(metadata.get(THREAD_KEY))
        or _text(metadata.get("thread_id"))
        or (None if root is None else f"run:{root}")
    )
    return thread, run
