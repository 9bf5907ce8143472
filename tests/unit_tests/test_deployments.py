"""Deployments within a tier: policies, sibling failover, per-deployment limits and cooldowns.

Fake chat models and a FakeClock only; the Redis-shared variant is in
``tests/integration_tests/test_deployments_shared.py``.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.exceptions import ModelAuthenticationError, ModelRateLimitError
from langchain_core.messages import AIMessage, BaseMessage

from langchain_tiered import ModelPrice, RouteDecision, Tier, TieredChatModel
from langchain_tiered.deployments import (
    Deployment,
    Deployments,
    DeploymentStats,
    least_in_flight,
    least_tpm_used,
    lowest_latency,
)
from langchain_tiered.fallbacks import RetryPolicy
from langchain_tiered.testing import FakeClock
from tests.unit_tests.fakes import FakeTier, usage

PRICE = ModelPrice(input_per_mtok=1.0, output_per_mtok=2.0)


def stat(name: str, i: int, flight: int = 0, lat: float | None = None, tpm: int = 0) -> Any:
    return DeploymentStats(name, i, flight, lat, tpm)


def names(stats: Any) -> list[str]:
    return [s.name for s in stats]


def test_policies_order_by_their_measure_then_list_order() -> None:
    stats = [stat("a", 0, 2, 0.9, 500), stat("b", 1, 0, None, 900), stat("c", 2, 0, 0.1, 100)]
    assert names(least_in_flight(stats)) == ["b", "c", "a"]
    assert names(lowest_latency(stats)) == ["b", "c", "a"]  # unmeasured first, then fastest
    assert names(least_tpm_used(stats)) == ["c", "a", "b"]


def rate_limited() -> ModelRateLimitError:
    return ModelRateLimitError("429 slow down")


def two(first: FakeTier, second: FakeTier, **kw: Any) -> Deployments:
    return Deployments(deployments=[first, second], **kw)


def test_a_retryable_failure_moves_to_the_sibling_and_cools_the_deployment_down() -> None:
    clock = FakeClock()
    bad, good = (
        FakeTier(model_name="gpt-4.1", script=[rate_limited()]),
        FakeTier(model_name="gpt-4.1"),
    )
    deps = two(bad, good, clock=clock, cooldown_seconds=30)
    first = deps.invoke("hi")
    assert first.response_metadata["deployment"] == "d1"
    deps.invoke("again")
    assert len(bad.calls) == 1  # d0 is cooling down: not tried again
    assert len(good.calls) == 2
    clock.advance(31)
    bad.script = [AIMessage(content="back", usage_metadata=usage(3, 1))]
    assert deps.invoke("probe").response_metadata["deployment"] == "d0"


def test_a_fatal_error_is_not_retried_on_a_sibling() -> None:
    bad = FakeTier(model_name="m", script=[ModelAuthenticationError("bad key")])
    good = FakeTier(model_name="m")
    with pytest.raises(ModelAuthenticationError):
        two(bad, good).invoke("hi")
    assert good.calls == []


def test_lowest_latency_learns_the_faster_deployment() -> None:
    clock = FakeClock()

    def slow(_: list[BaseMessage], __: dict[str, Any]) -> AIMessage:
        clock.advance(2.0)
        return AIMessage(content="slow", usage_metadata=usage(5, 1))

    def fast(_: list[BaseMessage], __: dict[str, Any]) -> AIMessage:
        clock.advance(0.1)
        return AIMessage(content="fast", usage_metadata=usage(5, 1))

    deps = two(
        FakeTier(model_name="m", respond=slow),
        FakeTier(model_name="m", respond=fast),
        policy=lowest_latency,
        clock=clock,
    )
    served = [deps.invoke(str(i)).response_metadata["deployment"] for i in range(5)]
    assert served == ["d0", "d1", "d1", "d1", "d1"]
    assert deps.stats[0].latency_s == pytest.approx(2.0)
    assert deps.stats[1].latency_s == pytest.approx(0.1)


def test_least_tpm_used_balances_tokens() -> None:
    deps = two(FakeTier(model_name="m"), FakeTier(model_name="m"), policy=least_tpm_used)
    served = [deps.invoke(str(i)).response_metadata["deployment"] for i in range(4)]
    assert served == ["d0", "d1", "d0", "d1"]
    assert [s.tokens_last_minute for s in deps.stats] == [24, 24]


def test_per_deployment_token_limit_sends_the_call_to_the_sibling() -> None:
    clock = FakeClock()
    small = Deployment(name="small", model=FakeTier(model_name="m"), tokens_per_minute=50)
    big = Deployment(name="big", model=FakeTier(model_name="m"))
    deps = Deployments(deployments=[small, big], clock=clock, max_tokens=20)
    assert deps.invoke("hi").response_metadata["deployment"] == "small"
    assert deps.invoke("hi").response_metadata["deployment"] == "big"  # small's minute is used


def test_every_deployment_limited_is_a_retryable_rate_limit() -> None:
    only = Deployment(name="only", model=FakeTier(model_name="m"), requests_per_minute=1)
    deps = Deployments(deployments=[only], clock=FakeClock())
    deps.invoke("hi")
    with pytest.raises(ModelRateLimitError, match="rate limit"):
        deps.invoke("hi")


def test_deployments_must_serve_one_model_unless_named() -> None:
    with pytest.raises(ValueError, match="model_name="):
        two(FakeTier(model_name="gpt-4.1"), FakeTier(model_name="gpt-4o"))
    named = two(
        FakeTier(model_name="eu-deploy"), FakeTier(model_name="gpt-4.1"), model_name="gpt-4.1"
    )
    assert named.model_name == "gpt-4.1"
    with pytest.raises(ValueError, match="unique"):
        Deployments(
            deployments=[
                Deployment(name="x", model=FakeTier(model_name="m")),
                Deployment(name="x", model=FakeTier(model_name="m")),
            ]
        )


def tiered(main: Deployments, backup: FakeTier) -> TieredChatModel:
    return TieredChatModel(
        tiers=[
            Tier(name="main", model=main, price=PRICE),
            Tier(name="backup", model=backup, price=PRICE),
        ],
        router=lambda _: RouteDecision(tier="main", reason="test"),
        retry=RetryPolicy(max_attempts=1),
    )


def test_sibling_failover_is_not_a_tier_fallback() -> None:
    main = two(FakeTier(model_name="m", script=[rate_limited()]), FakeTier(model_name="m"))
    backup = FakeTier(model_name="b")
    meta = tiered(main, backup).invoke("hi").response_metadata
    assert meta["tiered"]["tier"] == "main"
    assert meta["tiered"]["fallback_triggered"] is False
    assert meta["deployment"] == "d1"
    assert backup.calls == []


def test_when_every_deployment_fails_the_tier_falls_back() -> None:
    main = two(
        FakeTier(model_name="m", script=[rate_limited()]),
        FakeTier(model_name="m", script=[rate_limited()]),
    )
    backup = FakeTier(model_name="b")
    meta = tiered(main, backup).invoke("hi").response_metadata["tiered"]
    assert meta["tier"] == "backup"
    assert meta["fallback_triggered"] is True


def test_stream_fails_over_only_before_the_first_chunk() -> None:
    deps = two(FakeTier(model_name="m", script=[rate_limited()]), FakeTier(model_name="m"))
    chunks = list(deps.stream("hi"))
    assert "".join(str(c.content) for c in chunks) == "m answer"
    assert chunks[0].response_metadata["deployment"] == "d1"
    broken = two(FakeTier(model_name="m", break_after=1), FakeTier(model_name="m"))
    with pytest.raises(ConnectionError):
        list(broken.stream("hi"))  # broke mid-answer: never spliced with the sibling's


async def test_async_twins_fail_over_the_same_way() -> None:
    deps = two(FakeTier(model_name="m", script=[rate_limited()]), FakeTier(model_name="m"))
    assert (await deps.ainvoke("hi")).response_metadata["deployment"] == "d1"
    again = two(FakeTier(model_name="m", script=[rate_limited()]), FakeTier(model_name="m"))
    chunks = [c async for c in again.astream("hi")]
    assert chunks[0].response_metadata["deployment"] == "d1"


def test_waits_for_the_rate_limit_up_to_max_wait() -> None:
    clock = FakeClock()
    only = Deployment(name="only", model=FakeTier(model_name="m"), requests_per_minute=1)
    deps = Deployments(deployments=[only], clock=clock, max_wait=90)
    deps.invoke("first")
    assert deps.invoke("second").response_metadata["deployment"] == "only"
    assert clock.sleeps == [pytest.approx(60.0)]
    impatient = Deployments(deployments=[only], clock=clock, max_wait=10)
    impatient.invoke("first")
    with pytest.raises(ModelRateLimitError):
        impatient.invoke("second")


def test_importing_the_package_and_deployments_loads_no_driver() -> None:
    import subprocess
    import sys

    code = (
        "import sys, langchain_tiered, langchain_tiered.deployments, langchain_tiered.shared; "
        "langchain_tiered.RedisLedger; langchain_tiered.PostgresLedger; "
        "print(','.join(m for m in ('redis', 'psycopg', 'psycopg_pool') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_tier_deployments_sugar_builds_a_deployments_model() -> None:
    tier = Tier(
        name="main",
        deployments=[FakeTier(model_name="m", script=[rate_limited()]), FakeTier(model_name="m")],
        price=PRICE,
    )
    assert isinstance(tier.model, Deployments)
    assert tier.model_name == "m"
    model = TieredChatModel(
        tiers=[tier, Tier(name="backup", model=FakeTier(model_name="b"), price=PRICE)],
        router=lambda _: RouteDecision(tier="main", reason="test"),
        retry=RetryPolicy(max_attempts=1),
    )
    meta = model.invoke("hi").response_metadata
    assert (meta["tiered"]["tier"], meta["deployment"]) == ("main", "d1")
    with pytest.raises(ValueError, match="not both"):
        Tier(name="x", model=FakeTier(model_name="m"), deployments=[FakeTier(model_name="m")])
