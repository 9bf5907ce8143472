"""Issue 12 through the engine: the worst case a call reserves and the cost it settles."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage

from langchain_tiered import Tier, TieredChatModel
from langchain_tiered.pricing import PriceBook
from langchain_tiered.testing import FakeClock

M = 1e6


def _fake(name: str, *replies: AIMessage, **attrs: Any) -> GenericFakeChatModel:
    model = GenericFakeChatModel(messages=iter(replies or [AIMessage("ok")]))
    for key, value in {"model_name": name, **attrs}.items():
        object.__setattr__(model, key, value)
    return model


def _tiered(model: GenericFakeChatModel, **kwargs: Any) -> TieredChatModel:
    return TieredChatModel(tiers=[Tier(name="only", model=model)], **kwargs)


def test_claude_worst_case_has_the_write_premium_only_with_breakpoints() -> None:
    tiered = _tiered(_fake("claude-sonnet-4-5"))
    plain = tiered.plan([HumanMessage("hello there")], max_tokens=100)
    marked = tiered.plan(
        [HumanMessage([{"type": "text", "text": "hello there",
                        "cache_control": {"type": "ephemeral", "ttl": "1h"}}])],
        max_tokens=100,
    )  # fmt: skip
    plain_pre, marked_pre = plain.on_tier["only"], marked.on_tier["only"]
    assert plain_pre.cache_writes == "none"
    assert marked_pre.cache_writes == "1h"
    out = plain_pre.max_output_tokens  # a fake model takes no cap: its own maximum
    assert plain_pre.worst_case_usd == pytest.approx(
        (plain_pre.prompt_tokens * 3.0 + out * 15.0) / M
    )
    assert marked_pre.worst_case_usd == pytest.approx(
        (marked_pre.prompt_tokens * 6.0 + out * 15.0) / M  # 1-hour writes: 2x input
    )


def test_priority_model_reserves_and_settles_at_priority_prices() -> None:
    usage = {"input_tokens": 10, "output_tokens": 20, "total_tokens": 30}
    reply = AIMessage("ok", usage_metadata=usage, response_metadata={"service_tier": "priority"})
    tiered = _tiered(_fake("gpt-5", reply, service_tier="priority"))
    pre = tiered.plan([HumanMessage("hi")], max_tokens=100).on_tier["only"]
    assert pre.service_tier == "priority"
    out = pre.max_output_tokens
    assert pre.worst_case_usd == pytest.approx((pre.prompt_tokens * 2.5 + out * 20.0) / M)
    message = tiered.invoke("hi", max_tokens=100)
    meta = message.response_metadata["tiered"]
    assert meta["cost_usd"] == pytest.approx((10 * 2.5 + 20 * 20.0) / M)  # not 1.25 / 10
    assert meta["cost_usd"] <= meta["estimated_cost_usd"]


def test_long_prompt_shrinks_output_at_the_long_context_rate() -> None:
    price = PriceBook.default().price_for("gpt-5.4")
    from langchain_tiered.preflight import max_output_within

    room = 2.1
    allowed = max_output_within(price, 400_000, room)
    assert allowed == int((room - 400_000 * 5.0 / M) * M / 22.5)  # 22.5, not the base 15
    assert price.worst_case(400_000, allowed) <= room


def test_settlement_reads_deepseek_hits_and_the_clock() -> None:
    usage = {"input_tokens": 10_000, "output_tokens": 1000, "total_tokens": 11_000}
    hits = {"prompt_cache_hit_tokens": 8000, "prompt_cache_miss_tokens": 2000}
    raw = {"token_usage": {"prompt_tokens": 10_000, "completion_tokens": 1000, **hits}}
    reply = AIMessage("ok", usage_metadata=usage, response_metadata=raw)
    clock = FakeClock(start=datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc))  # Saturday
    tiered = _tiered(_fake("deepseek-v4-pro", reply), clock=clock)
    meta = tiered.invoke("hi").response_metadata["tiered"]
    # off-peak: 0.66 miss / 0.022 hit / 1.98 output
    assert meta["cost_usd"] == pytest.approx((2000 * 0.66 + 8000 * 0.022 + 1000 * 1.98) / M)
