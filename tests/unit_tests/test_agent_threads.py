"""Thread stickiness without sockets: pricing, the store, identity, the engine (issue 17)."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.runnables import RunnableLambda

from langchain_tiered import ModelPrice, Tier, TieredChatModel
from langchain_tiered.agents import InMemoryThreadStore, ThreadState
from langchain_tiered.agents.sticky import likely_cached, price_switch, router_share
from langchain_tiered.agents.threads import call_identity
from langchain_tiered.routing import RouteDecision, RouteRequest
from langchain_tiered.testing import FakeClock
from langchain_tiered.tokens import TokenCounter
from tests.unit_tests.fakes import FakeTier, usage

BIG = ModelPrice(input_per_mtok=1.25, cached_input_per_mtok=0.125, output_per_mtok=10.0)
SMALL = ModelPrice(input_per_mtok=0.25, cached_input_per_mtok=0.025, output_per_mtok=2.0)
HAIKU = ModelPrice(
    input_per_mtok=1.0, cached_input_per_mtok=0.1, cache_write_per_mtok=1.25, output_per_mtok=5.0
)
LONG = "You are an agent. " + " ".join(f"rule-{i} holds." for i in range(1500))


def switch(there: ModelPrice = SMALL, **kwargs: Any) -> Any:
    terms: dict[str, Any] = {
        "prompt_tokens": 10_000,
        "cached_tokens": 9_984,
        "output_tokens": 100,
        "growth_tokens": 0,
        "share": 0.5,
        "steps": 1,
    }
    return price_switch(BIG, there, **{**terms, **kwargs})


def test_one_step_on_a_cold_cheaper_tier_loses_more_than_it_saves() -> None:
    one = switch()
    # Cached prices: 10,000 x 0.125 + 100 x 10 = 2,250 here, 10,000 x 0.025 + 100 x 2 = 450
    # there (micro-USD). Cold there: 10,000 x (0.25 - 0.025) = 2,250 extra, against the 16
    # uncached tokens here: 16 x 1.125 = 18.
    assert one.saving_usd == pytest.approx(1800e-6)
    assert one.cache_loss_usd == pytest.approx(2232e-6)
    assert not one.worth_it
    two = switch(steps=2)  # the router sends the next call there too: the cache pays back
    assert two.saving_usd == pytest.approx(3600e-6)
    assert two.cache_loss_usd == pytest.approx(2232e-6)
    assert two.worth_it
    assert switch(steps=0).steps == 1


def test_coming_back_re_bills_only_what_this_tier_has_not_seen() -> None:
    # This call there, the next two here; the history grows by 1,000 tokens per call.
    trip = switch(steps=3, share=0.2, growth_tokens=1_000)
    # Back here, the first call re-bills 1,016 tokens (the 16 never cached plus the growth)
    # where staying re-bills 1,000: 16 x 1.125 = 18 more.
    assert trip.saving_usd == pytest.approx(1800e-6)
    assert trip.cache_loss_usd == pytest.approx((2232 + 18) * 1e-6)


def test_a_warm_prefix_there_and_an_anthropic_write_change_the_cache_loss() -> None:
    # 8,000 tokens still cached there: only 2,000 x 0.225 = 450 re-billed.
    assert switch(warm_there=8_000).cache_loss_usd == pytest.approx((450 - 18) * 1e-6)
    written = switch(HAIKU, writes_there=True)
    # 10,000 tokens written at 1.25 instead of read at 0.1: 11,500 extra.
    assert written.cache_loss_usd == pytest.approx((11_500 - 18) * 1e-6)
    assert written.saving_usd == pytest.approx((2250 - 1500) * 1e-6)


def test_router_share_is_laplace_smoothed() -> None:
    assert router_share({}, {"mini"}) == 0.5
    assert router_share({"mini": 8}, {"mini"}) == 0.9
    assert router_share({"top": 4, "mini": 4}, {"mini"}) == 0.5


def test_likely_cached_follows_the_providers_prefix_steps() -> None:
    assert likely_cached(BIG, 5_000, 1_023) == 0  # below the minimum
    assert likely_cached(BIG, 1_151, 9_000) == 1_024  # the last prompt bounds the prefix
    assert likely_cached(BIG, 1_152, 9_000) == 1_152
    assert likely_cached(BIG, 20_000, 9_000) == 8_960
    assert likely_cached(ModelPrice(input_per_mtok=1, output_per_mtok=1), 5_000, 5_000) == 0


def test_thread_store_expires_and_evicts() -> None:
    clock = FakeClock()
    store = InMemoryThreadStore(ttl_seconds=60, max_threads=2, clock=clock)
    state = ThreadState(tier="top", input_tokens=5, cached_tokens=0, output_tokens=1, steps=1)
    store.put("a", state)
    clock.advance(60)
    assert store.get("a") == state
    clock.advance(0.5)
    assert store.get("a") is None
    for name in ("b", "c", "d"):
        store.put(name, state)
    assert store.get("b") is None  # least recently used, evicted
    assert store.get("d") == state
    with pytest.raises(ValueError, match="ttl_seconds"):
        InMemoryThreadStore(ttl_seconds=0)


def test_call_identity_precedence() -> None:
    own, parent = uuid4(), uuid4()
    assert call_identity(None, None, {}) == (None, None)
    assert call_identity(own, None, {}) == (None, str(own))  # a lone call is its own run
    explicit = {"tiered_thread": "t", "thread_id": "lg", "tiered_run": "r"}
    assert call_identity(own, parent, explicit) == ("t", "r")
    assert call_identity(own, None, {"thread_id": "lg"}) == ("lg", str(own))
    # A parent the tracker has not seen is taken as the root.
    assert call_identity(own, parent, {}) == (f"run:{parent}", str(parent))


def want(request: RouteRequest) -> RouteDecision:
    tier = str(request.metadata.get("want", "top"))
    return RouteDecision(tier=tier, reason=f"asked {tier}")


def fake(name: str, *, warm: bool) -> FakeTier:
    """Bills the prompt as counted; a warm tier reports all but its last 100 tokens cached."""

    def respond(messages: list[BaseMessage], kwargs: dict[str, Any]) -> AIMessage:
        prompt = TokenCounter().count(messages, model=name).estimate
        cached = prompt - 100 if warm else 0
        return AIMessage(content="ok", usage_metadata=usage(prompt, 20, cache_read=cached))

    return FakeTier(model_name=name, respond=respond)


def make_model(**kwargs: Any) -> TieredChatModel:
    return TieredChatModel(
        tiers=[
            Tier(name="top", model=fake("gpt-5", warm=True), price=BIG),
            Tier(name="mini", model=fake("gpt-5-mini", warm=False), price=SMALL),
        ],
        router=want,
        max_tokens=50,
        **kwargs,
    )


def history() -> list[BaseMessage]:
    return [SystemMessage(LONG), HumanMessage("go on")]


def test_calls_inside_one_run_share_a_thread_and_separate_runs_do_not() -> None:
    model = make_model(thread_expected_steps=2)

    def two_steps(_: Any) -> list[dict[str, Any]]:
        first = model.invoke(history())
        second = model.invoke(history(), config={"metadata": {"want": "mini"}})
        return [first.response_metadata["tiered"], second.response_metadata["tiered"]]

    chain = RunnableLambda(two_steps)
    first, second = chain.invoke(None)
    assert (first["tier"], second["tier"]) == ("top", "top")
    assert "thread stays on 'top': switch to 'mini' refused" in second["reason"]
    store = model._rt.threads
    assert isinstance(store, InMemoryThreadStore)
    assert len(store) == 1
    chain.invoke(None)
    assert len(store) == 2  # another invocation, another thread
    model.invoke(history())
    assert len(store) == 2  # a lone call is no thread


def test_a_streamed_call_updates_its_thread() -> None:
    model = make_model(thread_expected_steps=2)
    meta = {"tiered_thread": "s"}
    chunks = list(model.stream(history(), config={"metadata": meta}))
    assert chunks
    store = model._rt.threads
    assert store is not None
    state = store.get("s")
    assert state is not None
    assert (state.tier, state.input_tokens - state.cached_tokens, state.steps) == ("top", 100, 1)
    assert state.input_tokens > 8_000
    answer = model.invoke(history(), config={"metadata": {**meta, "want": "mini"}})
    assert answer.response_metadata["tiered"]["tier"] == "top"


def test_the_reservation_stays_the_full_price_worst_case_on_a_warm_thread() -> None:
    model = make_model()
    config: Any = {"metadata": {"tiered_thread": "w"}}
    model.invoke(history(), config=config)
    warm = model.invoke(history(), config=config).response_metadata["tiered"]
    assert "likely cached, expected ~$" in warm["reason"]
    expected = float(warm["reason"].split("expected ~$")[1].split(")")[0])
    # The cache-aware figure informs the decision; the reserved worst case stays the one a
    # cache miss could bill (the full prompt at the uncached price plus the output cap).
    full = BIG.worst_case(warm["prompt_tokens_estimate"], warm["max_output_tokens"])
    assert warm["estimated_cost_usd"] == pytest.approx(full)
    assert expected < warm["estimated_cost_usd"]
    assert warm["cost_usd"] <= warm["estimated_cost_usd"]


def test_an_override_beats_the_thread() -> None:
    model = make_model(sticky="always")
    config: Any = {"metadata": {"tiered_thread": "o"}}
    model.invoke(history(), config=config)
    answer = model.invoke(history(), config=config, tier="mini")
    assert answer.response_metadata["tiered"]["tier"] == "mini"
    assert "thread" not in answer.response_metadata["tiered"]["reason"]


def test_a_thread_moves_up_when_the_router_asks_for_a_more_capable_tier() -> None:
    model = make_model(thread_expected_steps=2)
    config: Any = {"metadata": {"tiered_thread": "up", "want": "mini"}}
    model.invoke(history(), config=config)
    config["metadata"]["want"] = "top"
    meta = model.invoke(history(), config=config).response_metadata["tiered"]
    assert meta["tier"] == "top"
    assert "thread moves up from 'mini' (router asks for more; cache loss ~$" in meta["reason"]
    store = model._rt.threads
    assert store is not None
    state = store.get("up")
    assert state is not None
    assert dict(state.asked) == {"top": 1}  # the router's decisions from the second call on
    assert state.prefix_on("mini") > 8_000
    assert state.prefix_on("top") > 8_000
    assert state.steps == 2


async def test_async_calls_keep_their_thread_too() -> None:
    model = make_model(thread_expected_steps=2)
    config: Any = {"metadata": {"tiered_thread": "async"}}
    await model.ainvoke(history(), config=config)
    config["metadata"]["want"] = "mini"
    answer = await model.ainvoke(history(), config=config)
    assert answer.response_metadata["tiered"]["tier"] == "top"
    assert "switch to 'mini' refused" in answer.response_metadata["tiered"]["reason"]
