"""Thread stickiness without sockets: pricing, the store, identity, the engine (issue 17)."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.runnables import RunnableLambda

from langchain_tiered import ModelPrice, Tier, TieredChatModel
from langchain_tiered.agents import InMemoryThreadStore, ThreadState
from langchain_tiered.agents.sticky import expected_stay, likely_cached, price_switch
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


def test_price_switch_counts_saving_over_the_remaining_steps_against_the_cache_loss() -> None:
    terms: dict[str, Any] = {"prompt_tokens": 10_000, "cached_tokens": 9_984, "output_tokens": 100}
    one = price_switch(BIG, SMALL, steps=1, writes_there=False, **terms)
    # stay: 9,984 x 0.125 + 16 x 1.25 + 100 x 10 = 2,268 micro-USD; cached there: 453.6;
    # first step there, cold: 10,000 x 0.25 + 100 x 2 = 2,700.
    assert one.stay_step_usd == pytest.approx(2268e-6)
    assert one.saving_usd == pytest.approx(1814.4e-6)
    assert one.cache_loss_usd == pytest.approx(2246.4e-6)
    assert not one.worth_it
    two = price_switch(BIG, SMALL, steps=2, writes_there=False, **terms)
    assert two.saving_usd == pytest.approx(3628.8e-6)
    assert two.worth_it
    assert price_switch(BIG, SMALL, steps=0, writes_there=False, **terms).steps == 1


def test_an_anthropic_cache_write_premium_is_part_of_the_cache_loss() -> None:
    terms: dict[str, Any] = {"prompt_tokens": 10_000, "cached_tokens": 9_984, "output_tokens": 100}
    plain = price_switch(BIG, HAIKU, steps=3, writes_there=False, **terms)
    written = price_switch(BIG, HAIKU, steps=3, writes_there=True, **terms)
    # 9,984 tokens written at 1.25 instead of read at 0.1: 11,481.6 micro-USD lost.
    assert written.cache_loss_usd == pytest.approx(11481.6e-6)
    assert plain.cache_loss_usd == pytest.approx(9984 * 0.9e-6)
    assert written.saving_usd == plain.saving_usd


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
    assert call_identity(None, {}) == (None, None)
    explicit = {"tiered_thread": "t", "thread_id": "lg", "tiered_run": "r"}
    assert call_identity(None, explicit) == ("t", "r")
    assert call_identity(None, {"thread_id": "lg"}) == ("lg", None)


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


def test_expected_stay_follows_how_often_the_router_asks_for_more() -> None:
    more = {"top"}
    assert expected_stay({}, more, remaining=10) == 2  # no history yet
    assert expected_stay({"mini": 8}, more, remaining=10) == 10  # never asks for more
    assert expected_stay({"mini": 8}, more, remaining=4) == 4  # never beyond the thread
    assert expected_stay({"top": 4, "mini": 4}, more, remaining=10) == 2
    assert expected_stay({"top": 9, "mini": 1}, more, remaining=10) == 1


def test_a_warm_prefix_there_and_the_way_back_change_the_cache_loss() -> None:
    terms: dict[str, Any] = {"prompt_tokens": 10_000, "cached_tokens": 9_984, "output_tokens": 100}
    cold = price_switch(BIG, SMALL, steps=1, writes_there=False, **terms)
    warm = price_switch(BIG, SMALL, steps=1, writes_there=False, warm_there=8_000, **terms)
    # Only the 1,984 tokens not cached there yet are re-billed: 1,984 x (0.25 - 0.025).
    assert warm.cache_loss_usd == pytest.approx(1984 * 0.225e-6)
    assert warm.saving_usd == cold.saving_usd
    back = price_switch(
        BIG, SMALL, steps=2, writes_there=False, growth_tokens=500, comes_back=True, **terms
    )
    # Coming back bills the 2 x 500 tokens added meanwhile uncached here: 1,000 x 1.125.
    assert back.back_usd == pytest.approx(1000 * 1.125e-6)
    assert back.cache_loss_usd == pytest.approx(cold.cache_loss_usd + back.back_usd)


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
