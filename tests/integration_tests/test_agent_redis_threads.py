"""Thread state shared by replicas through the real Redis (issue 17)."""

from __future__ import annotations

from typing import Any

import pytest

from langchain_tiered.agents import RedisThreadStore
from tests.integration_tests import _services
from tests.integration_tests._services import REDIS_URL
from tests.unit_tests.test_agent_threads import history, make_model

pytestmark = pytest.mark.integration

redis_prefix = _services.redis_prefix


def test_a_thread_continues_on_another_replica(redis_prefix: str) -> None:
    store = RedisThreadStore(REDIS_URL, prefix=redis_prefix, ttl_seconds=60)
    first, second = (make_model(threads=store, thread_expected_steps=2) for _ in range(2))
    config: Any = {"metadata": {"tiered_thread": "shared"}}
    assert first.invoke(history(), config=config).response_metadata["tiered"]["tier"] == "top"
    config["metadata"]["want"] = "mini"
    meta = second.invoke(history(), config=config).response_metadata["tiered"]
    assert meta["tier"] == "top"  # the other replica knew the thread and its warm cache
    assert "switch to 'mini' refused" in meta["reason"]
    state = store.get("shared")
    assert state is not None
    assert (state.tier, state.steps, dict(state.asked)) == ("top", 2, {"mini": 1})
    ttl = store.client.pttl(store.key("shared"))
    assert 0 < ttl <= 60_000
    store.close()


def test_a_lost_redis_routes_threads_as_new_without_failing_calls() -> None:
    store = RedisThreadStore("redis://127.0.0.1:1/0", socket_timeout=0.2)
    model = make_model(threads=store)
    config: Any = {"metadata": {"tiered_thread": "t", "want": "mini"}}
    with pytest.warns(RuntimeWarning, match="threads route as new"):
        meta = model.invoke(history(), config=config).response_metadata["tiered"]
    assert meta["tier"] == "mini"
    assert store.get("t") is None
    store.close()
