"""Pricing a thread's tier change against its prompt cache (pure functions).

A thread that stays on its tier pays the cached price for the part of the prompt it sent
before; a thread that moves pays the full (and, on Anthropic, the cache-write) price for
that prefix once on the new tier, and the cached price there afterwards. Over the ``steps``
calls the thread is still expected to make, moving is worth it when::

    steps x (cost per step here - cost per step there, both cached)  >  cache loss
    cache loss = first step there uncached - a cached step there

Every figure is an *estimate* for a decision: which tokens a provider really reads from its
cache is known only from the answer's usage, and a cache miss bills the full price. Budgets
therefore keep reserving the full-price worst case (see the README).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from langchain_tiered.pricing import ModelPrice

__all__ = [
    "CACHE_MIN_TOKENS",
    "CACHE_STEP_TOKENS",
    "SwitchPrice",
    "expected_stay",
    "likely_cached",
    "price_switch",
    "step_cost",
]

CACHE_MIN_TOKENS = 1024
"""Shortest prefix providers cache (OpenAI, Anthropic)."""
CACHE_STEP_TOKENS = 128
"""OpenAI reports cached tokens in steps of 128 past the minimum."""


def likely_cached(price: ModelPrice, last_input_tokens: int, prompt_tokens: int) -> int:
    """Prompt tokens likely read from the cache of the tier the thread is on.

    The previous call's prompt is a prefix of this one in an agent loop, and providers cache
    such prefixes from 1,024 tokens in 128-token steps; a price without a cached-input rate
    bills cached tokens at full price, so nothing counts as cached there.

    Args:
        price: The tier's price.
        last_input_tokens: The thread's previous prompt on that tier, from its usage.
        prompt_tokens: This call's prompt, as counted.

    Returns:
        The estimated cached prefix, in tokens.
    """
    if price.cached_input_per_mtok is None:
        return 0
    prefix = min(last_input_tokens, prompt_tokens)
    if prefix < CACHE_MIN_TOKENS:
        return 0
    return CACHE_MIN_TOKENS + (prefix - CACHE_MIN_TOKENS) // CACHE_STEP_TOKENS * CACHE_STEP_TOKENS


def step_cost(
    price: ModelPrice, prompt_tokens: int, output_tokens: int, *, cached: int = 0, written: int = 0
) -> float:
    """Cost of one call with ``cached`` prompt tokens read from and ``written`` written to cache."""
    usage = {
        "input_tokens": prompt_tokens,
        "output_tokens": output_tokens,
        "total_tokens": prompt_tokens + output_tokens,
        "input_token_details": {"cache_read": cached, "cache_creation": written},
    }
    return price.cost(usage)


def expected_stay(asked: Mapping[str, int], more_capable: Collection[str], remaining: int) -> int:
    """Calls a thread is likely to stay on a cheaper tier before the router asks for more.

    The router's decisions on this thread so far estimate how often it asks for a tier more
    capable than the new one; a stay then lasts ``1 / p`` calls on average (Laplace-smoothed:
    two calls with no history), never more than the ``remaining`` calls of the thread.

    Args:
        asked: Router decisions on this thread per tier.
        more_capable: The tiers more capable than the one the thread would move to.
        remaining: Calls the thread is still expected to make, this one included.

    Returns:
        The expected stay, at least 1 call.
    """
    total = sum(asked.values())
    upward = sum(n for tier, n in asked.items() if tier in more_capable)
    return max(1, min(remaining, (total + 2) // (upward + 1)))


@dataclass(frozen=True)
class SwitchPrice:
    """What moving a thread to another tier would save and lose (USD).

    Attributes:
        saving_usd: Cost per step here minus there (both cached), times ``steps``.
        cache_loss_usd: The extra the first step there pays because its cache is cold (the
            part of the prefix not still cached there from an earlier stay).
        back_usd: Of the cache loss, what coming back here is expected to cost (the history
            added meanwhile, billed uncached here once).
        steps: The calls the thread is expected to stay there (the saving counts them).
        cached_tokens: The prefix likely cached here (and re-billed there once).
        stay_step_usd: The expected cost of this call if the thread stays.
    """

    saving_usd: float
    cache_loss_usd: float
    back_usd: float
    steps: int
    cached_tokens: int
    stay_step_usd: float

    @property
    def worth_it(self) -> bool:
        """Whether the saving over the remaining steps outweighs the cache loss."""
        return self.saving_usd > self.cache_loss_usd


def price_switch(
    here: ModelPrice,
    there: ModelPrice,
    *,
    prompt_tokens: int,
    cached_tokens: int,
    output_tokens: int,
    steps: int,
    writes_there: bool,
    warm_there: int = 0,
    growth_tokens: int = 0,
    comes_back: bool = False,
) -> SwitchPrice:
    """Price moving a thread from ``here`` to ``there`` for its remaining ``steps`` calls.

    Args:
        here: The price of the tier the thread is on (its cache is warm there).
        there: The price of the tier the router picked.
        prompt_tokens: This call's prompt.
        cached_tokens: The prefix likely cached here (:func:`likely_cached`).
        output_tokens: Expected output per step (the thread's last answer).
        steps: Expected remaining calls, this one included (at least 1).
        writes_there: Whether the first call there writes the cache (Anthropic
            ``cache_control``: a write premium on top of the full price).
        warm_there: The part of the prefix still cached there from an earlier stay.
        growth_tokens: Tokens the history grows by per call (the last call's addition).
        comes_back: Whether the router is expected to ask for this tier again before the
            thread ends: the history added meanwhile is then billed uncached here once.

    Returns:
        The saving and the cache loss.
    """
    steps = max(1, steps)
    stay = step_cost(here, prompt_tokens, output_tokens, cached=cached_tokens)
    # Later steps there find the prefix cached as it is here now.
    steady_there = step_cost(there, prompt_tokens, output_tokens, cached=cached_tokens)
    warm = min(warm_there, cached_tokens)
    cold = cached_tokens - warm
    first_there = step_cost(
        there, prompt_tokens, output_tokens, cached=warm, written=cold if writes_there else 0
    )
    added = growth_tokens * steps if comes_back else 0
    back = step_cost(here, added, 0) - step_cost(here, added, 0, cached=added)
    return SwitchPrice(
        saving_usd=(stay - steady_there) * steps,
        cache_loss_usd=max(0.0, first_there - steady_there) + back,
        back_usd=back,
        steps=steps,
        cached_tokens=cached_tokens,
        stay_step_usd=stay,
    )
