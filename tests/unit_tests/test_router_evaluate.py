"""evaluate_router / evaluate_scores: APGR, CPT, tie groups, shares (hand-computed values)."""

from __future__ import annotations

import pytest

from langchain_tiered.routing import (
    RouteDecision,
    RouteRequest,
    RoutingExample,
    evaluate_router,
    evaluate_scores,
)


def ex(prompt: str, strong: float, weak: float, category: str | None = None) -> RoutingExample:
    return RoutingExample(prompt, {"strong": strong, "weak": weak}, category)


# Strong always right; weak wrong on "b" and "d": gain 1 on 2 of 4 prompts.
FOUR = [ex("a", 1, 1), ex("b", 1, 0), ex("c", 1, 1), ex("d", 1, 0)]


def constant(_request: RouteRequest) -> RouteDecision:
    return RouteDecision(tier=_request.tiers[0], reason="same score for all", score=0.5)


def test_random_router_scores_exactly_one_half() -> None:
    # One score for all prompts is one tie group: the expected value of random routing.
    for examples in (FOUR, [ex(str(i), 1, i % 3 == 0) for i in range(101)]):
        report = evaluate_router(constant, examples)
        assert report.apgr == 0.5
        assert report.cpt(0.5) == 0.5
        assert report.cpt(0.8) == pytest.approx(0.8)
        assert report.distinct_scores == 1


def test_oracle_scores_the_ceiling() -> None:
    gains = [e.quality["strong"] - e.quality["weak"] for e in FOUR]
    report = evaluate_scores(gains, FOUR, name="oracle")
    # PGR rises from 0 to 1 over the first half (the two prompts with a gain), then stays 1:
    # area = 0.5 * 0.5 / 2 + 0.5 = 0.75 = 1 - m / (2N) with m = 2 failures of N = 4.
    assert report.apgr == 0.75
    assert report.oracle_apgr == 0.75
    assert report.normalized_apgr == 1.0
    assert report.cpt(0.5) == 0.25
    assert report.cpt(1.0) == 0.5


def test_an_oracle_on_a_large_set_with_rare_failures_approaches_one() -> None:
    examples = [ex(str(i), 1, 0 if i == 0 else 1) for i in range(1000)]
    report = evaluate_scores([1.0] + [0.0] * 999, examples)
    assert report.apgr == pytest.approx(1 - 1 / 2000)
    assert evaluate_scores([0.0] * 999 + [1.0], examples[::-1]).apgr == report.apgr


def test_worst_order_scores_the_floor() -> None:
    report = evaluate_scores([1, 0, 1, 0], FOUR)  # the two prompts without a gain first
    assert report.apgr == 0.25
    assert report.cpt(0.5) == 0.75


def test_ties_enter_as_a_group() -> None:
    # Scores: b alone on top, then a, c, d tied. Curve: (0,0) -> (1/4, 1/2) -> (1, 1).
    report = evaluate_scores([0.2, 0.9, 0.2, 0.2], FOUR)
    assert report.curve == ((0.0, 0.0), (0.25, 0.5), (1.0, 1.0))
    assert report.apgr == pytest.approx(0.25 * 0.5 / 2 + 0.75 * (0.5 + 1.0) / 2)
    # Inside the tie group PGR is linear (expected value of random tie-breaking).
    assert report.pgr(0.625) == pytest.approx(0.75)
    assert report.cpt(0.75) == pytest.approx(0.625)
    assert report.quality(0.25) == pytest.approx(0.5 + 0.5 * 0.5)


def test_graded_qualities_and_weak_wins_count() -> None:
    examples = [ex("x", 0.9, 0.3), ex("y", 0.5, 0.7), ex("z", 0.8, 0.8)]
    report = evaluate_scores([3, 1, 2], examples)
    # Gains 0.6, -0.2, 0 (total 0.4): x first recovers 150% of the gap, y last brings it to 100%.
    flat = [v for point in report.curve for v in point]
    assert flat == pytest.approx([0, 0, 1 / 3, 1.5, 2 / 3, 1.5, 1, 1])
    assert report.quality_strong == pytest.approx(2.2 / 3)
    assert report.quality_weak == pytest.approx(1.8 / 3)


def test_router_report_has_shares_and_operating_point() -> None:
    examples = [
        ex("hard one", 1, 0, "math"),
        ex("hard two", 1, 1, "math"),
        ex("easy", 1, 1, "chat"),
        ex("easy too", 1, 0, "chat"),
    ]

    def by_word(request: RouteRequest) -> RouteDecision:
        hard = "hard" in request.text
        return RouteDecision(tier=request.tiers[0 if hard else 1], reason="", score=float(hard))

    report = evaluate_router(by_word, examples, name="words")
    assert report.name == "words"
    assert report.tier_shares == {"strong": 0.5, "weak": 0.5}
    assert report.category_shares == {"chat": {"weak": 1.0}, "math": {"strong": 1.0}}
    point = report.operating_point
    assert point is not None
    assert (point.share, point.pgr, point.quality) == (0.5, 0.5, 0.75)
    assert report.to_dict()["operating_point"] == {"share": 0.5, "pgr": 0.5}
    assert "own thresholds: 50% strong, PGR 0.50" in report.summary()


def test_router_without_scores_is_ordered_by_tier_rank() -> None:
    def tiers_only(request: RouteRequest) -> RouteDecision:
        return RouteDecision(tier=request.tiers[0 if request.text in "bd" else 1], reason="")

    report = evaluate_router(tiers_only, FOUR)
    assert report.apgr == 0.75  # routes exactly the failures up: the oracle here
    assert report.distinct_scores == 2


def test_default_tiers_follow_the_routers_thresholds() -> None:
    from langchain_tiered.routing import ComplexityRouter

    report = evaluate_router(ComplexityRouter(thresholds=(0.9, 0.5, 0.1)), FOUR)
    assert set(report.tier_shares) <= {"strong", "tier1", "tier2", "weak"}


def test_missing_labels_and_useless_data_are_rejected() -> None:
    with pytest.raises(ValueError, match=r"no quality for 'gpt-4'.*strong=/weak="):
        evaluate_scores([1.0], [ex("a", 1, 0)], strong="gpt-4")
    with pytest.raises(ValueError, match="not better"):
        evaluate_scores([1.0, 0.0], [ex("a", 0, 1), ex("b", 1, 1)])
    with pytest.raises(ValueError, match="one score per example"):
        evaluate_scores([1.0], FOUR)


def test_examples_are_immutable_values() -> None:
    quality = {"strong": 1.0, "weak": 0.0}
    example = RoutingExample("p", quality)
    quality["weak"] = 1.0
    assert example.quality["weak"] == 0.0
    with pytest.raises(TypeError):
        example.quality["weak"] = 2.0  # type: ignore[index]
    assert example.to_dict() == {"prompt": "p", "quality": {"strong": 1.0, "weak": 0.0}}
