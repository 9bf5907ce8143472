"""TieredChatModel replicas sharing tier rate limits and cooldowns through ``shared_state``.

Two model objects stand for two replicas (each would be its own process); they share only
Redis. Fake tiers and a FakeClock keep it deterministic; Redis is real.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.exceptions import ModelAPIError

from langchain_tiered import ModelPrice, RouteDecision, Tier, TieredChatModel
from langchain_tiered._clock import FakeClock
from langchain_tiered.fallbacks import RetryPolicy
from tests.integration_tests import _services
from tests.integration_tests._services import REDIS_URL
from tests.unit_tests.fakes import FakeTier

pytestmark = pytest.mark.integration
redis_prefix = _services.redis_prefix

PRICE = ModelPrice(input_per_mtok=1.0, output_per_mtok=2.0)


def replica(prefix: str, clock: FakeClock, main: FakeTier, backup: FakeTier, **kw: Any) -> Any:
    from langchain_tiered.shared import RedisState

    return TieredChatModel(
        tiers=[
            Tier(name="main", model=main, price=PRICE, **kw),
            Tier(name="backup", model=backup, price=PRICE),
        ],
        router=lambda _: RouteDecision(tier="main", reason="test"),
        retry=RetryPolicy(max_attempts=1),
        shared_state=RedisState(REDIS_URL, prefix=prefix, clock=clock),
        clock=clock,
        max_tokens=50,
    )


def tier_of(message: Any) -> str:
    return str(message.response_metadata["tiered"]["tier"])


def test_a_tier_token_limit_counts_every_replica(redis_prefix: str) -> None:
    clock = FakeClock()
    a = replica(redis_prefix, clock, FakeTier(model_name="m"), FakeTier(model_name="b"),
                tokens_per_minute=150)  # fmt: skip
    b = replica(redis_prefix, clock, FakeTier(model_name="m"), FakeTier(model_name="b"),
                tokens_per_minute=150)  # fmt: skip
    assert tier_of(a.invoke("hi")) == "main"
    assert tier_of(b.invoke("hi")) == "main"  # 2 x (prompt + 50) fits in 150
    assert tier_of(a.invoke("hi")) == "backup"  # the shared minute is used up: route elsewhere
    clock.advance(61)
    assert tier_of(b.invoke("hi")) == "main"


def test_a_tier_failing_on_one_replica_cools_down_on_all(redis_prefix: str) -> None:
    clock = FakeClock()
    down = FakeTier(model_name="m", script=[ModelAPIError("500 boom")])
    healthy = FakeTier(model_name="m")
    a = replica(redis_prefix, clock, down, FakeTier(model_name="b"))
    b = replica(redis_prefix, clock, healthy, FakeTier(model_name="b"))
    for _ in range(3):  # the default threshold: three failures open the circuit
        assert tier_of(a.invoke("hi")) == "backup"
    assert tier_of(b.invoke("hi")) == "backup"
    assert healthy.calls == []  # b never called the tier a saw failing
    clock.advance(31)
    assert tier_of(b.invoke("hi")) == "main"  # b probes it, succeeds, closes it for all
    assert tier_of(a.invoke("hi")) == "backup"
    assert len(down.calls) == 4  # closed for a too: it tried its (still failing) tier again
