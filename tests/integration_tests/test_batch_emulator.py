"""arun_batch against the OpenAI-compatible emulator: 1,000 requests through 30% injected faults."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_openai import ChatOpenAI

from langchain_tiered import Budget, InMemoryLedger, ModelPrice, Tier, TieredChatModel
from langchain_tiered.batch import arun_batch, run_batch
from langchain_tiered.fallbacks import RetryPolicy
from langchain_tiered.testing import Fault, OpenAICompatibleEmulator

pytestmark = pytest.mark.integration

MODELS = {"critical": "gpt-4.1", "standard": "gpt-4.1-mini", "budget": "gpt-4.1-nano"}
PRICES = {
    "critical": ModelPrice(input_per_mtok=2.0, output_per_mtok=8.0),
    "standard": ModelPrice(input_per_mtok=0.4, output_per_mtok=1.6),
    "budget": ModelPrice(input_per_mtok=0.1, output_per_mtok=0.4),
}
# Four fault kinds at ~8.5% each: about 30% of requests fail (1 - 0.915**4).
FAULT_RATE = 0.085
FAULTS = [
    Fault("rate_limit", probability=FAULT_RATE, seed=1, retry_after=0),
    Fault("server_error", probability=FAULT_RATE, seed=2),
    Fault("overloaded", probability=FAULT_RATE, seed=3),
    Fault("disconnect", probability=FAULT_RATE, seed=4),
]


@pytest.fixture(scope="module")
def emu() -> Iterator[OpenAICompatibleEmulator]:
    with OpenAICompatibleEmulator() as emulator:
        yield emulator


def tiered(emu: OpenAICompatibleEmulator, ledger: InMemoryLedger) -> TieredChatModel:
    tiers = [
        Tier(
            name=name,
            price=PRICES[name],
            model=ChatOpenAI(
                base_url=emu.base_url,
                api_key="sk-emulator",
                model=model,  # type: ignore[arg-type]
                max_retries=0,
                max_tokens=32,
            ),
        )
        for name, model in MODELS.items()
    ]
    return TieredChatModel(
        tiers=tiers,
        retry=RetryPolicy(max_attempts=2, base_delay=0.0, max_delay=0.01, jitter=False),
        budget=Budget(limit_usd=100.0, ledger=ledger),
    )


def test_thousand_requests_through_faults_account_for_every_input(
    emu: OpenAICompatibleEmulator,
) -> None:
    emu.reset()
    for fault in FAULTS:
        emu.add_fault(fault)
    ledger = InMemoryLedger()
    model = tiered(emu, ledger)
    inputs: list[Any] = [
        {"id": f"q{i}", "input": f"Frage {i}: nenne eine Hauptstadt"} for i in range(1000)
    ]
    result = asyncio.run(arun_batch(model, inputs, max_concurrency=50))
    emu.clear_faults()
    s = result.stats
    faults = sum(r.outcome != "ok" for r in emu.requests)
    assert faults > 0  # the injected faults really happened

    assert [r.id for r in result.results] == [f"q{i}" for i in range(1000)]
    assert s.successes + len(result.dead_letters) == 1000
    assert {d.index for d in result.dead_letters} == {r.index for r in result.results if not r.ok}
    assert s.retries > 0
    assert s.fallbacks > 0
    records = ledger.records()
    answers = [r for r in records if r.error is None]
    unknown = [r for r in records if r.error is not None]
    assert len(answers) == s.successes  # each answer settled once
    # A dropped connection may have been billed: charged at its worst case, flagged, never
    # silently absorbed; other failures (429, 5xx answered by the server) bill nothing.
    disconnects = sum(r.outcome == "disconnect" for r in emu.requests)
    assert len(unknown) == disconnects
    assert all(r.cost_is_estimate for r in unknown)
    item_costs = math.fsum(r.cost_usd for r in result.results)
    assert math.fsum(r.cost_usd for r in answers) == pytest.approx(item_costs, rel=1e-9)
    all_costs = math.fsum(r.cost_usd for r in records)
    assert ledger.spent(records[0].budget_keys[0]) == pytest.approx(all_costs, rel=1e-9)
    assert s.total_cost_usd == pytest.approx(item_costs, rel=1e-9)
    assert sum(t.calls for t in s.by_tier.values()) == s.successes
    # every emulator request is one attempt of some item
    assert sum(len(r.attempts) for r in result.results) == len(emu.requests)


def test_sync_rerun_resends_only_dead_letters(emu: OpenAICompatibleEmulator, tmp_path: Any) -> None:
    emu.reset()
    for kind in ("server_error", "overloaded"):  # every request to the budget model fails
        emu.add_fault(Fault(kind, model=MODELS["budget"], probability=0.5, seed=5))
    emu.add_fault(Fault("auth", model=MODELS["standard"]))  # fatal: never fall back from it
    ledger = InMemoryLedger()
    model = tiered(emu, ledger)
    out = tmp_path / "results.jsonl"
    inputs = [f"Frage {i}" for i in range(60)]
    first = run_batch(model, inputs, max_concurrency=8, output=out)
    assert first.stats.failures > 0
    assert first.stats.successes + first.stats.failures == 60
    sent = len(emu.requests)

    emu.clear_faults()
    second = run_batch(model, inputs, max_concurrency=8, output=out)
    assert second.stats.successes == 60
    assert second.stats.resumed == first.stats.successes
    assert len(emu.requests) - sent == first.stats.failures  # one request per redone item
    assert len([r for r in ledger.records() if r.error is None]) == 60
    assert {r.index for r in second.results if not r.skipped_resumed} == {
        d.index for d in first.dead_letters
    }
