"""Pricing a thread's tier change against its prompt cache (pure functions).

A thread that stays on its tier pays the cached price for the history it sent before and the
full price for what each step adds. A thread that follows the router between tiers pays, on
every visit to a tier, the full price for what the history gained since its last visit there
(on Anthropic, the cache-write price). Over the ``steps`` calls a thread is still expected to
make, with the router sending a share ``q`` of them to the cheaper tier and the history
growing by ``g`` tokens per call, following the router beats staying when::

    saving     = steps x q x (a fully cached step here - a fully cached step there)
    cache loss = steps x g x (uncached - cached price there)        # re-billed on each visit
               + what the cheaper tier lacks now beyond that steady gap (a cold start)
    saving > cache loss

(The returns to this tier cost the same as staying here would: either way the growth is billed
here at the full price once.) Every figure is an *estimate* for a decision: which tokens a
provider really reads from its cache is known only from the answer's usage, and a cache miss
bills the full price. Budgets therefore keep reserving the full-price worst case.
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
    "likely_cached",
    "price_switch",
    "router_share",
    "step_cost",
]

CACHE_MIN_TOKENS = 1024
"""Shortest prefix providers cache (OpenAI, Anthropic)."""
CACHE_STEP_TOKENS = 128
"""OpenAI reports cached tokens in steps of 128 past the minimum."""
_MTOK = 1_000_000


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


def router_share(asked: Mapping[str, int], cheaper: Collection[str]) -> float:
    """Share of a thread's calls the router sends to ``cheaper`` tiers (Laplace-smoothed).

    Args:
        asked: The router's decisions on this thread so far, per tier.
        cheaper: The tier the thread would move to and any cheaper ones.

    Returns:
        The estimated share, strictly between 0 and 1.
    """
    total = sum(asked.values())
    down = sum(n for tier, n in asked.items() if tier in cheaper)
    return (down + 1) / (total + 2)


@dataclass(frozen=True)
class SwitchPrice:
    """Staying on a thread's tier versus following the router, over the remaining steps (USD).

    Attributes:
        saving_usd: What following the router saves at cached prices (every step's prompt
            read from the cache, outputs included).
        cache_loss_usd: What following costs extra because caches are cold: history sent
            uncached (or written) to a tier that has not seen it, minus the same for staying.
        steps: The remaining calls the figures cover.
        share: The share of them the router is expected to send to the cheaper tier.
        cached_tokens: The prefix likely cached on the thread's tier now.
    """

    saving_usd: float
    cache_loss_usd: float
    steps: int
    share: float
    cached_tokens: int

    @property
    def worth_it(self) -> bool:
        """Whether the saving over the remaining steps outweighs the cache loss."""
        return self.saving_usd > self.cache_loss_usd


def _visits(share: float, steps: int) -> list[bool]:
    """Which of the remaining steps the router sends there: this one, then evenly at ``share``."""
    out, acc = [True], 0.5
    for _ in range(steps - 1):
        acc += share
        out.append(acc >= 1)
        acc -= 1 if acc >= 1 else 0
    return out


def _parts(
    price: ModelPrice, prompt: int, uncached: int, output: int, *, writes: bool
) -> tuple[float, float]:
    """``(cost if fully cached, extra for the uncached part)`` of one step.

    Plain arithmetic on the flat price that bills a prompt of this size (the same rates as
    :meth:`ModelPrice.cost`; per-request fees are the same for both courses and left out).
    """
    flat = price.resolve(prompt)
    read = flat.cached_input_per_mtok
    read = flat.input_per_mtok if read is None else read
    write = flat.cache_write_per_mtok if writes else None
    sent = flat.input_per_mtok if write is None else write
    cached = prompt * read + output * flat.output_per_mtok
    return cached / _MTOK, uncached * (sent - read) / _MTOK


def price_switch(
    here: ModelPrice,
    there: ModelPrice,
    *,
    prompt_tokens: int,
    cached_tokens: int,
    output_tokens: int,
    growth_tokens: int,
    share: float,
    steps: int,
    warm_there: int = 0,
    writes_there: bool = False,
) -> SwitchPrice:
    """Price following the router from ``here`` to ``there`` against staying ``here``.

    Both courses are played out over the remaining ``steps``: the history grows by
    ``growth_tokens`` per call; staying reads all but the newest part from ``here``'s cache;
    following sends this call and a ``share`` of the later ones ``there``, each visit to a
    tier billing uncached what that tier has not seen yet.

    Args:
        here: The price of the tier the thread is on (its cache is warm there).
        there: The price of the tier the router picked.
        prompt_tokens: This call's prompt.
        cached_tokens: The prefix likely cached here (:func:`likely_cached`).
        output_tokens: Expected output per step (the thread's last answer).
        growth_tokens: Tokens the history grows by per call (the last call's addition).
        share: The share of calls the router sends there (:func:`router_share`).
        steps: Remaining calls, this one included (at least 1).
        warm_there: The part of the prefix still cached there from an earlier stay.
        writes_there: Whether sending there writes the cache (Anthropic ``cache_control``:
            a write premium on top of the full price).

    Returns:
        The saving at cached prices and the cache loss.
    """
    steps = max(1, steps)
    seen = {True: min(warm_there, prompt_tokens), False: cached_tokens}  # True: there
    stay_seen = cached_tokens
    saving = loss = 0.0
    for i, go in enumerate(_visits(share, steps)):
        prompt = prompt_tokens + i * growth_tokens
        price, writes = (there, writes_there) if go else (here, False)
        s_cached, s_extra = _parts(here, prompt, prompt - stay_seen, output_tokens, writes=False)
        f_cached, f_extra = _parts(price, prompt, prompt - seen[go], output_tokens, writes=writes)
        saving += s_cached - f_cached
        loss += f_extra - s_extra
        stay_seen = seen[go] = prompt
    return SwitchPrice(saving, loss, steps, share, cached_tokens)
