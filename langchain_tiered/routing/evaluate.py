"""Measure a router on labelled prompts: APGR, CPT(x), the quality/cost curve, shares.

The metrics follow RouteLLM (arXiv 2406.18665). Every prompt has a quality for a *strong* and
a *weak* model (correctness 0/1 or a judge score). Sort the prompts by the router's score,
highest first (most in need of the strong model), send the top share ``x`` to the strong model
and the rest to the weak one, and read the mean quality. ``PGR(x)`` is the fraction of the
strong-weak gap recovered at ``x``; **APGR** is the area under ``PGR`` over ``x`` in ``[0, 1]``
(a random router scores exactly 0.5) and **CPT(p)** the share of strong calls needed to
recover ``p`` of the gap (random: ``p``).

Prompts with equal scores enter as one group: within it the curve is the expected value of
random tie-breaking (a straight line), so a router with few distinct scores is not flattered
(or punished) by the order its ties happen to come in. Between group boundaries the curve is
linear, so the trapezoid area over the boundaries is exact.

Pure Python: no numpy needed to evaluate.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from langchain_core.messages import HumanMessage

from langchain_tiered.routing.base import RouteDecision, Router, RouteRequest

__all__ = [
    "OperatingPoint",
    "RouterReport",
    "RoutingExample",
    "evaluate_router",
    "evaluate_scores",
    "route_all",
]


@dataclass(frozen=True)
class RoutingExample:
    """One labelled prompt: how well each model (or tier) answered it.

    Example:
        ``RoutingExample("What is 17 * 23?", {"strong": 1.0, "weak": 0.0}, category="math")``
    """

    prompt: str
    """The user's request (the last human message)."""
    quality: Mapping[str, float]
    """Tier name (or ``"strong"``/``"weak"``) -> score of its answer, e.g. 0/1 or a judge grade."""
    category: str | None = None
    """Optional label for per-category shares (``"math"``, ``"mmlu:anatomy"``, ...)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "quality", MappingProxyType(dict(self.quality)))

    def to_dict(self) -> dict[str, Any]:
        """The simple JSONL form: ``{"prompt", "quality", "category"}``."""
        data: dict[str, Any] = {"prompt": self.prompt, "quality": dict(self.quality)}
        if self.category is not None:
            data["category"] = self.category
        return data


@dataclass(frozen=True)
class OperatingPoint:
    """Where the router's own thresholds put it on the curve."""

    share: float
    """Share of prompts its thresholds send to the most capable tier."""
    quality: float
    """Mean quality when those prompts get the strong model and the rest the weak one."""
    pgr: float
    """Fraction of the strong-weak gap recovered there."""


