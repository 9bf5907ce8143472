"""Requests that fail after they were sent are charged, not forgotten (issue 10).

The emulator bills a request it answered with a dropped connection, a truncated body or a cut
stream just as a real provider may: the ledger, the metadata and the cost callback must all
show that money (``unknown_outcome="charge"``, the default), or none of it on ``"release"``.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.exceptions import ModelConnectionError
from langchain_openai import ChatOpenAI

from langchain_tiered import (
    AllTiersFailedError,
    Budget,
    InMemoryLedger,
    ModelPrice,
    RouteDecision,
    Tier,
    TieredChatModel,
    get_tiered_cost_callback,
)
from langchain_tiered.fallbacks import RetryPolicy
from langchain_tiered.routing import RouteRequest
from langchain_tiered.testing import Fault, OpenAICompatibleEmulator
from tests.integration_tests._replay import emulator_chat, tiered_meta

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("close_async_clients")]

BIG = ModelPrice(input_per_mtok=2.50, output_per_mtok=10.00)
SMALL = ModelPrice(input_per_mtok=0.10, output_per_mtok=0.40)
PROMPT = "tell me a story about a cat"


def always_small(request: RouteRequest) -> RouteDecision:
    return RouteDecision(tier="small", reason="test: the small tier first")


def tiered(emu: OpenAICompatibleEmulator, ledger: InMemoryLedger, **kw: Any) -> TieredChatModel:
    def chat(model: str) -> ChatOpenAI:
        return emulator_chat(emu.base_url, model)

    return TieredChatModel(
        tiers=[
            Tier(name="big", model=chat("big-model"), price=BIG, max_output_tokens=100),
            Tier(name="small", model=chat("small-model"), price=SMALL, max_output_tokens=100),
        ],
        router=always_small,
        retry=RetryPolicy(max_attempts=1),
        budget=Budget(limit_usd=1.0, ledger=ledger),
        **kw,
    )


def key(model: TieredChatModel) -> str:
    return next(iter(model._rt.limits_for({})))


@pytest.mark.parametrize("fault", ["disconnect", "stream_break"])  # no response / half a body
def test_failed_after_send_is_charged_its_worst_case(
    emu: OpenAICompatibleEmulator, fault: str
) -> None:
    emu.add_fault(Fault(fault, model="small-model", times=1))  # type: ignore[arg-type]
    ledger = InMemoryLedger()
    model = tiered(emu, ledger)
    with get_tiered_cost_callback() as cb:
        meta = tiered_meta(model.invoke(PROMPT))

    assert meta["tier"] == "big"
    charged, answered = ledger.records()
    assert (charged.tier, charged.cost_is_estimate) == ("small", True)
    assert charged.cost_usd == charged.estimated_cost_usd > 0  # the reserved worst case
    assert charged.error
    assert "Connection" in charged.error
    assert meta["unknown_outcome_usd"] == pytest.approx(charged.cost_usd)
    assert meta["cost_usd"] == pytest.approx(answered.cost_usd)
    total = ledger.spent(key(model))
    assert total == pytest.approx(charged.cost_usd + answered.cost_usd, abs=1e-9)
    assert ledger.reserved(key(model)) == 0
    # the callback sees the same money, each charge once
    assert cb.total_cost_usd == pytest.approx(total, abs=1e-9)
    assert (cb.calls, cb.unknown_outcomes) == (1, 1)


def test_release_setting_charges_only_the_answer(emu: OpenAICompatibleEmulator) -> None:
    emu.add_fault(Fault("disconnect", model="small-model", times=1))
    ledger = InMemoryLedger()
    model = tiered(emu, ledger, unknown_outcome="release")
    meta = tiered_meta(model.invoke(PROMPT))
    (answered,) = ledger.records()
    assert (answered.tier, meta["unknown_outcome_usd"]) == ("big", 0.0)
    assert ledger.spent(key(model)) == pytest.approx(answered.cost_usd, abs=1e-9)


def test_every_tier_failing_after_send_is_charged_and_counted(
    emu: OpenAICompatibleEmulator,
) -> None:
    emu.add_fault(Fault("disconnect"))
    ledger = InMemoryLedger()
    model = tiered(emu, ledger)
    with get_tiered_cost_callback() as cb, pytest.raises(AllTiersFailedError):
        model.invoke(PROMPT)
    records = ledger.records()
    assert [r.tier for r in records] == ["small", "big"]
    assert all(r.cost_is_estimate and r.cost_usd == r.estimated_cost_usd for r in records)
    total = ledger.spent(key(model))
    assert total == pytest.approx(sum(r.cost_usd for r in records), abs=1e-9)
    assert cb.total_cost_usd == pytest.approx(total, abs=1e-9)
    assert cb.unknown_outcomes == 2


def test_stream_cut_after_content_is_charged_once(emu: OpenAICompatibleEmulator) -> None:
    emu.add_fault(Fault("stream_break", model="small-model", break_after_chunks=2))
    ledger = InMemoryLedger()
    model = tiered(emu, ledger)
    with get_tiered_cost_callback() as cb, pytest.raises(ModelConnectionError):
        list(model.stream(PROMPT))
    (record,) = ledger.records()
    assert record.cost_usd == record.estimated_cost_usd
    assert record.cost_is_estimate
    assert ledger.reserved(key(model)) == 0
    assert cb.calls == 1
    assert cb.total_cost_usd == pytest.approx(ledger.spent(key(model)), abs=1e-9)


async def test_async_failed_after_send_is_charged(emu: OpenAICompatibleEmulator) -> None:
    emu.add_fault(Fault("disconnect", model="small-model", times=1))
    ledger = InMemoryLedger()
    model = tiered(emu, ledger)
    with get_tiered_cost_callback() as cb:
        meta = tiered_meta(await model.ainvoke(PROMPT))
    charged, answered = ledger.records()
    assert (charged.tier, answered.tier, meta["tier"]) == ("small", "big", "big")
    assert cb.total_cost_usd == pytest.approx(ledger.spent(key(model)), abs=1e-9)
