"""Real OpenAI wire data replayed through ``TieredChatModel``: usage passes through, cost is right.

The recordings (``cassettes/real/openai``) come from public LangChain projects. Their request
bodies differ from what we send, so they match on method and path only and play back in recorded
order (``/work/shared/cassettes/README.md``); every call below therefore names its tier, so each
sends exactly one request, in the recorded order.

Expected costs are computed by hand from the list prices (USD per million tokens) and the
recorded token counts, not through ``ModelPrice.cost``, so a pricing bug cannot cancel itself out.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest
from langchain_openai import ChatOpenAI
from langchain_openai.chat_models.base import OpenAIInvalidRequestError

from langchain_tiered import ModelPrice, PriceBook, Tier, TieredChatModel, count_tokens
from langchain_tiered.fallbacks import RetryPolicy
from tests.integration_tests._replay import (
    REAL_CASSETTES,
    hand_cost,
    merged,
    replay_cassette,
    tiered_meta,
)

pytestmark = pytest.mark.integration

CASSETTES = REAL_CASSETTES / "openai"
replay = partial(replay_cassette, CASSETTES)
TOKENS = "lssdk__test_openai_test_wrap_openai_chat_tokens.yaml"

# List prices, USD per million tokens (input, output), as published by OpenAI.
GPT_4O = (2.50, 10.00)
GPT_4O_MINI = (0.15, 0.60)
O4_MINI = (1.10, 4.40)
GPT_5_NANO = (0.05, 0.40)
GPT_5_NANO_FLEX = (0.025, 0.20)  # the default table's "flex" service-tier price (issue 12)

# The o4-mini prompt exactly as recorded (the request body holds it).
O4_PROMPT = (
    "Write a bash script that takes a matrix represented as a string with format "
    "'[1,2],[3,4],[5,6]' and prints the transpose in the same format."
)


def chat(model: str, **kwargs: Any) -> ChatOpenAI:
    # A fake key: vcrpy intercepts the transport, nothing leaves the machine.
    return ChatOpenAI(model=model, api_key="sk-emulator", max_retries=0, **kwargs)


def tiered(*tiers: Tier) -> TieredChatModel:
    return TieredChatModel(tiers=list(tiers), retry=RetryPolicy(max_attempts=1))


def recorded_models() -> TieredChatModel:
    """Tiers named like the recorded models, priced by the default price book."""
    return tiered(
        Tier(name="reasoning", model=chat("o4-mini")),
        Tier(name="standard", model=chat("gpt-4o-mini", stream_usage=True)),
        Tier(name="nano", model=chat("gpt-5-nano")),
    )


def test_default_price_book_matches_list_prices() -> None:
    """The hand-computed costs below assume these list prices; fail here first if they move."""
    book = PriceBook.default()
    for model, (inp, out) in [
        ("gpt-4o", GPT_4O),
        ("gpt-4o-mini", GPT_4O_MINI),
        ("o4-mini", O4_MINI),
        ("gpt-5-nano", GPT_5_NANO),
    ]:
        price = book.price_for(model)
        assert (price.input_per_mtok, price.output_per_mtok) == (inp, out), model


def test_recorded_usage_passes_through_and_is_priced() -> None:
    model = recorded_models()
    with replay(TOKENS):
        streamed = merged(model.stream("howdy", tier="standard"))
        unmetered = merged(model.stream("howdy", tier="standard", stream_usage=False))
        plain = model.invoke("howdy", tier="standard")
        o4 = model.invoke(O4_PROMPT, tier="reasoning")
        nano = model.invoke("howdy", tier="nano")

    # Usage exactly as langchain-openai parses it from the wire, untouched by the tiered model.
    assert streamed.usage_metadata is not None
    assert streamed.usage_metadata["input_tokens"] == 9
    assert streamed.usage_metadata["output_tokens"] == 9
    assert plain.usage_metadata is not None
    assert (plain.usage_metadata["input_tokens"], plain.usage_metadata["output_tokens"]) == (9, 9)
    assert o4.usage_metadata is not None
    assert (o4.usage_metadata["input_tokens"], o4.usage_metadata["output_tokens"]) == (42, 2119)
    assert o4.usage_metadata.get("output_token_details", {}).get("reasoning") == 1472
    assert nano.usage_metadata == {
        "input_tokens": 8,
        "output_tokens": 296,
        "total_tokens": 304,
        "input_token_details": {"audio": 0, "flex_cache_read": 0, "flex": 8},
        "output_token_details": {"audio": 0, "flex_reasoning": 256, "flex": 40},
    }

    # Costs: 9 x $0.15 + 9 x $0.60 per million, and so on.
    expected = [
        (streamed, "standard", hand_cost(GPT_4O_MINI, 9, 9)),  # 6.75e-06
        (plain, "standard", hand_cost(GPT_4O_MINI, 9, 9)),
        # Reasoning tokens are part of the 2119 output tokens: billed once, at the output price.
        (o4, "reasoning", hand_cost(O4_MINI, 42, 2119)),  # 0.0093698
        # The response says service_tier "flex": billed at the flex price, half the standard.
        (nano, "nano", hand_cost(GPT_5_NANO_FLEX, 8, 296)),  # 0.0000594
    ]
    for message, tier, cost in expected:
        meta = tiered_meta(message)
        assert meta["tier"] == tier
        assert meta["fallback_triggered"] is False
        assert meta["cost_is_estimate"] is False
        assert meta["cost_usd"] == pytest.approx(cost, rel=1e-12), tier

    # Without include_usage the stream carries no usage: the cost is an estimate, and says so.
    assert unmetered.usage_metadata is None
    assert str(unmetered.content).startswith("Howdy!")  # a different sample than `plain`
    meta = tiered_meta(unmetered)
    assert meta["cost_is_estimate"] is True
    assert meta["cost_usd"] > 0


def test_streamed_tool_call_deltas_through_tiers() -> None:
    weather = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Get the current weather in a given city.",
            "parameters": {
                "type": "object",
                "properties": {"location": {"type": "string"}},
                "required": ["location"],
            },
        },
    }
    model = tiered(Tier(name="capable", model=chat("gpt-4o")))
    with replay("lssdk__test_openai_test_tool_call_chunking.yaml"):
        message = merged(model.bind_tools([weather]).stream("What's the weather like in Paris?"))

    [call] = message.tool_calls
    assert call["name"] == "get_weather"
    assert call["args"] == {"location": "Paris"}
    assert message.response_metadata["finish_reason"] == "tool_calls"
    meta = tiered_meta(message)
    assert meta["tier"] == "capable"
    # The recording has no usage chunk, so the cost is estimated from the tokenizer.
    assert meta["cost_is_estimate"] is True


def test_real_invalid_request_is_not_retried_or_fallen_back() -> None:
    # o1-preview is not in the default table; a tier without a price must be priced explicitly.
    o1 = ModelPrice(input_per_mtok=15.0, output_per_mtok=60.0)
    model = tiered(
        Tier(name="reasoning", model=chat("o1-preview"), price=o1),
        Tier(name="cheap", model=chat("gpt-4o-mini")),
    )
    # One recorded interaction and no playback repeats: a fallback or retry would fail to match.
    with (
        replay("lg__disable-streaming_4.yaml"),
        pytest.raises(OpenAIInvalidRequestError) as info,
    ):
        list(model.stream("how many r's are in strawberry?", tier="reasoning"))
    assert info.value.status_code == 400


@pytest.mark.parametrize(
    ("model", "prompt", "recorded"),
    [
        ("gpt-4o-mini", "howdy", 9),
        ("gpt-5-nano", "howdy", 8),
        # o4-mini follows the published formula: 36 content tokens + 3 per message + 3 priming.
        ("o4-mini", O4_PROMPT, 42),
    ],
)
def test_count_tokens_matches_recorded_prompt_tokens(
    model: str, prompt: str, recorded: int
) -> None:
    assert count_tokens(prompt, model=model) == recorded
