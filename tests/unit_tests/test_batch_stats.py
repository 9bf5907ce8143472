"""Batch statistics use the one cost tally (``callbacks.CostStats``) and agree with the callback."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from langchain_core.messages import AIMessage

from langchain_tiered import Tier, TieredChatModel, get_tiered_cost_callback
from langchain_tiered.batch import TierStats, arun_batch, run_batch
from langchain_tiered.callbacks import CostStats
from langchain_tiered.testing import FakeClock
from tests.unit_tests.fakes import PRICES, FakeTier, usage


def _model() -> TieredChatModel:
    budget = AIMessage(content="ok", usage_metadata=usage(1000, 100, cache_read=200))
    standard = AIMessage(content="ok", usage_metadata=usage(2000, 10, reasoning=4))
    tiers = [
        Tier(name="standard", model=FakeTier(script=[standard]), price=PRICES["standard"]),
        Tier(name="budget", model=FakeTier(script=[budget]), price=PRICES["budget"]),
    ]
    return TieredChatModel(tiers=tiers, clock=FakeClock())


@pytest.mark.parametrize("twin", ["sync", "async"])
def test_per_tier_stats_are_cost_stats_with_tokens(twin: str) -> None:
    inputs: list[Any] = [
        {"input": f"q{i}", "metadata": {"tier": "budget" if i < 3 else "standard"}}
        for i in range(4)
    ]
    with get_tiered_cost_callback() as cb:  # worker threads must see it too
        if twin == "sync":
            result = run_batch(_model(), inputs, max_concurrency=2)
        else:
            result = asyncio.run(arun_batch(_model(), inputs, max_concurrency=2))
    budget, standard = result.stats.by_tier["budget"], result.stats.by_tier["standard"]
    assert isinstance(budget, CostStats)
    assert isinstance(budget, TierStats)
    assert (budget.calls, budget.attempts) == (3, 3)
    assert (budget.input_tokens, budget.output_tokens, budget.cached_tokens) == (3000, 300, 600)
    assert (standard.calls, standard.input_tokens, standard.reasoning_tokens) == (1, 2000, 4)
    # The batch and the cost callback count the same calls, tokens and dollars.
    for name, stats in result.stats.by_tier.items():
        seen = cb.by_tier[name]
        assert (stats.calls, stats.input_tokens, stats.output_tokens) == (
            seen.calls,
            seen.input_tokens,
            seen.output_tokens,
        )
        assert stats.cost_usd == pytest.approx(seen.cost_usd, rel=1e-12)
    assert result.stats.total_cost_usd == pytest.approx(cb.total_cost_usd, rel=1e-12)


def test_tier_stats_keeps_its_public_fields() -> None:
    stats = TierStats(calls=2, cost_usd=0.5, attempts=3)
    assert (stats.calls, stats.cost_usd, stats.attempts) == (2, 0.5, 3)
