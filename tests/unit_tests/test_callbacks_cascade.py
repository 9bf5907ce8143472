"""The cost callback splits a cascade's cost over the tiers and models of its steps."""

from __future__ import annotations

import pytest

from langchain_tiered import get_tiered_cost_callback
from langchain_tiered.callbacks import TieredCostCallbackHandler
from langchain_tiered.cascade import Cascade
from tests.unit_tests.test_cascade import BAD, FINAL, GOOD, cost, model


def tier_costs(cb: TieredCostCallbackHandler) -> dict[str, float | None]:
    return {name: stats.cost_usd for name, stats in cb.by_tier.items()}


@pytest.mark.parametrize("stream", [False, True])
def test_each_step_counts_on_its_own_tier_and_model(stream: bool) -> None:
    m, _ = model(
        {"critical": GOOD, "standard": BAD, "budget": BAD},
        Cascade(validators=[FINAL], start="cheapest"),
    )

    with get_tiered_cost_callback() as cb:
        message = list(m.stream("6 x 7?"))[-1] if stream else m.invoke("6 x 7?")

    steps = {"budget": cost("budget", BAD), "standard": cost("standard", BAD)}
    steps["critical"] = cost("critical", GOOD)
    assert tier_costs(cb) == pytest.approx(steps, rel=1e-12)
    by_model = {name: stats.cost_usd for name, stats in cb.by_model.items()}
    assert by_model == pytest.approx({f"{k}-model": v for k, v in steps.items()}, rel=1e-12)
    # One call for the caller; one answer per tier; totals as before the split.
    assert cb.calls == 1
    assert {name: stats.calls for name, stats in cb.by_tier.items()} == dict.fromkeys(steps, 1)
    assert cb.total_cost_usd == pytest.approx(sum(steps.values()), rel=1e-12)
    assert cb.total_cost_usd == message.response_metadata["tiered"]["cost_usd"]
    # The billed tokens the metadata reports are the last step's: they stay on its tier.
    assert (cb.by_tier["critical"].input_tokens, cb.by_tier["critical"].output_tokens) == (20, 10)
    assert cb.by_tier["budget"].input_tokens == 0
    assert cb.by_tier["critical"].timed_calls == 1
    assert cb.by_tier["budget"].timed_calls == 0


def test_judge_cost_counts_on_the_step_it_graded() -> None:
    from langchain_tiered.cascade import Judge
    from tests.unit_tests.test_cascade import grader

    m, fakes = model(
        {"critical": GOOD, "standard": GOOD, "budget": BAD},
        Cascade(validators=[Judge(tier="budget")], start="cheapest", validate_last=False),
    )
    fakes["budget"].respond = grader("2")

    with get_tiered_cost_callback() as cb:
        message = m.invoke("6 x 7?")

    steps = message.response_metadata["tiered"]["steps"]
    expected = {s["tier"]: s["cost_usd"] for s in steps}
    assert tier_costs(cb) == pytest.approx(expected, rel=1e-12)
    assert sum(expected.values()) == pytest.approx(cb.total_cost_usd, rel=1e-12)
    assert cb.by_tier["standard"].cost_usd == pytest.approx(
        steps[1]["answer_cost_usd"] + steps[1]["judge_cost_usd"], rel=1e-12
    )
