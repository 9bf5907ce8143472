"""The output cap that prices a call is the cap sent, under the parameter each tier expects.

Before issue 10 only the router's task cap and ``cap_output_to_budget`` were sent: a call
priced with the 4,096 default or ``Tier(max_output_tokens=...)`` went out uncapped and the
provider could answer at any length.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_openai import ChatOpenAI
from pydantic import BaseModel

from langchain_tiered import Budget, InMemoryLedger, RouteDecision, Tier, TieredChatModel
from langchain_tiered.preflight import CAP_KWARGS, max_tokens_kwarg
from langchain_tiered.routing import RouteRequest
from tests.unit_tests.fakes import PRICES, FakeTier

PROMPT = "Analyze and evaluate step by step our strategy, justify every assumption"


def no_task_cap(request: RouteRequest) -> RouteDecision:
    return RouteDecision(tier="only", reason="test: one tier, no task cap")


def one_tier(model: Any, **tier: Any) -> TieredChatModel:
    return TieredChatModel(
        tiers=[Tier(name="only", model=model, price=PRICES["budget"], **tier)], router=no_task_cap
    )


def caps_sent(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in kwargs.items() if k in CAP_KWARGS}


@pytest.mark.parametrize(
    ("tier", "model_cap", "call", "source", "cap"),
    [
        ({}, None, {}, "default", 4096),
        ({"max_output_tokens": 300}, None, {}, "tier", 300),
        ({}, 222, {}, "model", 222),
        ({"max_output_tokens": 300}, 222, {"max_tokens": 9}, "call", 9),
        ({}, None, {"max_completion_tokens": 11}, "call", 11),
    ],
)
def test_the_cap_that_priced_the_call_is_sent(
    tier: dict[str, Any], model_cap: int | None, call: dict[str, Any], source: str, cap: int
) -> None:
    fake = FakeTier(model_name="m", max_tokens=model_cap)
    meta = one_tier(fake, **tier).invoke(PROMPT, **call).response_metadata["tiered"]
    assert (meta["output_cap_source"], meta["max_output_tokens"]) == (source, cap)
    # exactly one cap, under the model's own parameter name
    assert caps_sent(fake.calls[0]["kwargs"]) == {"max_tokens": cap}


def test_router_task_cap_is_sent() -> None:
    def short(request: RouteRequest) -> RouteDecision:
        return RouteDecision(tier="only", reason="short task", max_output_tokens=64)

    fake = FakeTier(model_name="m")
    model = TieredChatModel(
        tiers=[Tier(name="only", model=fake, price=PRICES["budget"])], router=short
    )
    assert model.invoke(PROMPT).response_metadata["tiered"]["output_cap_source"] == "task"
    assert caps_sent(fake.calls[0]["kwargs"]) == {"max_tokens": 64}


def test_cap_is_sent_on_every_entry_point() -> None:
    fake = FakeTier(model_name="m", script=[AIMessage(content="an answer")])
    model = one_tier(fake, max_output_tokens=77)

    class Answer(BaseModel):
        text: str

    model.invoke(PROMPT)
    list(model.stream(PROMPT))
    model.batch([PROMPT, PROMPT])
    model.bind_tools([Answer]).invoke(PROMPT)
    model.with_structured_output(Answer, include_raw=True).invoke(PROMPT)
    assert len(fake.calls) == 6
    assert [caps_sent(c["kwargs"]) for c in fake.calls] == [{"max_tokens": 77}] * 6


async def test_cap_is_sent_on_async_entry_points() -> None:
    fake = FakeTier(model_name="m")
    model = one_tier(fake, max_output_tokens=77)
    await model.ainvoke(PROMPT)
    [c async for c in model.astream(PROMPT)]
    await model.abatch([PROMPT])
    assert [caps_sent(c["kwargs"]) for c in fake.calls] == [{"max_tokens": 77}] * 3


class _GeminiLike(GenericFakeChatModel):
    """Takes its output cap as ``max_output_tokens``; records call kwargs."""

    max_output_tokens: int | None = None
    seen: list[dict[str, Any]]

    def _generate(self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any) -> Any:
        self.seen.append(kw)
        return super()._generate(messages, stop=stop, run_manager=run_manager, **kw)


def test_a_callers_max_tokens_is_renamed_for_the_tier() -> None:
    gemini = _GeminiLike(messages=iter([AIMessage(content="ok")]), seen=[])
    one_tier(gemini).invoke(PROMPT, max_tokens=7)
    assert caps_sent(gemini.seen[0]) == {"max_output_tokens": 7}


def test_uncappable_model_is_priced_at_its_own_maximum_output() -> None:
    no_cap = GenericFakeChatModel(
        messages=iter([AIMessage(content="ok")]), profile={"max_output_tokens": 12_345}
    )
    meta = one_tier(no_cap).invoke(PROMPT, max_tokens=5).response_metadata["tiered"]
    # max_tokens=5 cannot be sent under a known name, so it cannot bound the worst case
    assert (meta["output_cap_source"], meta["max_output_tokens"]) == ("model_max", 12_345)
    declared = GenericFakeChatModel(messages=iter([AIMessage(content="ok")]))
    meta = one_tier(declared, max_output_tokens=999).invoke(PROMPT).response_metadata["tiered"]
    assert (meta["output_cap_source"], meta["max_output_tokens"]) == ("tier", 999)


def test_default_cap_never_exceeds_the_models_maximum_or_the_window_left() -> None:
    fake = FakeTier(model_name="m", profile={"max_output_tokens": 1000})
    meta = one_tier(fake).invoke(PROMPT).response_metadata["tiered"]
    assert meta["max_output_tokens"] == 1000
    assert caps_sent(fake.calls[0]["kwargs"]) == {"max_tokens": 1000}
    small = FakeTier(model_name="m")
    meta = one_tier(small, context_window=100).invoke(PROMPT).response_metadata["tiered"]
    room = 100 - meta["prompt_tokens_estimate"]
    assert meta["max_output_tokens"] == room
    assert caps_sent(small.calls[0]["kwargs"]) == {"max_tokens": room}


def test_openai_reasoning_models_take_max_completion_tokens() -> None:
    def chat(name: str) -> ChatOpenAI:
        return ChatOpenAI(model=name, api_key="placeholder")  # type: ignore[arg-type]

    assert max_tokens_kwarg(chat("o4-mini")) == "max_completion_tokens"
    assert max_tokens_kwarg(chat("gpt-5-nano")) == "max_completion_tokens"
    assert max_tokens_kwarg(chat("gpt-4.1-mini")) == "max_tokens"


def test_budget_reservation_uses_the_sent_cap() -> None:
    ledger = InMemoryLedger()
    fake = FakeTier(model_name="m")
    model = TieredChatModel(
        tiers=[Tier(name="only", model=fake, price=PRICES["budget"], max_output_tokens=50)],
        budget=Budget(limit_usd=1.0, ledger=ledger),
    )
    meta = model.invoke(PROMPT).response_metadata["tiered"]
    expected = PRICES["budget"].worst_case(meta["prompt_tokens_estimate"], 50)
    assert meta["estimated_cost_usd"] == pytest.approx(expected)
    assert caps_sent(fake.calls[0]["kwargs"]) == {"max_tokens": 50}
