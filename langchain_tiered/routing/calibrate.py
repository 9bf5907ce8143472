"""Calibrate a scoring router: thresholds from score quantiles on a sample of prompts.

Default thresholds cut the score range evenly, which says nothing about how many calls each
tier gets on *your* traffic. :func:`calibrate` scores a sample of your prompts and puts each
cut-off between the quantiles that give the wanted share per tier; :func:`calibrate_for_cost`
searches the shares that keep the expected cost per 1,000 calls under a target. Both return a
router of the same kind (``router.with_thresholds(...)``); prompts of the same kind then land
within a few points of those shares (the router's score is continuous, so quantiles exist).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from langchain_core.messages import HumanMessage

from langchain_tiered.routing.base import RouteRequest, tier_index
from langchain_tiered.routing.evaluate import RoutingExample

__all__ = ["ScoringRouter", "calibrate", "calibrate_for_cost", "expected_cost_per_1k", "shares_of"]

_R = TypeVar("_R", bound="ScoringRouter")
_SHARE_TOLERANCE = 1e-6
_GAP = 1e-9  # keeps cut-offs strictly descending when wanted shares are zero or scores tie


class ScoringRouter(Protocol):
    """A router whose score can be read and whose thresholds can be replaced."""

    def score(self, request: RouteRequest) -> float:
        """Score in ``[0, 1]``; higher needs a more capable tier."""
        ...

    def with_thresholds(self: _R, thresholds: Sequence[float] | None) -> _R:
        """A copy with other cut-offs."""
        ...


Prompt = str | RoutingExample | RouteRequest


def _request(prompt: Prompt) -> RouteRequest:
    if isinstance(prompt, RouteRequest):
        return prompt
    text = prompt.prompt if isinstance(prompt, RoutingExample) else prompt
    return RouteRequest(messages=(HumanMessage(text),), tiers=("strong", "weak"))


def _scores(router: ScoringRouter, prompts: Iterable[Prompt]) -> list[float]:
    if not callable(getattr(router, "score", None)) or not callable(
        getattr(router, "with_thresholds", None)
    ):
        msg = (
            f"{type(router).__name__} has no score()/with_thresholds(); calibrate a "
            "ComplexityRouter or LearnedRouter (or any router with both methods)"
        )
        raise TypeError(msg)
    scores = [router.score(_request(p)) for p in prompts]
    if not scores:
        msg = "calibrate needs at least one prompt"
        raise ValueError(msg)
    return scores


def thresholds_for_shares(scores: Sequence[float], shares: Sequence[float]) -> tuple[float, ...]:
    """Cut-offs that give each tier (most capable first) its share of ``scores``.

    Raises:
        ValueError: Fewer than two shares, a negative share, or shares not summing to 1.
    """
    if len(shares) < 2 or any(s < 0 for s in shares):  # noqa: PLR2004 -- one tier needs no cut
        msg = f"shares must be one non-negative share per tier (2 or more), got {list(shares)}"
        raise ValueError(msg)
    if abs(sum(shares) - 1.0) > _SHARE_TOLERANCE:
        msg = f"shares must sum to 1 (most capable tier first), got {sum(shares):.4f}"
        raise ValueError(msg)
    ranked = sorted(scores, reverse=True)
    n = len(ranked)
    cuts: list[float] = []
    above = 0.0
    for share in shares[:-1]:
        above += share
        k = round(above * n)  # how many scores must reach this cut-off
        if k <= 0:
            cut = (ranked[0] + 1.0) / 2 if ranked[0] < 1.0 else 1.0
        elif k >= n:
            cut = ranked[-1] / 2
        else:
            cut = (ranked[k - 1] + ranked[k]) / 2
        if cuts and cut >= cuts[-1]:
            cut = cuts[-1] - _GAP
        cuts.append(min(1.0, max(0.0, cut)))
    return tuple(cuts)


def calibrate(router: _R, prompts: Iterable[Prompt], *, shares: Sequence[float]) -> _R:
    """Return ``router`` with thresholds that give ``shares`` of ``prompts`` to each tier.

    Example:
        ``calibrate(ComplexityRouter(), sample, shares=[0.2, 0.3, 0.5])`` sends the 20% of
        the sample that scores highest to the first (most capable) tier, the next 30% to the
        second and the rest to the third.

    Args:
        router: A :class:`ComplexityRouter`, :class:`LearnedRouter` or any
            :class:`ScoringRouter`.
        prompts: Sample of real prompts: strings, :class:`RoutingExample` or
            :class:`RouteRequest` objects (requests keep tools and token counts).
        shares: Wanted share per tier, most capable first, summing to 1.
    """
    cuts = thresholds_for_shares(_scores(router, prompts), shares)
    return router.with_thresholds(cuts)


def shares_of(router: ScoringRouter, prompts: Iterable[Prompt], n_tiers: int) -> list[float]:
    """Share of ``prompts`` each of ``n_tiers`` tiers gets from ``router`` (most capable first)."""
    cuts = _cuts(router, n_tiers)
    scores = _scores(router, prompts)
    counts = [0] * n_tiers
    for score in scores:
        counts[tier_index(score, cuts)] += 1
    return [c / len(scores) for c in counts]


def _cuts(router: Any, n_tiers: int) -> tuple[float, ...]:
    from langchain_tiered.routing.base import default_thresholds  # noqa: PLC0415

    cuts = getattr(router, "thresholds", None)
    return tuple(cuts) if cuts is not None else default_thresholds(n_tiers)


def _per_prompt_costs(
    prompts: Sequence[Prompt], prices: Sequence[Any], output_tokens: int
) -> list[list[float]]:
    from langchain_tiered.tokens import count_tokens  # noqa: PLC0415 -- tiktoken is heavy

    costs = []
    for prompt in prompts:
        request = _request(prompt)
        tokens = request.token_count or count_tokens(list(request.messages))
        costs.append([p.worst_case(tokens, output_tokens) for p in prices])
    return costs


def expected_cost_per_1k(
    router: ScoringRouter,
    prompts: Sequence[Prompt],
    prices: Sequence[Any] | Mapping[str, Any],
    *,
    output_tokens: int = 300,
) -> float:
    """Expected USD per 1,000 calls like ``prompts`` under ``router``'s thresholds.

    Args:
        router: The router.
        prompts: A sample of prompts.
        prices: One :class:`~langchain_tiered.ModelPrice` per tier, most capable first (a
            mapping tier name -> price keeps its order).
        output_tokens: Assumed answer length per call (tokens).
    """
    price_list = list(prices.values()) if isinstance(prices, Mapping) else list(prices)
    costs = _per_prompt_costs(prompts, price_list, output_tokens)
    return _per_1k(_scores(router, prompts), costs, _cuts(router, len(price_list)))


def _per_1k(
    scores: Sequence[float], costs: Sequence[Sequence[float]], cuts: tuple[float, ...]
) -> float:
    """USD per 1,000 calls when each prompt goes to the tier its score reaches under ``cuts``."""
    return (
        1000 * sum(c[tier_index(s, cuts)] for s, c in zip(scores, costs, strict=True)) / len(costs)
    )


def calibrate_for_cost(
    router: _R,
    prompts: Sequence[Prompt],
    *,
    prices: Sequence[Any] | Mapping[str, Any],
    usd_per_1k_calls: float,
    output_tokens: int = 300,
) -> _R:
    """Return ``router`` with the thresholds that spend at most the target on ``prompts``.

    The search runs along one line of shares: the cheapest tier gets ``1 - a`` and every
    other tier ``a / (n - 1)``; ``a`` is the largest value (bisection, 30 steps) whose
    expected cost stays within ``usd_per_1k_calls``. Scores decide *which* prompts go up, so
    the budget is spent on the prompts that need it most.

    Args:
        router: A scoring router (see :func:`calibrate`).
        prompts: A sample of prompts.
        prices: One price per tier, most capable first (``ModelPrice``; a mapping keeps order).
        usd_per_1k_calls: Target expected cost per 1,000 calls.
        output_tokens: Assumed answer length per call (tokens).

    Raises:
        ValueError: Even sending everything to the cheapest tier costs more than the target
            (the message gives that floor).
    """
    price_list = list(prices.values()) if isinstance(prices, Mapping) else list(prices)
    prompts = list(prompts)
    scores = _scores(router, prompts)
    costs = _per_prompt_costs(prompts, price_list, output_tokens)
    n = len(price_list)

    def cost_at(up: float) -> tuple[float, tuple[float, ...]]:
        cuts = thresholds_for_shares(scores, [up / (n - 1)] * (n - 1) + [1.0 - up])
        return _per_1k(scores, costs, cuts), cuts

    return router.with_thresholds(_largest_within(cost_at, usd_per_1k_calls))


def _largest_within(
    cost_at: Callable[[float], tuple[float, tuple[float, ...]]], target: float
) -> tuple[float, ...]:
    """Cut-offs of the largest share sent up (bisection, 30 steps) whose cost is <= target."""
    floor, cuts = cost_at(0.0)
    if floor > target:
        msg = (
            f"even the cheapest tier costs ${floor:.4f} per 1,000 such calls, above the target "
            f"${target:.4f}: raise usd_per_1k_calls or lower output_tokens"
        )
        raise ValueError(msg)
    top_cost, top_cuts = cost_at(1.0)
    if top_cost <= target:
        return top_cuts
    low, high = 0.0, 1.0
    for _ in range(30):
        mid = (low + high) / 2
        cost, mid_cuts = cost_at(mid)
        if cost <= target:
            low, cuts = mid, mid_cuts
        else:
            high = mid
    return cuts
