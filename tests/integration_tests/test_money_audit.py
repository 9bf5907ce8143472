"""Money-guarantee audit (issue 10) over the bundled emulator: paths added after the engine.

* a cascade with a judge, every reply at full length, under a tight budget: the provider's
  own bill (the emulator's log) and the ledger stay under the limit, every request capped;
* a deployment whose request drops mid-flight fails over to its sibling: the dropped request
  (billed by the emulator) is charged once, at its worst case, and the answer once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from langchain_tiered import (
    Budget,
    BudgetExceededError,
    InMemoryLedger,
    ModelPrice,
    Tier,
    TieredChatModel,
    get_tiered_cost_callback,
)
from langchain_tiered._clock import FakeClock
from langchain_tiered.cascade import Cascade, Judge
from langchain_tiered.deployments import Deployment, Deployments
from langchain_tiered.fallbacks import RetryPolicy
from langchain_tiered.testing import Fault, OpenAICompatibleEmulator, Reply
from tests.integration_tests._replay import emulator_chat

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("close_async_clients")]

PRICES = {
    "big-model": ModelPrice(input_per_mtok=2.50, output_per_mtok=10.00),
    "small-model": ModelPrice(input_per_mtok=0.10, output_per_mtok=0.40),
}
CAP = 150
ENDLESS = " ".join(["word"] * 3000)  # far past CAP: only the cap sent stops it


def full_length(request: Mapping[str, Any]) -> Reply:
    return Reply(content=ENDLESS)


def billed(emu: OpenAICompatibleEmulator) -> float:
    """What the provider billed, from its own request log."""
    return sum(PRICES[r.model].cost(r.usage_metadata) for r in emu.requests)


@pytest.mark.parametrize("limit", [0.002, 0.01])
def test_cascade_with_judge_at_full_length_stays_under_the_budget(
    emu: OpenAICompatibleEmulator, limit: float
) -> None:
    emu.respond_with(full_length)
    ledger = InMemoryLedger()
    model = TieredChatModel(
        tiers=[
            Tier(name=name.split("-")[0], model=emulator_chat(emu.base_url, name), price=price)
            for name, price in PRICES.items()
        ],
        cascade=Cascade(validators=[Judge(tier="small")], start="cheapest"),
        retry=RetryPolicy(max_attempts=1),
        budget=Budget(limit_usd=limit, ledger=ledger),
        max_tokens=CAP,
    )
    answers = 0
    with get_tiered_cost_callback() as cb:
        for _ in range(30):
            try:
                model.invoke("Describe Paris at length.")
            except BudgetExceededError:
                break
            answers += 1
    key = next(iter(model._rt.limits_for({})))
    assert answers >= 1
    assert emu.requests
    # every request was cut by the cap sent: answers at CAP, grading calls at the judge's 8
    assert {r.completion_tokens for r in emu.requests} == {CAP, Judge().max_tokens}
    assert billed(emu) <= limit
    assert ledger.spent(key) == pytest.approx(billed(emu), rel=1e-9)
    assert cb.total_cost_usd == pytest.approx(ledger.spent(key), rel=1e-9)
    assert ledger.reserved(key) == 0


@pytest.mark.parametrize("fault", ["disconnect", "stream_break"])
def test_deployment_dropping_a_request_is_charged_once_then_its_sibling_answers(
    emu: OpenAICompatibleEmulator, fault: str
) -> None:
    emu.add_fault(Fault(fault, model="small-model", times=1))  # type: ignore[arg-type]
    deps = Deployments(
        model_name="small-model",
        deployments=[
            Deployment(name="a", model=emulator_chat(emu.base_url, "small-model")),
            Deployment(name="b", model=emulator_chat(emu.base_url, "small-model")),
        ],
    )
    ledger = InMemoryLedger()
    model = TieredChatModel(
        tiers=[Tier(name="small", model=deps, price=PRICES["small-model"])],
        retry=RetryPolicy(max_attempts=2, jitter=False),
        budget=Budget(limit_usd=1.0, ledger=ledger),
        max_tokens=CAP,
        clock=FakeClock(),
    )
    message = model.invoke("tell me a story about a cat")
    meta = message.response_metadata["tiered"]
    key = next(iter(model._rt.limits_for({})))
    dropped, answered = ledger.records()
    assert [r.outcome for r in emu.requests] == [fault, "ok"]
    assert (dropped.cost_is_estimate, answered.cost_is_estimate) == (True, False)
    assert dropped.cost_usd == dropped.estimated_cost_usd  # the worst case, once
    assert meta["unknown_outcome_usd"] == pytest.approx(dropped.cost_usd)
    assert ledger.spent(key) >= billed(emu)  # never less than the provider's bill
    assert ledger.spent(key) == pytest.approx(dropped.cost_usd + answered.cost_usd, rel=1e-12)
    assert ledger.reserved(key) == 0
