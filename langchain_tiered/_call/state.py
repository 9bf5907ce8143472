"""The state a tiered call reads and produces: resolved runtime, request, selection.

Plain data shared by the plan (:mod:`langchain_tiered._call.plan`), the settlement
(:mod:`langchain_tiered._call.settle`) and the chat model; no policy lives here.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import BaseMessage

    from langchain_tiered._clock import Clock
    from langchain_tiered.budget import Budget
    from langchain_tiered.fallbacks import CircuitBreaker, ErrorKind, RetryPolicy
    from langchain_tiered.ledger import Ledger, Reservation
    from langchain_tiered.preflight import Preflight, TierProfile
    from langchain_tiered.ratelimit import TierRateLimiter
    from langchain_tiered.routing import RouteDecision
    from langchain_tiered.tokens import TokenCounter

__all__ = ["CallRequest", "Runtime", "Selected"]

_MEMO_LIMIT = 256  # bound on per-binding memos (tool lists are few per process)


@dataclass
class Runtime:
    """Resolved, per-model state the plan reads (built once by the chat model)."""

    profiles: tuple[TierProfile, ...]
    models: Mapping[str, BaseChatModel]
    router: Any
    counter: TokenCounter
    clock: Clock
    breaker: CircuitBreaker
    limiters: Mapping[str, TierRateLimiter]
    budgets: tuple[Budget, ...]
    ledger: Ledger | None
    retry: RetryPolicy
    fallback_on: frozenset[ErrorKind]
    max_cost_per_call: float | None = None
    on_budget_exceeded: str = "downgrade"
    cap_output_to_budget: bool = False
    min_output_tokens: int = 256
    refusal_tier: str | None = None
    allow_upgrade: bool = True
    fallback_overrides: Mapping[str, Sequence[str]] = field(default_factory=dict)
    rate_limit_max_wait: float = 0.0
    reservation_ttl: float = 600.0
    rng: random.Random = field(default_factory=random.Random)
    identity: Mapping[str, Any] = field(default_factory=dict)
    """The model's ``_identifying_params`` (fixed configuration, built once)."""
    by_name: dict[str, TierProfile] = field(init=False)
    set_name: str = field(init=False)
    _tool_cache: dict[int, tuple[Any, tuple[dict[str, Any], ...]]] = field(
        init=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        self.by_name = {p.name: p for p in self.profiles}
        self.set_name = "tiered:" + "|".join(p.name for p in self.profiles)

    @property
    def names(self) -> tuple[str, ...]:
        """Tier names, most capable first."""
        return tuple(p.name for p in self.profiles)

    def limits_for(self, metadata: Mapping[str, Any]) -> dict[str, float]:
        """Budget keys and limits that apply to a call with this metadata."""
        if not self.budgets:
            return {}
        from langchain_tiered.budget import budget_limits  # noqa: PLC0415

        return budget_limits(self.budgets, metadata, self.clock.now())

    def openai_tools(self, tools: Sequence[Any] | None) -> tuple[dict[str, Any], ...]:
        """Bound tools in OpenAI format (for routing and counting), memoized per binding."""
        if not tools:
            return ()
        cached = self._tool_cache.get(id(tools))
        if cached is not None and cached[0] is tools:
            return cached[1]
        from langchain_core.utils.function_calling import convert_to_openai_tool  # noqa: PLC0415

        converted = tuple(convert_to_openai_tool(t) for t in tools)
        if len(self._tool_cache) > _MEMO_LIMIT:
            self._tool_cache.clear()
        self._tool_cache[id(tools)] = (tools, converted)
        return converted


@dataclass
class CallRequest:
    """One call as the chat model received it, with the package's own kwargs taken out."""

    messages: list[BaseMessage]
    stop: list[str] | None
    kwargs: dict[str, Any]
    metadata: Mapping[str, Any]
    stream: bool = False
    override: str | None = None
    tools: Sequence[Any] | None = None
    tool_choice: Any = None
    openai_tools: tuple[dict[str, Any], ...] = ()
    structured_output: bool = False
    bind: Any = None
    """Callable ``(tier_name) -> (runnable | None, reason)`` giving the tier's runnable."""


@dataclass
class Selected:
    """The tier that answered (or opened a stream), with everything needed to settle."""

    profile: TierProfile
    decision: RouteDecision
    routed: str
    pre: Preflight
    reservation: Reservation | None
    budget_keys: tuple[str, ...]
    result: Any
    attempts: list[dict[str, Any]]
    skipped: list[dict[str, Any]]
    call_kwargs: dict[str, Any]
