"""Deployments whose limits and cooldowns are shared by replicas through the real Redis."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.exceptions import ModelRateLimitError

from langchain_tiered.deployments import Deployment, Deployments
from langchain_tiered.testing import FakeClock
from tests.integration_tests import _services
from tests.integration_tests._services import REDIS_URL
from tests.unit_tests.fakes import FakeTier

pytestmark = pytest.mark.integration
redis_prefix = _services.redis_prefix


def replica(prefix: str, clock: FakeClock, first: FakeTier, second: FakeTier, **kw: Any) -> Any:
    from langchain_tiered.shared import RedisState

    state = RedisState(REDIS_URL, prefix=prefix, clock=clock)
    return Deployments(
        deployments=[
            Deployment(name="eu", model=first, **kw),
            Deployment(name="us", model=second),
        ],
        shared_state=state,
        clock=clock,
        cooldown_seconds=30,
    )


def test_a_deployment_failing_on_one_replica_cools_down_on_all(redis_prefix: str) -> None:
    clock = FakeClock()
    eu_a = FakeTier(model_name="m", script=[ModelRateLimitError("429")])
    eu_b = FakeTier(model_name="m")
    a = replica(redis_prefix, clock, eu_a, FakeTier(model_name="m"))
    b = replica(redis_prefix, clock, eu_b, FakeTier(model_name="m"))
    assert a.invoke("hi").response_metadata["deployment"] == "us"
    assert b.invoke("hi").response_metadata["deployment"] == "us"
    assert eu_b.calls == []  # replica b never tried the deployment a saw failing
    clock.advance(31)
    assert b.invoke("hi").response_metadata["deployment"] == "eu"  # b is the one probe


def test_a_deployment_rate_limit_is_counted_across_replicas(redis_prefix: str) -> None:
    clock = FakeClock()
    a = replica(redis_prefix, clock, FakeTier(model_name="m"), FakeTier(model_name="m"),
                requests_per_minute=2)  # fmt: skip
    b = replica(redis_prefix, clock, FakeTier(model_name="m"), FakeTier(model_name="m"),
                requests_per_minute=2)  # fmt: skip
    served = [r.invoke("hi").response_metadata["deployment"] for r in (a, b, a, b)]
    assert served == ["eu", "eu", "us", "us"]


def test_with_shared_state_moves_limits_to_redis(redis_prefix: str) -> None:
    from langchain_tiered.shared import RedisState

    clock = FakeClock()
    local = Deployments(
        deployments=[Deployment(name="eu", model=FakeTier(model_name="m"), requests_per_minute=1)],
        clock=clock,
    )
    state = RedisState(REDIS_URL, prefix=redis_prefix, clock=clock)
    a, b = local.with_shared_state(state), local.with_shared_state(state)
    assert a.invoke("hi").response_metadata["deployment"] == "eu"
    with pytest.raises(ModelRateLimitError):
        b.invoke("hi")  # the one request of this minute was a's
    assert local.invoke("hi").response_metadata["deployment"] == "eu"  # the original: local
