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

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from langchain_tiered.pricing import ModelPrice

__all__ = [
    "CACHE_MIN_TOKENS",
    "CACHE_STEP_TOKENS",
    "SwitchPrice",
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


@dataclass(frozen=True)
class SwitchPrice:
    """What moving a thread to another tier would save and lose (USD).

    Attributes:
        saving_usd: Cost per step here minus there (both cached), times ``steps``.
        cache_loss_usd: The extra the first step there pays because its cache is cold.
        steps: The expected remaining calls of the thread the saving was counted over.
        cached_tokens: The prefix likely cached here (and re-billed there once).
        stay_step_usd: The expected cost of this call if the thread stays.
    """

    saving_usd: float
    cache_loss_usd: float
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

    Returns:
        The saving and the cache loss.
    """
    steps = max(1, steps)
    stay = step_cost(here, prompt_tokens, output_tokens, cached=cached_tokens)
    # Later steps there find the prefix cached as it is here now.
    steady_there = step_cost(there, prompt_tokens, output_tokens, cached=cached_tokens)
    first_there = step_cost(
        there, prompt_tokens, output_tokens, written=cached_tokens if writes_there else 0
    )
    return SwitchPrice(
        saving_usd=(stay - steady_there) * steps,
        cache_loss_usd=max(0.0, first_there - steady_there),
        steps=steps,
        cached_tokens=cached_tokens,
        stay_step_usd=stay,
    )