@dataclass(frozen=True)
class RouterReport:
    """Routing quality of one router on one labelled set (see the module docstring)."""

    name: str
    """Label for tables and plots."""
    n: int
    """Number of prompts."""
    apgr: float
    """Area under the PGR curve: 0.5 for a random router, higher is better."""
    oracle_apgr: float
    """APGR of an oracle that knows each prompt's gain: the ceiling on this data (below 1.0
    when the weak model fails on a noticeable share, since even the oracle needs that share)."""
    quality_strong: float
    """Mean quality if every prompt went to the strong model."""
    quality_weak: float
    """Mean quality if every prompt went to the weak model."""
    curve: tuple[tuple[float, float], ...]
    """``(share sent to strong, PGR)`` at each tie-group boundary, ``(0, 0)`` to ``(1, 1)``."""
    distinct_scores: int
    """How many different scores the router gave (few means many ties)."""
    tier_shares: Mapping[str, float] = field(default_factory=dict)
    """Share of prompts per tier at the router's own thresholds."""
    category_shares: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    """Category -> tier -> share, at the router's own thresholds."""
    operating_point: OperatingPoint | None = None
    """The router's own thresholds on the curve; ``None`` if it gave no tiers."""

    @property
    def normalized_apgr(self) -> float:
        """``(apgr - 0.5) / (oracle_apgr - 0.5)``: 0 for random, 1.0 for the oracle."""
        span = self.oracle_apgr - 0.5
        return (self.apgr - 0.5) / span if span > 0 else 0.0

    def pgr(self, share: float) -> float:
        """PGR when the top ``share`` of prompts go to the strong model (linear in tie groups)."""
        share = min(1.0, max(0.0, share))
        for (x0, y0), (x1, y1) in itertools.pairwise(self.curve):
            if share <= x1:
                return y0 if x1 == x0 else y0 + (y1 - y0) * (share - x0) / (x1 - x0)
        return self.curve[-1][1]

    def quality(self, share: float) -> float:
        """Mean quality when the top ``share`` of prompts go to the strong model."""
        return self.quality_weak + self.pgr(share) * (self.quality_strong - self.quality_weak)

    def cpt(self, target: float) -> float:
        """Call-performance threshold: least share of strong calls whose PGR reaches ``target``.

        Args:
            target: Fraction of the gap to recover, e.g. ``0.5`` for CPT(50%).
        """
        for (x0, y0), (x1, y1) in itertools.pairwise(self.curve):
            if y1 >= target:
                if y0 >= target or y1 == y0:
                    return x0
                return x0 + (x1 - x0) * (target - y0) / (y1 - y0)
        return 1.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary (the curve is left out; it can be long)."""
        point = self.operating_point
        return {
            "name": self.name,
            "n": self.n,
            "apgr": round(self.apgr, 4),
            "oracle_apgr": round(self.oracle_apgr, 4),
            "cpt50": round(self.cpt(0.5), 4),
            "cpt80": round(self.cpt(0.8), 4),
            "quality_strong": round(self.quality_strong, 4),
            "quality_weak": round(self.quality_weak, 4),
            "distinct_scores": self.distinct_scores,
            "tier_shares": {k: round(v, 4) for k, v in self.tier_shares.items()},
            "operating_point": None
            if point is None
            else {"share": round(point.share, 4), "pgr": round(point.pgr, 4)},
        }

    def summary(self) -> str:
        """One line: ``name: APGR 0.62 (random 0.50, oracle 0.85), CPT(50%) 38%, ...``."""
        text = (
            f"{self.name}: APGR {self.apgr:.2f} (random 0.50, oracle {self.oracle_apgr:.2f}), "
            f"CPT(50%) {self.cpt(0.5):.0%}, CPT(80%) {self.cpt(0.8):.0%}, n={self.n}"
        )
        point = self.operating_point
        if point is not None:
            text += f"; own thresholds: {point.share:.0%} strong, PGR {point.pgr:.2f}"
        return text


def _gains(examples: Sequence[RoutingExample], strong: str, weak: str) -> list[tuple[float, float]]:
    """``(weak quality, strong - weak)`` per example; a missing label names what to add."""
    out = []
    for i, example in enumerate(examples):
        try:
            q_strong, q_weak = float(example.quality[strong]), float(example.quality[weak])
        except KeyError as exc:
            msg = (
                f"example {i} has no quality for {exc.args[0]!r} (it has "
                f"{sorted(example.quality)}); pass strong=/weak= naming keys every example has"
            )
            raise ValueError(msg) from None
        out.append((q_weak, q_strong - q_weak))
    return out


def _curve(scores: Sequence[float], gains: Sequence[float]) -> tuple[tuple[float, float], ...]:
    total = sum(gains)
    if not total > 0:
        msg = (
            "the strong model is not better than the weak one on these examples on average "
            f"(mean gain {total / max(1, len(gains)):+.3f}): PGR is undefined; check strong=/weak="
        )
        raise ValueError(msg)
    n = len(scores)
    order = sorted(range(n), key=lambda i: -scores[i])
    points = [(0.0, 0.0)]
    count, gained = 0, 0.0
    for _, group in itertools.groupby(order, key=lambda i: scores[i]):
        members = list(group)
        count += len(members)
        gained += sum(gains[i] for i in members)
        points.append((count / n, gained / total))
    return tuple(points)


def _area(curve: Sequence[tuple[float, float]]) -> float:
    return sum((x1 - x0) * (y0 + y1) / 2 for (x0, y0), (x1, y1) in itertools.pairwise(curve))


def evaluate_scores(
    scores: Sequence[float],
    examples: Sequence[RoutingExample],
    *,
    strong: str = "strong",
    weak: str = "weak",
    name: str = "router",
    routed: Sequence[str] | None = None,
    top_tier: str | Sequence[str] | None = None,
) -> RouterReport:
    """Report on precomputed scores (higher = needs the strong model more).

    Args:
        scores: One score per example.
        examples: The labelled prompts.
        strong: Quality key of the strong model.
        weak: Quality key of the weak model.
        name: Label for the report.
        routed: The tier each example was routed to, for shares and the operating point.
        top_tier: The tier (or tiers) in ``routed`` that count as the strong model (default
            ``strong``); the rest count as the weak one.

    Raises:
        ValueError: Lengths differ, a label is missing, or the strong model is not better.
    """
    if len(scores) != len(examples) or not examples:
        msg = f"need one score per example and at least one example, got {len(scores)} scores"
        raise ValueError(msg)
    pairs = _gains(examples, strong, weak)
    gains = [g for _, g in pairs]
    curve = _curve(scores, gains)
    n = len(examples)
    q_weak = sum(w for w, _ in pairs) / n
    return RouterReport(
        name=name,
        n=n,
        apgr=_area(curve),
        oracle_apgr=_area(_curve(gains, gains)),
        quality_strong=q_weak + sum(gains) / n,
        quality_weak=q_weak,
        curve=curve,
        distinct_scores=len(set(scores)),
        **_shares(examples, pairs, routed, _as_set(top_tier or strong)) if routed else {},
    )


def _shares(
    examples: Sequence[RoutingExample],
    pairs: Sequence[tuple[float, float]],
    tiers: Sequence[str],
    top: frozenset[str],
) -> dict[str, Any]:
    n = len(examples)
    counts = Counter(tiers)
    by_category: dict[str, Counter[str]] = defaultdict(Counter)
    for example, tier in zip(examples, tiers, strict=True):
        by_category[example.category or "-"][tier] += 1
    sent = [i for i, tier in enumerate(tiers) if tier in top]
    total = sum(g for _, g in pairs)
    recovered = sum(pairs[i][1] for i in sent)
    q_weak = sum(w for w, _ in pairs) / n
    return {
        "tier_shares": {tier: counts[tier] / n for tier in dict.fromkeys(tiers)},
        "category_shares": {
            cat: {tier: c / sum(cnt.values()) for tier, c in cnt.items()}
            for cat, cnt in sorted(by_category.items())
        },
        "operating_point": OperatingPoint(
            share=len(sent) / n, quality=q_weak + recovered / n, pgr=recovered / total
        ),
    }


def _as_set(tiers: str | Sequence[str]) -> frozenset[str]:
    return frozenset((tiers,) if isinstance(tiers, str) else tiers)


def route_all(
    router: Router | Callable[[RouteRequest], RouteDecision],
    prompts: Iterable[str],
    tiers: Sequence[str],
) -> list[RouteDecision]:
    """Route each prompt (as a single human message) over ``tiers``."""
    tiers = tuple(tiers)
    return [router(RouteRequest(messages=(HumanMessage(p),), tiers=tiers)) for p in prompts]


def decision_score(decision: RouteDecision, tiers: Sequence[str]) -> float:
    """The decision's score, or its tier's rank in ``[0, 1]`` (1 = most capable) if it has none."""
    if decision.score is not None:
        return decision.score
    if len(tiers) < 2:  # noqa: PLR2004 -- one tier has no rank
        return 0.0
    return 1.0 - tiers.index(decision.tier) / (len(tiers) - 1)


def evaluate_router(
    router: Router,
    examples: Sequence[RoutingExample],
    *,
    strong: str = "strong",
    weak: str = "weak",
    tiers: Sequence[str] | None = None,
    name: str | None = None,
    strong_tiers: Sequence[str] | None = None,
) -> RouterReport:
    """Route every example's prompt and report APGR, CPT, the curve and the shares.

    Args:
        router: Any router; its ``RouteDecision.score`` orders the prompts (a router without
            scores is ordered by the rank of the tier it picks, ties entered as groups).
        examples: Labelled prompts, e.g. from :func:`read_jsonl`.
        strong: Quality key of the strong model.
        weak: Quality key of the weak model.
        tiers: Tier names to route over, most capable first. Default: ``strong``, ``weak`` and
            as many middle tiers as the router's ``thresholds`` need.
        name: Label for the report (default: the router's class name).
        strong_tiers: Tiers whose answers count as the strong model's for the operating point
            (default: the first tier only; ``tiers[:-1]`` reads "anything above the cheapest").

    Returns:
        The report.
    """
    if tiers is None:
        thresholds = getattr(router, "thresholds", None)
        middle = [f"tier{i}" for i in range(1, len(thresholds))] if thresholds else []
        tiers = (strong, *middle, weak)
    tiers = tuple(tiers)
    decisions = route_all(router, (e.prompt for e in examples), tiers)
    return evaluate_scores(
        [decision_score(d, tiers) for d in decisions],
        examples,
        strong=strong,
        weak=weak,
        name=name or type(router).__name__,
        routed=[d.tier for d in decisions],
        top_tier=strong_tiers or tiers[0],
    )
