"""Which top-level run a LangChain run belongs to.

LangChain hands a chat model only its own run and its parent's id, while a thread (and a
run budget) is about the *root* run: the ``agent.invoke(...)`` that caused a loop of model
calls. :class:`RootTracker` is a callback handler that remembers, for every run in flight,
the root it descends from. It is attached to every callback manager LangChain configures
through langchain-core's ``register_configure_hook`` (the mechanism LangSmith tracing uses),
once, the first time a tiered model that needs it is built. It does nothing but two dict
operations per run start and end, in the caller's thread (``run_inline``).
"""

from __future__ import annotations

import threading
from contextvars import ContextVar
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler

__all__ = ["RootTracker", "RunLog", "enable_root_tracking", "root_of"]

_MAX_RUNS = 200_000
"""Runs remembered at once; a run that never ends (a crashed callback) is evicted oldest-first."""


class RootTracker(BaseCallbackHandler):
    """Maps every chain and tool run in flight to the root run it descends from.

    Model runs are ignored (a model call finds its root through its parent run), so the
    tracker adds nothing to the events of plain model calls.
    """

    run_inline = True
    raise_error = False

    @property
    def ignore_llm(self) -> bool:
        """Model runs are looked up through their parent."""
        return True

    @property
    def ignore_chat_model(self) -> bool:
        """Model runs are looked up through their parent."""
        return True

    @property
    def ignore_retriever(self) -> bool:
        """Retrievers start no model calls."""
        return True

    @property
    def ignore_retry(self) -> bool:
        """Retries change no run's parent."""
        return True

    @property
    def ignore_custom_event(self) -> bool:
        """Custom events change no run's parent."""
        return True

    tiered_internal = True
    """Bookkeeping, not a listener: the engine emits no events and reads nothing for it."""

    def __init__(self, max_runs: int = _MAX_RUNS) -> None:
        self._roots: dict[UUID, UUID] = {}
        self._lock = threading.Lock()
        self._max_runs = max_runs

    def root_of(self, run_id: UUID) -> UUID | None:
        """The root run of ``run_id`` (itself for a top-level run), ``None`` if not seen."""
        return self._roots.get(run_id)

    def _start(self, run_id: UUID, parent_run_id: UUID | None) -> None:
        with self._lock:
            root = run_id if parent_run_id is None else self._roots.get(parent_run_id)
            # A parent started before tracking began is taken as the root.
            self._roots[run_id] = root if root is not None else parent_run_id or run_id
            if len(self._roots) > self._max_runs:
                self._roots.pop(next(iter(self._roots)))

    def _end(self, run_id: UUID) -> None:
        with self._lock:
            self._roots.pop(run_id, None)

    def on_chain_start(
        self, *args: Any, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        """Record a chain run's root."""
        self._start(run_id, parent_run_id)

    def on_tool_start(
        self, *args: Any, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        """Record a tool run's root."""
        self._start(run_id, parent_run_id)

    def on_chain_end(self, *args: Any, run_id: UUID, **kwargs: Any) -> None:
        """Forget a finished chain run."""
        self._end(run_id)

    def on_chain_error(self, *args: Any, run_id: UUID, **kwargs: Any) -> None:
        """Forget a failed chain run."""
        self._end(run_id)

    def on_tool_end(self, *args: Any, run_id: UUID, **kwargs: Any) -> None:
        """Forget a finished tool run."""
        self._end(run_id)

    def on_tool_error(self, *args: Any, run_id: UUID, **kwargs: Any) -> None:
        """Forget a failed tool run."""
        self._end(run_id)


TRACKER = RootTracker()
"""The process-wide tracker (one per process, like LangSmith's tracer)."""

# A context variable whose *default* is the tracker, so every context sees it.
_tracker_var: ContextVar[RootTracker | None] = ContextVar("tiered_root_tracker", default=TRACKER)
_enabled = threading.Lock()
_registered: list[bool] = []


def enable_root_tracking() -> None:
    """Attach :data:`TRACKER` to every callback manager configured from now on (idempotent)."""
    with _enabled:
        if _registered:
            return
        from langchain_core.tracers.context import register_configure_hook  # noqa: PLC0415

        register_configure_hook(_tracker_var, inheritable=True)
        _registered.append(True)


def root_of(parent_run_id: Any) -> str | None:
    """The root run of a model call, from its parent run (``None`` for a top-level call)."""
    if not isinstance(parent_run_id, UUID):
        return None
    root = TRACKER.root_of(parent_run_id)
    # A parent started before tracking began (or not a chain or tool) is taken as the root.
    return str(root if root is not None else parent_run_id)


class RunLog:
    """Model calls and cost per run in this process (for run budget errors), bounded."""

    def __init__(self, max_runs: int = 100_000) -> None:
        self._runs: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()
        self._max_runs = max_runs

    def record(self, run: str, cost_usd: float) -> None:
        """Count one answered call of ``run`` and its cost."""
        with self._lock:
            steps, spent = self._runs.pop(run, (0, 0.0))
            self._runs[run] = (steps + 1, spent + cost_usd)
            if len(self._runs) > self._max_runs:
                self._runs.pop(next(iter(self._runs)))

    def get(self, run: str) -> tuple[int, float]:
        """``(calls, cost in USD)`` of ``run`` so far."""
        return self._runs.get(run, (0, 0.0))
