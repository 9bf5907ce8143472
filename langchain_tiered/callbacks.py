"""Cost tracking for LangChain runs: :class:`TieredCostCallbackHandler` and its context manager.

Modelled on ``langchain_core.callbacks.usage``: a lock, per-name tallies and a context
manager that attaches the handler to every run started inside it (threads and asyncio tasks
included, through an inheritable configure hook).

Every chat-model call is counted exactly once. A ``TieredChatModel`` call is counted from
the ``tiered`` metadata of its answer; the tier model's own run, which LangChain reports as a
child of the tiered run (also when streaming), is ignored (so are runs nested deeper, e.g.
inside ``with_fallbacks``). Chat models used outside a ``TieredChatModel`` are priced from
their ``model_name`` with a :class:`~langchain_tiered.pricing.PriceBook`; a model
the book does not know is reported as *unpriced*, never as free.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Generator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage
from langchain_core.outputs import LLMResult
from langchain_core.tracers.context import register_configure_hook

from langchain_tiered._cost_tally import (
    CostStats,
    chat_answer,
    is_cache_hit,
    is_replay,
    is_tiered_start,
    step_shares,
)
from langchain_tiered.errors import BudgetExceededError
from langchain_tiered.pricing import PriceBook, usage_tokens

__all__ = ["CostStats", "TieredCostCallbackHandler", "get_tiered_cost_callback"]

_TOTALS = (
    "calls",
    "total_cost_usd",
    "estimated_cost_usd",
    "baseline_cost_usd",
    "savings_usd",
    "cache_hits",
    "avoided_cost_usd",
    "refusals",
    "fallbacks",
    "unpriced_calls",
    "unknown_outcomes",
    "unknown_outcome_usd",
)


class TieredCostCallbackHandler(BaseCallbackHandler):
    """Adds up cost, savings, cache hits, refusals and fallbacks of chat-model calls.

    Thread-safe (one lock around every update), so one handler may serve ``batch``,
    threads and asyncio tasks at once. Attach it through ``config={"callbacks": [cb]}`` or
    use :func:`get_tiered_cost_callback`.

    Attributes:
        total_cost_usd: Actual cost of all priced calls in USD (cache hits add nothing).
        calls: Answered calls, counted once each (cache hits included).
        estimated_cost_usd: Sum of the pre-flight worst cases of tiered calls.
        baseline_cost_usd: What the tiered calls would have cost on the top tier.
        cache_hits: Tiered calls answered from LangChain's response cache.
        avoided_cost_usd: What those cache hits cost when they were first answered.
        refusals: Calls refused by a budget or a per-call cap (``BudgetExceededError``).
        fallbacks: Tiered calls answered by a tier other than the routed one.
        unpriced_calls: Plain-model calls whose cost is unknown (no price or no usage).
        unpriced_models: Names of those models.
        unknown_outcomes: Tiered requests that failed after being sent (timeout, dropped
            connection) and were charged at their worst case (``unknown_outcome="charge"``).
        unknown_outcome_usd: What those were charged (included in ``total_cost_usd``).
        by_tier: Tier name -> :class:`CostStats` (tiered calls only).
        by_model: Model name -> :class:`CostStats` (tiered and plain calls).

    Args:
        price_book: Prices for chat models used outside a ``TieredChatModel``; default
            ``PriceBook.default()``.
        max_events: How many custom events (``tiered.route``, ``tiered.fallback``) to keep.
    """

    run_inline = True
    """Called in the caller's thread/task: it only updates counters under a lock, which is
    cheaper than LangChain handing each callback to an executor."""

    def __init__(self, *, price_book: PriceBook | None = None, max_events: int = 1000) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._book = price_book
        self.total_cost_usd = 0.0
        self.calls = 0
        self.estimated_cost_usd = 0.0
        self.baseline_cost_usd = 0.0
        self._baseline_actual = 0.0
        self.cache_hits = 0
        self.avoided_cost_usd = 0.0
        self.refusals = 0
        self.fallbacks = 0
        self.unpriced_calls = 0
        self.unpriced_models: set[str] = set()
        self.unknown_outcomes = 0
        self.unknown_outcome_usd = 0.0
        self.by_tier: dict[str, CostStats] = {}
        self.by_model: dict[str, CostStats] = {}
        self._events: deque[dict[str, Any]] = deque(maxlen=max_events)
        # Run bookkeeping: open tiered runs, and runs nested under one (ignored).
        self._tiered: set[UUID] = set()
        self._inside: set[UUID] = set()
        self._hints: dict[UUID, str] = {}

    # -- derived values -----------------------------------------------------------------

    @property
    def savings_usd(self) -> float:
        """Baseline minus actual cost of the tiered calls that have a baseline."""
        return self.baseline_cost_usd - self._baseline_actual

    @property
    def events(self) -> list[dict[str, Any]]:
        """The most recent custom events, oldest first, each ``{"name", "data", "run_id"}``."""
        with self._lock:
            return list(self._events)

    def __repr__(self) -> str:
        unpriced = f", unpriced_calls={self.unpriced_calls}" if self.unpriced_calls else ""
        return (
            f"TieredCostCallbackHandler(calls={self.calls}, "
            f"total_cost_usd={self.total_cost_usd:.6f}, savings_usd={self.savings_usd:.6f}, "
            f"cache_hits={self.cache_hits}, fallbacks={self.fallbacks}, "
            f"refusals={self.refusals}{unpriced})"
        )

    def summary(self) -> dict[str, Any]:
        """Return every total and breakdown as a JSON-serialisable dict."""
        with self._lock:
            data: dict[str, Any] = {name: getattr(self, name) for name in _TOTALS}
            data["unpriced_models"] = sorted(self.unpriced_models)
            data["by_tier"] = {k: asdict(v) for k, v in sorted(self.by_tier.items())}
            data["by_model"] = {k: asdict(v) for k, v in sorted(self.by_model.items())}
            data["events"] = len(self._events)
            return data

    # -- callbacks ----------------------------------------------------------------------

    def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[Any]],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        """Remember tiered runs, and ignore runs nested under one."""
        with self._lock:
            if self._nest(run_id, parent_run_id):
                return
            if is_tiered_start(serialized, kwargs):
                self._tiered.add(run_id)
            else:
                hint = (kwargs.get("metadata") or {}).get("ls_model_name")
                if isinstance(hint, str):
                    self._hints[run_id] = hint

    def on_chain_start(
        self,
        serialized: dict[str, Any] | None,
        inputs: dict[str, Any],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        """Follow wrappers (e.g. ``with_fallbacks``) a tier model may run inside."""
        with self._lock:
            self._nest(run_id, parent_run_id)

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """Forget a finished nested run."""
        with self._lock:
            self._inside.discard(run_id)

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """Forget a failed nested run."""
        self.on_chain_end(None, run_id=run_id)

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        """Count one answered call: a tiered one from its metadata, a plain one from prices."""
        message = chat_answer(response)
        with self._lock:
            if run_id in self._inside:
                self._inside.discard(run_id)
                return
            self._tiered.discard(run_id)
            hint = self._hints.pop(run_id, None)
            if message is None:  # not a chat answer: nothing to count
                return
            meta = message.response_metadata.get("tiered")
            if isinstance(meta, dict):
                self._add_tiered(meta, message, run_id)
            else:
                self._add_plain(message, run_id, hint)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """Count a budget or cap refusal, or a stream dropped after its ``tiered`` chunk.

        Other failed calls are counted from their events: what a failed request was
        charged (``tiered.unknown_outcome``) and how a stream stopped early was settled
        (``tiered.settled``).
        """
        response = kwargs.get("response")
        message = chat_answer(response) if isinstance(response, LLMResult) else None
        with self._lock:
            if run_id in self._inside:
                self._inside.discard(run_id)
                return
            was_tiered = run_id in self._tiered
            self._tiered.discard(run_id)
            self._hints.pop(run_id, None)
            if isinstance(error, BudgetExceededError):
                self.refusals += 1
                if error.tier:
                    self.by_tier.setdefault(error.tier, CostStats()).refusals += 1
            meta = message.response_metadata.get("tiered") if message is not None else None
            if was_tiered and message is not None and isinstance(meta, dict):
                # The caller stopped reading after the closing chunk: settled normally.
                self._add_tiered(meta, message, run_id)

    def on_custom_event(self, name: str, data: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """Keep routing and fallback decisions (bounded; oldest dropped first).

        Two events carry money no answer reports: ``tiered.unknown_outcome`` (a request
        that failed after it was sent, charged at its worst case) and ``tiered.settled``
        (a stream cut or abandoned before its closing chunk); both are counted here.
        """
        if not name.startswith("tiered."):
            return
        with self._lock:
            self._events.append({"name": name, "data": data, "run_id": str(run_id)})
            if name == "tiered.unknown_outcome" and isinstance(data, Mapping):
                self._add_unknown(str(data.get("tier") or ""), float(data.get("cost_usd") or 0))
            elif name == "tiered.settled" and isinstance(data, Mapping):
                meta = data.get("metadata") or {}
                usage = data.get("usage") or None
                stand_in = AIMessage(content="", usage_metadata=usage)
                self._add_tiered(meta, stand_in, run_id)

    # -- tallying (called with the lock held) ---------------------------------------------

    def _nest(self, run_id: UUID, parent: UUID | None) -> bool:
        """Mark ``run_id`` ignored if it runs under a tiered run; say whether it does."""
        if parent is None or (parent not in self._tiered and parent not in self._inside):
            return False
        self._inside.add(run_id)
        return True

    def _add_tiered(self, meta: Mapping[str, Any], message: AIMessage, run_id: UUID) -> None:
        tier = str(meta.get("tier") or "")
        model = str(meta.get("model_name") or tier)
        tokens = meta.get("billed_tokens")
        if meta.get("cost_is_estimate") or not isinstance(tokens, Mapping):
            # Settled from real usage, the engine hands its reading over; else read it here.
            tokens = usage_tokens(message.usage_metadata, message.response_metadata)
        self.calls += 1
        cost = float(meta.get("cost_usd") or 0.0)
        if is_cache_hit(meta, message, run_id):
            # A replayed answer: no provider call, no pre-flight, nothing billed.
            self.cache_hits += 1
            self.avoided_cost_usd += cost
            for stats in (self._tier(tier), self._model(model)):
                stats.add({}, 0.0)
            return
        self.total_cost_usd += cost
        self.estimated_cost_usd += float(meta.get("estimated_cost_usd") or 0.0)
        baseline = meta.get("baseline_cost_usd")
        if baseline is not None:
            self.baseline_cost_usd += float(baseline)
            self._baseline_actual += cost
        fallback = bool(meta.get("fallback_triggered"))
        self.fallbacks += fallback
        # A cascade's steps each count on their own tier (billed tokens: the last step's).
        for name, step_model, share, last in step_shares(meta, tier, model, cost):
            for stats in (self._tier(name), self._model(step_model)):
                stats.add(tokens if last else {}, share)
                if last:
                    stats.fallbacks += fallback
                    stats.add_timing(meta)

    def _add_unknown(self, tier: str, cost: float) -> None:
        self.unknown_outcomes += 1
        self.unknown_outcome_usd += cost
        self.total_cost_usd += cost
        stats = self._tier(tier)
        if stats.cost_usd is not None:
            stats.cost_usd += cost

    def _add_plain(self, message: AIMessage, run_id: UUID, hint: str | None) -> None:
        rm = message.response_metadata
        model = str(rm.get("model_name") or rm.get("model") or hint or "unknown")
        usage = message.usage_metadata
        tokens = usage_tokens(usage, rm)
        cost = self._price(model, usage, rm)
        self.calls += 1
        if is_replay(usage):
            self.cache_hits += 1
            self.avoided_cost_usd += cost or 0.0
            self._model(model).add({}, 0.0)
            return
        if cost is None:
            self.unpriced_calls += 1
            self.unpriced_models.add(model)
        else:
            self.total_cost_usd += cost
        self._model(model).add(tokens, cost)

    def _price(
        self, model: str, usage: Mapping[str, Any] | None, raw: Mapping[str, Any]
    ) -> float | None:
        if not usage:
            return None  # without usage the cost is unknown, not zero
        if self._book is None:
            self._book = PriceBook.default()
        info = self._book.lookup(model)
        # Raw provider usage (DeepSeek cache hits) and the service tier (flex/priority) in
        # response_metadata complete what usage_metadata says, as for tiered calls.
        return None if info is None else info.price.cost(usage, response_metadata=raw)

    def _tier(self, name: str) -> CostStats:
        return self.by_tier.setdefault(name, CostStats())

    def _model(self, name: str) -> CostStats:
        return self.by_model.setdefault(name, CostStats())


# One configure hook per nesting depth, registered once: LangChain keeps every registered
# hook forever and consults each one on every run, so a hook per ``with`` block (as
# langchain-core's own ``get_usage_metadata_callback`` does) would leak and slow every later
# call. Depth 0 serves every non-nested block; a nested block takes the next free slot so
# the outer handler keeps counting too.
_SLOTS: list[ContextVar[TieredCostCallbackHandler | None]] = []
_SLOTS_LOCK = threading.Lock()


def _free_slot() -> ContextVar[TieredCostCallbackHandler | None]:
    for var in _SLOTS:
        if var.get() is None:
            return var
    with _SLOTS_LOCK:
        var = ContextVar(f"tiered_cost_callback_{len(_SLOTS)}", default=None)
        register_configure_hook(var, inheritable=True)
        _SLOTS.append(var)
        return var


_free_slot()  # the one hook most programs ever need, registered at import


@contextmanager
def get_tiered_cost_callback(
    name: str = "tiered_cost_callback", *, price_book: PriceBook | None = None
) -> Generator[TieredCostCallbackHandler, None, None]:
    """Track the cost of every chat-model call made inside the ``with`` block.

    Works across threads started by LangChain (``batch``) and across ``await`` (the
    handler travels in a context variable that asyncio tasks inherit). Blocks may nest:
    each handler sees the calls made inside its own block. Entering a block registers
    nothing with LangChain (the hook is registered once, at import).

    Args:
        name: Kept for compatibility with ``get_usage_metadata_callback``; unused.
        price_book: Prices for chat models used outside a ``TieredChatModel``.

    Yields:
        The handler collecting the totals.

    Example:
        ```python
        with get_tiered_cost_callback() as cb:
            chain.invoke({"question": "..."})
        print(cb.total_cost_usd, cb.by_tier["budget"].calls)
        ```
    """
    del name
    var = _free_slot()
    cb = TieredCostCallbackHandler(price_book=price_book)
    token = var.set(cb)
    try:
        yield cb
    finally:
        # Reset even when the block raises, or later calls would keep adding to ``cb``.
        var.reset(token)
