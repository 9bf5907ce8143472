"""calibrate / calibrate_for_cost: thresholds from score quantiles; held-out shares hold."""

from __future__ import annotations

import random

import pytest
from langchain_core.messages import HumanMessage

from langchain_tiered import ModelPrice
from langchain_tiered.routing import ComplexityRouter, RouteDecision, RouteRequest, calibrate
from langchain_tiered.routing.calibrate import (
    calibrate_for_cost,
    expected_cost_per_1k,
    shares_of,
    thresholds_for_shares,
)
from langchain_tiered.routing.datasets import read_gsm8k, read_mmlu
from tests.unit_tests.routing_data import shared_data

PRICES = [
    ModelPrice(input_per_mtok=5.0, output_per_mtok=25.0),
    ModelPrice(input_per_mtok=1.0, output_per_mtok=4.0),
    ModelPrice(input_per_mtok=0.1, output_per_mtok=0.4),
]


def test_thresholds_sit_between_the_quantiles() -> None:
    scores = [0.05 + 0.1 * i for i in range(10)]  # 0.05 .. 0.95
    cuts = thresholds_for_shares(scores, [0.2, 0.3, 0.5])
    assert cuts == pytest.approx((0.8, 0.5))  # top 2 >= 0.8, next 3 >= 0.5
    assert thresholds_for_shares(scores, [0.0, 1.0])[0] > max(scores)
    assert thresholds_for_shares(scores, [1.0, 0.0])[0] < min(scores)
    # Zero middle share: the cuts still descend strictly (one tier gets nothing).
    low, high = thresholds_for_shares(scores, [0.5, 0.0, 0.5])[::-1]
    assert high > low


@pytest.mark.parametrize(
    ("shares", "message"),
    [([1.0], "2 or more"), ([0.5, 0.6], "sum to 1"), ([1.2, -0.2], "non-negative")],
)
def test_bad_shares_are_rejected(shares: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        thresholds_for_shares([0.1, 0.2], shares)


def test_calibrate_hits_the_shares_on_its_sample_and_keeps_the_router_kind() -> None:
    prompts = [f"Explain topic number {i} " + "in detail " * (i % 17) for i in range(200)]
    router = ComplexityRouter(max_scan_chars=500)
    calibrated = calibrate(router, prompts, shares=[0.2, 0.3, 0.5])
    assert isinstance(calibrated, ComplexityRouter)
    assert calibrated.max_scan_chars == 500  # everything but the thresholds kept
    assert calibrated.thresholds is not None
    assert len(calibrated.thresholds) == 2
    assert shares_of(calibrated, prompts, 3) == pytest.approx([0.2, 0.3, 0.5], abs=0.051)


def test_held_out_shares_land_within_three_points() -> None:
    data = shared_data()
    rng = random.Random(7)
    prompts = [e.prompt for e in read_gsm8k(data / "gsm8k") + read_mmlu(data / "mmlu")]
    rng.shuffle(prompts)
    sample, held_out = prompts[:2000], prompts[2000:8000]
    router = calibrate(ComplexityRouter(), sample, shares=[0.2, 0.3, 0.5])
    for got, wanted in zip(shares_of(router, held_out, 3), [0.2, 0.3, 0.5], strict=True):
        assert abs(got - wanted) <= 0.03


def test_calibrate_needs_a_scoring_router() -> None:
    def plain(request: RouteRequest) -> RouteDecision:
        return RouteDecision(tier=request.tiers[0], reason="")

    with pytest.raises(TypeError, match=r"no score\(\)/with_thresholds\(\)"):
        calibrate(plain, ["x"], shares=[0.5, 0.5])  # type: ignore[type-var]
    with pytest.raises(ValueError, match="at least one prompt"):
        calibrate(ComplexityRouter(), [], shares=[0.5, 0.5])


def test_cost_target_is_met_and_spent_on_the_highest_scores() -> None:
    prompts = [
        RouteRequest(
            messages=(HumanMessage("Analysiere das Problem"),),
            tiers=("a", "b", "c"),
            token_count=20 + 5 * i,  # the score grows with the length
        )
        for i in range(100)
    ]
    # Everything on the cheapest tier: input tokens x $0.1/M + 300 output x $0.4/M per call.
    floor = sum((20 + 5 * i) * 0.1 + 300 * 0.4 for i in range(100)) / 1e6 * 1000 / 100
    nothing_up = ComplexityRouter(thresholds=(0.99999, 0.99998))
    assert expected_cost_per_1k(nothing_up, prompts, PRICES) == pytest.approx(floor)
    router = calibrate_for_cost(ComplexityRouter(), prompts, prices=PRICES, usd_per_1k_calls=3.0)
    spent = expected_cost_per_1k(router, prompts, PRICES)
    assert floor < spent <= 3.0
    more = calibrate_for_cost(ComplexityRouter(), prompts, prices=PRICES, usd_per_1k_calls=6.0)
    assert spent < expected_cost_per_1k(more, prompts, PRICES) <= 6.0
    # The budget goes to the highest scores (the longest prompts) first.
    assert router.thresholds is not None
    up = [p.token_count for p in prompts if router.score(p) >= router.thresholds[-1]]
    assert up == sorted(p.token_count or 0 for p in prompts)[-len(up) :]


def test_cost_target_below_the_floor_says_what_to_change() -> None:
    with pytest.raises(ValueError, match=r"cheapest tier costs \$0\.\d+ per 1,000.*raise"):
        calibrate_for_cost(ComplexityRouter(), ["hi"], prices=PRICES, usd_per_1k_calls=1e-9)
