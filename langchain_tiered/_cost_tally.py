"""Pure pieces of the cost callback: the per-tier/per-model tally and run classification.

:class:`CostStats` is the package's one cost tally (the callback, batch statistics); the
helpers read LangChain callback payloads without touching any handler state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, LLMResult

__all__ = [
    "CostStats",
    "chat_answer",
    "is_cache_hit",
    "is_replay",
    "is_tiered_start",
    "step_shares",
]

_TIERED_TYPE = "tiered-chat-model"


@dataclass
class CostStats:
    """Tallies for one tier or one model.

    Attributes:
        calls: Answered calls, cache hits included.
        input_tokens: Billed prompt tokens (cache hits bill none).
        output_tokens: Billed output tokens.
        cached_tokens: Prompt tokens read from the provider's prompt cache.
        reasoning_tokens: Output tokens spent on reasoning.
        cost_usd: Actual cost in USD; ``None`` once a call of an unpriced model is seen.
        fallbacks: Calls this tier/model answered although the router chose another tier.
        refusals: Calls refused by a budget or cap with this tier considered last.
        latency_s: Summed ``latency_s`` of the tiered calls that carried one (start to
            settlement, retries and fallbacks included); see :attr:`mean_latency_s`.
        timed_calls: How many calls ``latency_s`` sums.
        ttft_s: Summed time to first token of streamed tiered calls.
        streamed_calls: How many calls ``ttft_s`` sums.
    """

    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float | None = 0.0
    fallbacks: int = 0
    refusals: int = 0
    latency_s: float = 0.0
    timed_calls: int = 0
    ttft_s: float = 0.0
    streamed_calls: int = 0

    @property
    def mean_latency_s(self) -> float | None:
        """Mean latency of the timed calls, ``None`` before the first."""
        return self.latency_s / self.timed_calls if self.timed_calls else None

    @property
    def mean_ttft_s(self) -> float | None:
        """Mean time to first token of the streamed calls, ``None`` before the first."""
        return self.ttft_s / self.streamed_calls if self.streamed_calls else None

    def add_timing(self, meta: Mapping[str, Any]) -> None:
        """Add a tiered call's ``latency_s`` and ``ttft_s``, when its metadata has them."""
        latency, ttft = meta.get("latency_s"), meta.get("ttft_s")
        if isinstance(latency, (int, float)):
            self.latency_s += latency
            self.timed_calls += 1
        if isinstance(ttft, (int, float)):
            self.ttft_s += ttft
            self.streamed_calls += 1

    def add(self, tokens: Mapping[str, int], cost: float | None) -> None:
        """Count one call with its billed ``tokens`` (``usage_tokens`` keys) and ``cost``.

        Args:
            tokens: ``input_tokens``, ``output_tokens``, ``cached_tokens`` and
                ``reasoning_tokens`` (missing keys count as 0).
            cost: The call's cost in USD; ``None`` when unknown (the sum becomes unknown).
        """
        self.calls += 1
        self.input_tokens += tokens.get("input_tokens", 0)
        self.output_tokens += tokens.get("output_tokens", 0)
        self.cached_tokens += tokens.get("cached_tokens", 0)
        self.reasoning_tokens += tokens.get("reasoning_tokens", 0)
        if cost is None:
            # One unknown cost makes the sum unknown: a partial sum would read as the whole.
            self.cost_usd = None
        elif self.cost_usd is not None:
            self.cost_usd += cost


def chat_answer(response: LLMResult) -> AIMessage | None:
    for generations in response.generations:
        for generation in generations:
            if isinstance(generation, ChatGeneration) and isinstance(generation.message, AIMessage):
                return generation.message
    return None


def is_tiered_start(serialized: Mapping[str, Any] | None, kwargs: Mapping[str, Any]) -> bool:
    params = kwargs.get("invocation_params") or {}
    metadata = kwargs.get("metadata") or {}
    name = (serialized or {}).get("name")
    return (
        params.get("_type") == _TIERED_TYPE
        or metadata.get("ls_provider") == "tiered"
        or name == "TieredChatModel"
    )


def is_cache_hit(meta: Mapping[str, Any], message: AIMessage, run_id: UUID) -> bool:
    # The cache replays the original message, whose metadata names the original run.
    original = meta.get("run_id")
    if original is not None and original != str(run_id):
        return True
    return is_replay(message.usage_metadata)


def is_replay(usage: Mapping[str, Any] | None) -> bool:
    # LangChain zeroes ``total_cost`` in the usage of every answer it serves from its cache.
    return usage is not None and "total_cost" in usage and usage["total_cost"] == 0


def step_shares(
    meta: Mapping[str, Any], tier: str, model: str, cost: float
) -> list[tuple[str, str, float, bool]]:
    """``(tier, model, cost, last)`` for each tier a tiered call paid, in order.

    A plain call is one share. A cascade pays each step on the tier that answered it (its
    judge calls on the step they graded, as ``steps`` reports them); the last step takes
    what the earlier ones leave of ``cost``, so the shares add up to the call's total.
    """
    steps = meta.get("steps")
    if not isinstance(steps, list) or not steps[:-1]:
        return [(tier, model, cost, True)]
    shares: list[tuple[str, str, float, bool]] = []
    for step in steps[:-1]:
        name = str(step.get("tier") or "")
        shares.append((name, str(step.get("model_name") or name), float(step["cost_usd"]), False))
    last = cost - sum(share[2] for share in shares)
    return [*shares, (tier, model, last, True)]
