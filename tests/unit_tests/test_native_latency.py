"""Issue 11: per-call latency and time to first token, on an injected clock (no real time).

Also the structured-output method switch of a tier whose model only calls tools.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import BaseModel

from langchain_tiered import Tier, TieredChatModel, get_tiered_cost_callback
from langchain_tiered._clock import FakeClock
from tests.unit_tests.fakes import PRICES, FakeTier, usage


class Slow(BaseChatModel):
    """Takes ``first`` seconds to its first token and ``per_chunk`` per further chunk."""

    clock: Any
    first: float = 0.5
    per_chunk: float = 0.25
    words: int = 4

    @property
    def _llm_type(self) -> str:
        return "slow-fake"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.clock.advance(self.first + self.per_chunk * (self.words - 1))
        message = AIMessage(content="w " * self.words, usage_metadata=usage(10, self.words))
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        yield ChatGenerationChunk(message=AIMessageChunk(content=""))  # role-only opener
        for i in range(self.words):
            self.clock.advance(self.first if i == 0 else self.per_chunk)
            yield ChatGenerationChunk(message=AIMessageChunk(content="w "))
        chunk = AIMessageChunk(content="", usage_metadata=usage(10, self.words))
        yield ChatGenerationChunk(message=chunk)


def make(clock: FakeClock) -> TieredChatModel:
    tiers = [Tier(name="only", model=Slow(clock=clock), price=PRICES["budget"])]
    return TieredChatModel(tiers=tiers, clock=clock)


def test_invoke_reports_latency_from_the_injected_clock() -> None:
    clock = FakeClock()
    meta = make(clock).invoke("hi").response_metadata["tiered"]
    assert meta["latency_s"] == pytest.approx(1.25)
    assert "ttft_s" not in meta


def test_stream_reports_time_to_first_token_and_total() -> None:
    clock = FakeClock()
    chunks = list(make(clock).stream("hi"))
    meta = chunks[-1].response_metadata["tiered"]
    assert meta["ttft_s"] == pytest.approx(0.5)  # the empty opener does not count
    assert meta["latency_s"] == pytest.approx(1.25)


async def test_async_twins_report_the_same() -> None:
    clock = FakeClock()
    model = make(clock)
    assert (await model.ainvoke("hi")).response_metadata["tiered"]["latency_s"] == pytest.approx(
        1.25
    )
    chunks = [c async for c in model.astream("hi")]
    assert chunks[-1].response_metadata["tiered"]["ttft_s"] == pytest.approx(0.5)


def test_latency_includes_retry_waits() -> None:
    clock = FakeClock()
    flaky = FakeTier(
        model_name="m",
        script=[TimeoutError("slow"), AIMessage(content="ok", usage_metadata=usage(5, 1))],
    )
    model = TieredChatModel(
        tiers=[Tier(name="only", model=flaky, price=PRICES["budget"])], clock=clock, seed=1
    )
    meta = model.invoke("hi").response_metadata["tiered"]
    assert clock.sleeps
    assert meta["latency_s"] == pytest.approx(sum(clock.sleeps))


def test_cost_callback_keeps_latency_per_tier() -> None:
    clock = FakeClock()
    model = make(clock)
    with get_tiered_cost_callback() as cb:
        model.invoke("hi")
        list(model.stream("hi"))
    stats = cb.by_tier["only"]
    assert (stats.timed_calls, stats.streamed_calls) == (2, 1)
    assert stats.mean_latency_s == pytest.approx(1.25)
    assert stats.mean_ttft_s == pytest.approx(0.5)
    assert cb.summary()["by_tier"]["only"]["latency_s"] == pytest.approx(2.5)


class Person(BaseModel):
    name: str
    age: int


def test_tier_that_only_calls_tools_is_noted_when_json_schema_was_asked() -> None:
    answer = AIMessage(
        content="",
        tool_calls=[{"name": "Person", "args": {"name": "Ada", "age": 36}, "id": "c1"}],
        usage_metadata=usage(10, 5),
    )
    tier = FakeTier(model_name="fake", script=[answer])
    model = TieredChatModel(tiers=[Tier(name="only", model=tier, price=PRICES["budget"])])
    result = model.with_structured_output(Person, method="json_schema", include_raw=True).invoke(
        "hi"
    )
    assert result["parsed"] == Person(name="Ada", age=36)
    [call] = tier.calls
    assert call["kwargs"]["tools"][0]["function"]["name"] == "Person"
    assert "ls_structured_output_format" not in call["kwargs"]  # never sent to the provider
    meta = result["raw"].response_metadata["tiered"]
    assert meta["structured_output_method"] == "json_schema"
    assert "used function_calling" in meta["structured_output_note"]


def test_token_memo_is_bounded_by_bytes_not_only_entries() -> None:
    from langchain_core.messages import HumanMessage

    from langchain_tiered.tokens import TokenCounter

    counter = TokenCounter(max_cached_messages=50_000, max_cached_bytes=200_000)
    big = [HumanMessage(f"{i} " + "x" * 20_000) for i in range(30)]  # ~20 KB of text each
    for message in big:
        counter.count([message], model="gpt-4o")
    assert counter._bytes <= 200_000
    assert 5 <= len(counter._cache) <= 10  # ~20 KB per entry, far below the entry bound
    assert counter._bytes == sum(counter._sizes.values())
    assert set(counter._sizes) == set(counter._cache)
    fresh = TokenCounter(max_cached_bytes=200_000)
    assert (
        counter.count([big[-1]], model="gpt-4o").raw == fresh.count([big[-1]], model="gpt-4o").raw
    )
