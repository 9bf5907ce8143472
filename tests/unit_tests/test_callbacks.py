"""TieredCostCallbackHandler: every call counted exactly once, with exact costs from fake tiers."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from langchain_core.caches import InMemoryCache
from langchain_core.exceptions import ModelRateLimitError
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableParallel
from langchain_core.tools import tool

from langchain_tiered import (
    Budget,
    BudgetExceededError,
    InMemoryLedger,
    ModelPrice,
    PriceBook,
    Tier,
    TieredChatModel,
    TieredCostCallbackHandler,
    get_tiered_cost_callback,
)
from langchain_tiered.fallbacks import RetryPolicy
from langchain_tiered.testing import FakeClock
from tests.unit_tests.fakes import PRICES, FakeTier, usage

ASK = "Liste die Hauptstädte Europas auf"
BUDGET = {"metadata": {"tier": "budget"}}


def answer(inp: int = 10, out: int = 2, **kw: int) -> AIMessage:
    return AIMessage(content="an answer", usage_metadata=usage(inp, out, **kw))  # type: ignore[arg-type]


def cost(tier: str, inp: int = 10, out: int = 2, **kw: int) -> float:
    return PRICES[tier].cost(usage(inp, out, **kw))


def make(scripts: dict[str, list[Any]] | None = None, **kwargs: Any) -> TieredChatModel:
    scripts = scripts or {}
    tiers = [
        Tier(
            name=n,
            model=FakeTier(model_name=f"{n}-model", script=scripts.get(n, [answer()])),
            price=PRICES[n],
        )
        for n in ("critical", "standard", "budget")
    ]
    kwargs.setdefault("retry", RetryPolicy(max_attempts=1, jitter=False))
    return TieredChatModel(tiers=tiers, clock=FakeClock(), seed=0, **kwargs)


def assert_one_budget_call(cb: TieredCostCallbackHandler, n: int = 1) -> None:
    assert cb.calls == n
    assert cb.total_cost_usd == pytest.approx(n * cost("budget"))
    assert cb.baseline_cost_usd == pytest.approx(n * cost("critical"))
    assert cb.savings_usd == pytest.approx(n * (cost("critical") - cost("budget")))
    assert set(cb.by_tier) == {"budget"}
    assert cb.by_tier["budget"].calls == n
    assert cb.by_tier["budget"].input_tokens == 10 * n
    assert cb.by_tier["budget"].output_tokens == 2 * n
    assert set(cb.by_model) == {"budget-model"}
    assert cb.by_model["budget-model"].calls == n
    assert cb.unpriced_calls == 0


# -- exactly once ---------------------------------------------------------------------------


def test_invoke_counts_once_with_exact_cost_estimate_and_baseline() -> None:
    model = make()
    with get_tiered_cost_callback() as cb:
        msg = model.invoke(ASK, tier="budget")
    meta = msg.response_metadata["tiered"]
    assert_one_budget_call(cb)
    assert cb.estimated_cost_usd == pytest.approx(meta["estimated_cost_usd"])
    assert cb.estimated_cost_usd > cb.total_cost_usd
    assert cb.by_tier["budget"].cost_usd == pytest.approx(cost("budget"))
    assert cb.fallbacks == cb.refusals == cb.cache_hits == 0


def test_explicit_callbacks_config_counts_once() -> None:
    cb = TieredCostCallbackHandler()
    make().invoke(ASK, config={"callbacks": [cb], **BUDGET})
    assert_one_budget_call(cb)


@pytest.mark.parametrize("explicit", [False, True])
def test_stream_counts_once(explicit: bool) -> None:
    model = make()
    if explicit:
        cb = TieredCostCallbackHandler()
        chunks = list(model.stream(ASK, config={"callbacks": [cb], **BUDGET}))
    else:
        with get_tiered_cost_callback() as cb:
            chunks = list(model.stream(ASK, tier="budget"))
    assert len(chunks) > 1
    assert_one_budget_call(cb)


def test_chain_invoke_and_stream_count_once_each() -> None:
    chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | make() | StrOutputParser()
    with get_tiered_cost_callback() as cb:
        assert chain.invoke({"q": ASK}, config=BUDGET) == "an answer"
        assert "".join(chain.stream({"q": ASK}, config=BUDGET)) == "an answer"
    assert_one_budget_call(cb, 2)


def test_batch_counts_each_item_once() -> None:
    with get_tiered_cost_callback() as cb:
        make().batch([ASK] * 5, config=BUDGET)
    assert_one_budget_call(cb, 5)


async def test_async_ainvoke_astream_abatch_across_await() -> None:
    model = make()
    with get_tiered_cost_callback() as cb:
        await model.ainvoke(ASK, tier="budget")
        await asyncio.sleep(0)
        chunks = [c async for c in model.astream(ASK, tier="budget")]
        await model.abatch([ASK] * 3, config=BUDGET)
        chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | model
        await chain.ainvoke({"q": ASK}, config=BUDGET)
    assert len(chunks) > 1
    assert_one_budget_call(cb, 6)


def test_threads_share_one_handler() -> None:
    model = make()
    cb = TieredCostCallbackHandler()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: model.invoke(ASK, config={"callbacks": [cb], **BUDGET}), range(40)))
    assert_one_budget_call(cb, 40)
    # nothing leaks
    assert not cb._tiered
    assert not cb._inside
    assert not cb._hints


def test_agent_counts_each_model_turn_once() -> None:
    agents = pytest.importorskip("langchain.agents")

    @tool
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    call = AIMessage(
        content="",
        tool_calls=[{"name": "add", "args": {"a": 1, "b": 2}, "id": "c1"}],
        usage_metadata=usage(20, 5),
    )
    model = make({"budget": [call, answer(30, 1)]})
    agent = agents.create_agent(model, tools=[add])
    with get_tiered_cost_callback() as cb:
        agent.invoke({"messages": [("human", ASK)]}, config=BUDGET)
    assert cb.calls == 2
    assert cb.total_cost_usd == pytest.approx(cost("budget", 20, 5) + cost("budget", 30, 1))
    assert cb.by_tier["budget"].input_tokens == 50


def test_block_exit_stops_counting_even_after_an_error() -> None:
    model = make()
    seen: list[TieredCostCallbackHandler] = []

    def use_and_fail() -> None:
        with get_tiered_cost_callback() as cb:
            seen.append(cb)
            model.invoke(ASK, tier="budget")
            raise RuntimeError

    with pytest.raises(RuntimeError):
        use_and_fail()
    model.invoke(ASK, tier="budget")
    assert seen[0].calls == 1


# -- cache hits, refusals, fallbacks, events -------------------------------------------------


def test_cache_hit_is_a_free_call_that_avoided_the_first_cost_and_is_not_billed() -> None:
    ledger = InMemoryLedger()
    model = make(cache=InMemoryCache(), budget=Budget(limit_usd=1, ledger=ledger))
    with get_tiered_cost_callback() as cb:
        model.invoke(ASK, tier="budget")
        model.invoke(ASK, tier="budget")
    assert cb.calls == 2
    assert cb.cache_hits == 1
    assert cb.total_cost_usd == pytest.approx(cost("budget"))
    assert cb.avoided_cost_usd == pytest.approx(cost("budget"))
    assert cb.by_tier["budget"].calls == 2
    assert cb.by_tier["budget"].input_tokens == 10  # the hit billed no tokens
    assert len(ledger.records()) == 1


def test_budget_refusal_is_counted_per_tier() -> None:
    model = make(max_cost_per_call=1e-9, on_budget_exceeded="raise")
    with get_tiered_cost_callback() as cb, pytest.raises(BudgetExceededError) as err:
        model.invoke(ASK, tier="budget")
    assert cb.refusals == 1
    assert cb.calls == 0
    assert cb.total_cost_usd == 0
    assert err.value.tier is not None
    assert cb.by_tier[err.value.tier].refusals == 1


def test_fallback_counts_once_on_the_answering_tier_and_records_events() -> None:
    model = make({"budget": [ModelRateLimitError("429")]})
    cb = TieredCostCallbackHandler()
    meta = model.invoke(ASK, config={"callbacks": [cb]}).response_metadata["tiered"]
    assert meta["fallback_triggered"]
    assert cb.calls == 1
    assert cb.fallbacks == 1
    assert cb.by_tier[meta["tier"]].fallbacks == 1
    assert cb.total_cost_usd == pytest.approx(cost(meta["tier"]))
    assert "budget" not in cb.by_tier  # the failed attempt cost nothing
    assert [e["name"] for e in cb.events] == ["tiered.route", "tiered.fallback"]
    assert cb.events[1]["data"]["from_tier"] == "budget"


def test_events_are_bounded() -> None:
    model = make()
    cb = TieredCostCallbackHandler(max_events=3)
    for _ in range(5):
        model.invoke(ASK, config={"callbacks": [cb]})
    assert len(cb.events) == 3
    assert cb.calls == 5


def test_cached_and_reasoning_tokens_are_broken_out() -> None:
    model = make({"budget": [answer(100, 40, cache_read=60, reasoning=30)]})
    with get_tiered_cost_callback() as cb:
        model.invoke(ASK, tier="budget")
    stats = cb.by_tier["budget"]
    assert (stats.cached_tokens, stats.reasoning_tokens) == (60, 30)
    assert stats.cost_usd == pytest.approx(cost("budget", 100, 40, cache_read=60, reasoning=30))


# -- plain chat models -----------------------------------------------------------------------


def test_plain_model_is_priced_from_the_price_book() -> None:
    plain = FakeTier(model_name="gpt-4o", script=[answer(1000, 100)])
    with get_tiered_cost_callback() as cb:
        plain.invoke("hi")
        list(plain.stream("hi"))
    expected = PriceBook.default().price_for("gpt-4o").cost(usage(1000, 100))
    assert cb.calls == 2
    assert cb.total_cost_usd == pytest.approx(2 * expected)
    assert cb.by_model["gpt-4o"].cost_usd == pytest.approx(2 * expected)
    assert cb.by_tier == {}
    assert cb.unpriced_calls == 0


def test_unknown_plain_model_is_unpriced_never_free() -> None:
    plain = FakeTier(model_name="my-private-llm", script=[answer(7, 3)])
    with get_tiered_cost_callback() as cb:
        plain.invoke("hi")
        make().invoke(ASK, tier="budget")
    assert cb.calls == 2
    assert cb.unpriced_calls == 1
    assert cb.unpriced_models == {"my-private-llm"}
    assert cb.by_model["my-private-llm"].cost_usd is None
    assert cb.by_model["my-private-llm"].input_tokens == 7
    assert cb.total_cost_usd == pytest.approx(cost("budget"))


def test_custom_price_book_prices_a_private_model() -> None:
    book = PriceBook({"my-private-llm": ModelPrice(input_per_mtok=1.0, output_per_mtok=2.0)})
    plain = FakeTier(model_name="my-private-llm", script=[answer(1_000_000, 500_000)])
    with get_tiered_cost_callback(price_book=book) as cb:
        plain.invoke("hi")
    assert cb.total_cost_usd == pytest.approx(2.0)
    assert cb.unpriced_calls == 0


def test_summary_is_json_and_repr_is_short() -> None:
    plain = FakeTier(model_name="my-private-llm")
    with get_tiered_cost_callback() as cb:
        make().invoke(ASK, tier="budget")
        plain.invoke("hi")
    data = json.loads(json.dumps(cb.summary()))
    assert data["calls"] == 2
    assert data["unpriced_models"] == ["my-private-llm"]
    assert data["by_tier"]["budget"]["calls"] == 1
    assert data["by_model"]["my-private-llm"]["cost_usd"] is None
    assert repr(cb).startswith("TieredCostCallbackHandler(calls=2, ")
    assert "unpriced_calls=1" in repr(cb)


def test_plain_call_beside_a_streaming_tiered_call_is_kept() -> None:
    # While the tiered model streams, its tier's run is not linked to it; an unrelated plain
    # call running at the same time must still count, and the tier's run must not.
    plain = FakeTier(model_name="gpt-4o", script=[answer(1000, 100)])
    both = RunnableParallel(plain=plain, tiered=make())
    with get_tiered_cost_callback() as cb:
        list(both.stream(ASK, config=BUDGET))
    expected = PriceBook.default().price_for("gpt-4o").cost(usage(1000, 100))
    assert cb.calls == 2
    assert cb.total_cost_usd == pytest.approx(expected + cost("budget"))
    assert cb.by_model["gpt-4o"].calls == 1
    assert cb.by_tier["budget"].calls == 1


def test_plain_model_cache_hit_is_free_and_records_what_it_avoided() -> None:
    plain = FakeTier(model_name="gpt-4o", script=[answer(1000, 100)], cache=InMemoryCache())
    with get_tiered_cost_callback() as cb:
        plain.invoke("hi")
        plain.invoke("hi")
    expected = PriceBook.default().price_for("gpt-4o").cost(usage(1000, 100))
    assert len(plain.calls) == 1
    assert cb.calls == 2
    assert cb.cache_hits == 1
    assert cb.total_cost_usd == pytest.approx(expected)
    assert cb.avoided_cost_usd == pytest.approx(expected)
    assert cb.by_model["gpt-4o"].calls == 2
    assert cb.by_model["gpt-4o"].input_tokens == 1000


def test_tiered_model_as_a_tier_counts_once() -> None:
    inner = make()
    outer = TieredChatModel(tiers=[Tier(name="inner", model=inner, price=PRICES["budget"])])
    with get_tiered_cost_callback() as cb:
        outer.invoke(ASK)
    assert cb.calls == 1
    assert set(cb.by_tier) == {"inner"}


# -- the context manager registers one hook, not one per block ---------------------------------


def test_hook_count_stays_constant_over_many_blocks() -> None:
    from langchain_core.tracers.context import _configure_hooks

    model = make()
    with get_tiered_cost_callback():  # any first-use registration happens here
        pass
    before = len(_configure_hooks)
    for _ in range(200):
        with get_tiered_cost_callback() as cb:
            model.invoke(ASK, tier="budget")
        assert cb.calls == 1
    assert len(_configure_hooks) == before


def test_nested_blocks_each_count_their_own_calls() -> None:
    model = make()
    with get_tiered_cost_callback() as outer:
        model.invoke(ASK, tier="budget")
        with get_tiered_cost_callback() as inner:
            model.invoke(ASK, tier="budget")
        model.invoke(ASK, tier="budget")
    assert (outer.calls, inner.calls) == (3, 1)
    with get_tiered_cost_callback() as later:
        model.invoke(ASK, tier="budget")
    assert (outer.calls, inner.calls, later.calls) == (3, 1, 1)


def test_handler_runs_inline() -> None:
    assert TieredCostCallbackHandler.run_inline is True


class _RawUsageModel(BaseChatModel):
    """A plain chat model whose raw usage lives only in ``response_metadata``."""

    model_name: str
    raw: dict[str, Any]

    @property
    def _llm_type(self) -> str:
        return "raw-usage"

    def _generate(self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any) -> Any:
        message = AIMessage(
            content="ok",
            usage_metadata=usage(1000, 100),
            response_metadata={"model_name": self.model_name, **self.raw},
        )
        return ChatResult(generations=[ChatGeneration(message=message)])


def test_plain_deepseek_cache_hits_are_priced_from_raw_usage() -> None:
    raw = {"token_usage": {"prompt_cache_hit_tokens": 800, "prompt_cache_miss_tokens": 200}}
    with get_tiered_cost_callback() as cb:
        _RawUsageModel(model_name="deepseek-chat", raw=raw).invoke("hi")
    # deepseek-chat: $0.28 per million uncached input, $0.028 cache hits, $0.42 output.
    expected = (200 * 0.28 + 800 * 0.028 + 100 * 0.42) / 1e6
    assert cb.total_cost_usd == pytest.approx(expected)
    assert cb.by_model["deepseek-chat"].cached_tokens == 800


def test_plain_flex_service_tier_is_priced_at_the_flex_rate() -> None:
    with get_tiered_cost_callback() as cb:
        _RawUsageModel(model_name="gpt-5-mini", raw={"service_tier": "flex"}).invoke("hi")
    flex = PriceBook.default().price_for("gpt-5-mini").service_tiers["flex"]
    assert cb.total_cost_usd == pytest.approx(flex.cost(usage(1000, 100)))
    assert cb.total_cost_usd == pytest.approx((1000 * 0.125 + 100 * 1.0) / 1e6)
