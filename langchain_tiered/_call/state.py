"""The state a tiered call reads and produces: resolved runtime, request, selection.

Plain data shared by the plan (:mod:`langchain_tiered._call.plan`), the settlement
(:mod:`langchain_tiered._call.settle`) and the chat model; no policy lives here.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from langchain_tiered._call.tools import Binder, ToolMemo
from langchain_tiered._conversation import EMPTY, Conversation
from langchain_tiered.agents.runs import RunLog
from langchain_tiered.budget import budget_limits

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import BaseMessage

    from langchain_tiered._call.records import Attempt, Skip
    from langchain_tiered._clock import Clock
    from langchain_tiered.agents import ThreadStore
    from langchain_tiered.budget import Budget
    from langchain_tiered.chat_models import TieredChatModel
    from langchain_tiered.fallbacks import ErrorKind, RetryPolicy
    from langchain_tiered.fallbacks.breaker import Cooldowns
    from langchain_tiered.ledger import Ledger, Reservation
    from langchain_tiered.preflight import Preflight, TierProfile
    from langchain_tiered.ratelimit import RateLimiter
    from langchain_tiered.routing import RouteDecision, RouteRequest
    from langchain_tiered.tokens import TokenCounter

__all__ = ["CallRequest", "Runtime", "Selected"]


@dataclass
class Runtime:
    """What the plan reads: the model's settings, and what was resolved from them once.

    Plain settings (``max_cost_per_call``, ``on_budget_exceeded``, ...) are read from
    ``settings``, the model itself; only values derived from them live here.
    """

    settings: TieredChatModel
    profiles: tuple[TierProfile, ...]
    models: Mapping[str, BaseChatModel]
    router: Callable[[RouteRequest], RouteDecision]
    counter: TokenCounter
    breaker: Cooldowns
    limiters: Mapping[str, RateLimiter]
    budgets: tuple[Budget, ...]
    ledger: Ledger | None
    retry: RetryPolicy
    """``settings.retry`` with ``max_retries`` and ``timeout`` applied."""
    fallback_on: frozenset[ErrorKind]
    fallback_overrides: Mapping[str, Sequence[str]]
    rng: random.Random
    identity: Mapping[str, Any]
    """The model's ``_identifying_params`` (fixed configuration, built once)."""
    secrets: tuple[str, ...] = ()
    """The tier models' own API keys, masked wherever error text is stored or raised."""
    tools: ToolMemo = field(default_factory=ToolMemo)
    ledger_warned: bool = False
    """Whether a ledger failure after a paid answer was already warned about."""
    threads: ThreadStore | None = None
    """Agent threads' last tier and usage (``None`` with ``sticky="never"``)."""
    runs: RunLog = field(default_factory=RunLog)
    """Model calls and cost per run (for run budget errors)."""
    last_conversation: Conversation = EMPTY
    """The last call's conversation, which the next call's is compared with."""
    orders: dict[tuple[str, bool], tuple[str, ...]] = field(default_factory=dict)
    """Fallback order per routed tier and ``allow_upgrade`` (``decide.initial_order``)."""
    by_name: dict[str, TierProfile] = field(init=False)
    set_name: str = field(init=False)
    counts_runs: bool = field(init=False)
    """Whether a run budget exists (only its refusals say how many calls a run made)."""

    def __post_init__(self) -> None:
        self.by_name = {p.name: p for p in self.profiles}
        self.set_name = "tiered:" + "|".join(p.name for p in self.profiles)
        self.counts_runs = any(b.scope == "run" for b in self.budgets)

    @property
    def names(self) -> tuple[str, ...]:
        """Tier names, most capable first."""
        return tuple(p.name for p in self.profiles)

    @property
    def clock(self) -> Clock:
        """The model's clock."""
        return self.settings.clock

    def limits_for(self, metadata: Mapping[str, Any]) -> dict[str, float]:
        """Budget keys and limits that apply to a call with this metadata."""
        if not self.budgets:
            return {}
        return budget_limits(self.budgets, metadata, self.clock.now())


@dataclass
class CallRequest:
    """One call as the chat model received it, with the package's own kwargs taken out."""

    messages: list[BaseMessage]
    stop: list[str] | None
    kwargs: dict[str, Any]
    metadata: Mapping[str, Any]
    bind: Binder
    """Gives each tier's runnable (the tools bound), or why the tier cannot take the call."""
    stream: bool = False
    override: str | None = None
    run_id: str | None = None
    """The LangChain run id of the tiered call (spend records carry it)."""
    openai_tools: tuple[dict[str, Any], ...] = ()
    structured_output: bool = False
    thread: str | None = None
    """The agent thread the call belongs to (``agents.threads.call_identity``)."""
    run: str | None = None
    """The top-level run the call belongs to (run budgets)."""
    conversation: Conversation | None = None
    """The messages' unchanged-prefix check, done once for the router and the token memo."""
    listening: bool = False
    """Whether any handler wants the call's custom events (else per-call ones are not built)."""


@dataclass
class Selected:
    """The tier that answered (or opened a stream), with everything needed to settle."""

    profile: TierProfile
    decision: RouteDecision
    pre: Preflight
    reservation: Reservation | None
    budget_keys: tuple[str, ...]
    result: Any
    attempts: list[Attempt]
    skipped: list[Skip]
    call_kwargs: dict[str, Any]
    unknown_outcome_usd: float = 0.0
    """Worst cases charged for earlier attempts of this call whose outcome was unknown."""
    thread: str | None = None
    """The call's agent thread (its state is updated at settlement)."""
    run: str | None = None
    """The call's top-level run."""

    @property
    def routed(self) -> str:
        """The tier the router (or an override) picked."""
        return self.decision.tier
