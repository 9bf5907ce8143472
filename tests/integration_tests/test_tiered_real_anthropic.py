"""Real Anthropic wire data replayed through ``TieredChatModel`` over ``ChatAnthropic`` tiers.

The recordings (``cassettes/real/anthropic``, copied from ``/work/shared/cassettes/anthropic``)
come from public LangChain projects. As in ``test_tiered_real_cassettes.py`` they match on method
and path only and play back in recorded order, so every call below is built like the recorded
request (same model, prompt, ``max_tokens``, temperature, tools, stream or not) and sends exactly
one request.

Expected costs are computed by hand from the list prices (USD per million tokens) and the
recorded token counts, not through ``ModelPrice.cost``, so a pricing bug cannot cancel itself out.
All recorded models resolve in the default price book (``claude-3-5-sonnet-latest`` ->
``claude-3-5-sonnet``, ``claude-3-5-haiku-20241022`` -> ``claude-3-5-haiku``, ...);
``test_default_price_book_matches_list_prices`` pins the numbers used here.

Claude prompts are counted before the call with o200k x 1.3 (``_tokens_models``); the estimate
should err high, and the runtime calibration (``TokenCounter.observe``) should move towards the
provider's real count.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any

import pytest
from langchain_anthropic import ChatAnthropic
from langchain_core.messages import BaseMessage, HumanMessage

from langchain_tiered import PriceBook, Tier, TieredChatModel
from langchain_tiered.fallbacks import RetryPolicy
from langchain_tiered.tokens import TokenCounter
from tests.integration_tests._replay import (
    REAL_CASSETTES,
    hand_cost,
    merged,
    replay_cassette,
    tiered_meta,
)

pytestmark = pytest.mark.integration

CASSETTES = REAL_CASSETTES / "anthropic"
replay = partial(replay_cassette, CASSETTES)
STREAM = "lc__TestAnthropicStandard_test_stream_time.yaml"
TOOLS = "lg__tool-calling_19.yaml"
RAW = "lssdk__test_anthropic_with_raw_response_test_messages_with_raw_response_sync.yaml"

# List prices, USD per million tokens (input, output), as in langchain_tiered/_price_table.py
# (Anthropic's published list prices).
CLAUDE_3_5_SONNET = (3.00, 15.00)
CLAUDE_3_HAIKU = (0.25, 1.25)
CLAUDE_3_5_HAIKU = (0.80, 4.00)
CLAUDE_HAIKU_4_5 = (1.00, 5.00)

CLAUDE_PRIOR_FACTOR = 1.3  # _tokens_models: Claude is counted with o200k x 1.3
EMA_ALPHA = 0.3  # tokens._EMA_ALPHA

# The prompts and tools exactly as recorded (the request bodies hold them).
STREAM_PROMPT = "Write a story about a cat."
TOOLS_PROMPT = "what's the weather in sf?"
RAW_PROMPT = "Say 'foo'"
RECORDED_TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Call to get the current weather.",
            "parameters": {
                "properties": {"location": {"type": "string"}},
                "required": ["location"],
                "type": "object",
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "get_coolest_cities",
            "description": "Get a list of coolest cities",
            "parameters": {"properties": {}, "type": "object"},
        },
    },
]


def claude(model: str, **kwargs: Any) -> ChatAnthropic:
    # A fake key: vcrpy intercepts the transport, nothing leaves the machine.
    return ChatAnthropic(model=model, api_key="sk-ant-replay", max_retries=0, **kwargs)  # type: ignore[call-arg]


def tiered(*tiers: Tier) -> TieredChatModel:
    return TieredChatModel(tiers=list(tiers), retry=RetryPolicy(max_attempts=1))


def stream_model() -> TieredChatModel:
    return tiered(Tier(name="writer", model=claude("claude-3-5-sonnet-latest", max_tokens=1024)))


def tools_model() -> TieredChatModel:
    haiku = claude("claude-3-haiku-20240307", max_tokens=1024, temperature=0.0)
    return tiered(Tier(name="tools", model=haiku))


def raw_model() -> TieredChatModel:
    return tiered(
        Tier(
            name="haiku35", model=claude("claude-3-5-haiku-20241022", max_tokens=100, temperature=0)
        ),
        Tier(name="haiku45", model=claude("claude-haiku-4-5", max_tokens=100, temperature=0)),
    )


def assert_usage(message: BaseMessage, input_tokens: int, output_tokens: int) -> None:
    usage = getattr(message, "usage_metadata", None)
    assert usage is not None
    assert (usage["input_tokens"], usage["output_tokens"]) == (input_tokens, output_tokens)
    assert usage["total_tokens"] == input_tokens + output_tokens
    # The recordings carry no cache traffic: absent or 0, never None or another number.
    details = usage.get("input_token_details", {})
    assert details.get("cache_read", 0) == 0
    assert details.get("cache_creation", 0) == 0


def raw_count(prompt: str, model: str, tools: list[dict[str, Any]] | None = None) -> int:
    """The uncalibrated o200k count, from a fresh counter (no memo, no learned factor)."""
    return TokenCounter().count([HumanMessage(prompt)], model=model, tools=tools).raw


def test_default_price_book_matches_list_prices() -> None:
    """The hand-computed costs below assume these list prices; fail here first if they move."""
    book = PriceBook.default()
    for model, (inp, out) in [
        ("claude-3-5-sonnet-latest", CLAUDE_3_5_SONNET),
        ("claude-3-haiku-20240307", CLAUDE_3_HAIKU),
        ("claude-3-5-haiku-20241022", CLAUDE_3_5_HAIKU),
        ("claude-haiku-4-5", CLAUDE_HAIKU_4_5),
    ]:
        price = book.price_for(model)
        assert (price.input_per_mtok, price.output_per_mtok) == (inp, out), model


def test_invoke_usage_cost_and_estimate() -> None:
    """Two non-streaming calls with the newer usage block (cache fields and ``cache_creation``)."""
    model = raw_model()
    with replay(RAW):
        old = model.invoke(RAW_PROMPT, tier="haiku35")
        new = model.invoke(RAW_PROMPT, tier="haiku45")

    for message, tier, served, price in [
        (old, "haiku35", "claude-3-5-haiku-20241022", CLAUDE_3_5_HAIKU),
        (new, "haiku45", "claude-haiku-4-5-20251001", CLAUDE_HAIKU_4_5),
    ]:
        assert message.content == "foo"
        assert message.response_metadata["model_name"] == served
        assert_usage(message, 12, 4)
        details = message.usage_metadata["input_token_details"]  # type: ignore[index]
        # The newer usage block is parsed in full: every cache field present and 0.
        assert details == {
            "cache_read": 0,
            "cache_creation": 0,
            "ephemeral_5m_input_tokens": 0,
            "ephemeral_1h_input_tokens": 0,
        }
        meta = tiered_meta(message)
        assert meta["tier"] == tier
        assert meta["fallback_triggered"] is False
        assert meta["cost_is_estimate"] is False
        # 12 x input + 4 x output per million: 2.56e-05 (3.5 Haiku), 3.2e-05 (Haiku 4.5).
        assert meta["cost_usd"] == pytest.approx(hand_cost(price, 12, 4), rel=1e-12), tier
        # Pre-flight: o200k counts 11 raw tokens, x 1.3 -> 15 >= the 12 Anthropic billed.
        assert meta["prompt_tokens_estimate"] == 15
        assert meta["prompt_tokens_estimate"] >= 12


def test_tool_use_usage_and_cost() -> None:
    model = tools_model()
    with replay(TOOLS):
        message = model.bind_tools(RECORDED_TOOLS).invoke(TOOLS_PROMPT)

    [call] = message.tool_calls
    assert call["name"] == "get_weather"
    assert call["args"] == {"location": "San Francisco"}
    assert message.response_metadata["stop_reason"] == "tool_use"
    assert_usage(message, 376, 66)
    meta = tiered_meta(message)
    assert meta["tier"] == "tools"
    assert meta["cost_is_estimate"] is False
    assert meta["cost_usd"] == pytest.approx(hand_cost(CLAUDE_3_HAIKU, 376, 66), rel=1e-12)


def test_tool_use_preflight_estimate_errs_high() -> None:
    # Claude adds a tool-use system prompt (Anthropic documents 264-346 tokens); the counter
    # adds the largest published value for the anthropic family whenever tools are sent.
    model = tools_model()
    with replay(TOOLS):
        message = model.bind_tools(RECORDED_TOOLS).invoke(TOOLS_PROMPT)
    assert tiered_meta(message)["prompt_tokens_estimate"] >= 376


def test_stream_output_usage_cost_flag_and_estimate() -> None:
    """What holds on the streamed recording (see the xfail below for its input tokens)."""
    model = stream_model()
    with replay(STREAM):
        message = merged(model.stream(STREAM_PROMPT))

    assert str(message.content).startswith("Here's a story about a cat:")
    assert message.response_metadata["stop_reason"] == "end_turn"
    usage = message.usage_metadata
    assert usage is not None
    assert usage["output_tokens"] == 367  # the final message_delta
    details = usage.get("input_token_details", {})
    assert details.get("cache_read", 0) == 0
    assert details.get("cache_creation", 0) == 0
    meta = tiered_meta(message)
    assert meta["tier"] == "writer"
    # the stream's usage lost its input count (xfail below), so the input part is estimated
    assert meta["cost_is_estimate"] is True
    # Pre-flight: o200k counts 14 raw tokens, x 1.3 -> 19 >= the 14 in message_start.
    assert meta["prompt_tokens_estimate"] == 19
    assert meta["prompt_tokens_estimate"] >= 14


@pytest.mark.xfail(
    strict=True,
    reason=(
        "stream input tokens lost: message_start has input_tokens=14, but langchain-anthropic "
        "1.7.10 (chat_models.py:2334; since langchain-ai/langchain PR #32591, open issue #35509) "
        "reads usage only from "
        "message_delta, which in this recording carries output_tokens=367 only -> "
        "usage_metadata input_tokens=0; TieredChatModel then bills output only "
        "(cost_usd 0.005505 vs 0.005547 by hand), keeps cost_is_estimate=False and skips "
        "calibration (observe ignores 0). TieredChatModel now bills the pre-flight input estimate "
        "instead and flags cost_is_estimate (test_stream_lost_input_tokens_are_billed_...)"
    ),
)
def test_stream_input_tokens_from_message_start_are_billed() -> None:
    model = stream_model()
    with replay(STREAM):
        message = merged(model.stream(STREAM_PROMPT))
    assert_usage(message, 14, 367)
    expected = hand_cost(CLAUDE_3_5_SONNET, 14, 367)  # 0.005547
    assert tiered_meta(message)["cost_usd"] == pytest.approx(expected, rel=1e-12)


def test_stream_lost_input_tokens_are_billed_from_the_estimate() -> None:
    # The integration reports input_tokens=0 for this stream (see the xfail above): the
    # package bills its pre-flight input estimate (>= the 14 really billed) and flags it.
    model = stream_model()
    with replay(STREAM):
        message = merged(model.stream(STREAM_PROMPT))
    meta = tiered_meta(message)
    assert meta["cost_is_estimate"] is True
    estimate = meta["prompt_tokens_estimate"]
    assert estimate >= 14
    expected = hand_cost(CLAUDE_3_5_SONNET, estimate, 367)
    assert meta["cost_usd"] == pytest.approx(expected, rel=1e-12)
    assert meta["cost_usd"] >= hand_cost(CLAUDE_3_5_SONNET, 14, 367)


def test_calibration_moves_towards_recorded_usage() -> None:
    """After each replayed call the model's factor is prior + 0.3 x (actual/raw - prior)."""

    def expected(raw: int, actual: int) -> float:
        moved = CLAUDE_PRIOR_FACTOR + EMA_ALPHA * (actual / raw - CLAUDE_PRIOR_FACTOR)
        return min(max(moved, 1.0), 3.0)

    # Non-streaming text: 12 billed / 11 raw -> the factor drops from 1.3 towards 1.09.
    model = raw_model()
    counter = model._rt.counter
    for name in ("claude-3-5-haiku-20241022", "claude-haiku-4-5"):
        assert counter.factor(name) == CLAUDE_PRIOR_FACTOR
    raw = raw_count(RAW_PROMPT, "claude-3-5-haiku-20241022")
    assert raw == 11
    with replay(RAW):
        model.invoke(RAW_PROMPT, tier="haiku35")
        moved = counter.factor("claude-3-5-haiku-20241022")
        assert moved == pytest.approx(expected(raw, 12))  # 1.2373
        assert 12 / raw < moved < CLAUDE_PRIOR_FACTOR
        # Factors are per model: Haiku 4.5 has learned nothing from the 3.5 call.
        assert counter.factor("claude-haiku-4-5") == CLAUDE_PRIOR_FACTOR
        model.invoke(RAW_PROMPT, tier="haiku45")
    assert counter.factor("claude-haiku-4-5") == pytest.approx(expected(raw, 12))

    # Tool use: the raw count includes Claude's tool-use system prompt (346), so it now sits
    # above the 376 billed, and the factor drops from the prior towards 376 / raw.
    model = tools_model()
    counter = model._rt.counter
    raw = raw_count(TOOLS_PROMPT, "claude-3-haiku-20240307", RECORDED_TOOLS)
    assert raw == 70 + 346
    with replay(TOOLS):
        model.bind_tools(RECORDED_TOOLS).invoke(TOOLS_PROMPT)
    moved = counter.factor("claude-3-haiku-20240307")
    assert moved == pytest.approx(expected(raw, 376))
    assert 1.0 <= moved < CLAUDE_PRIOR_FACTOR
    # The next identical call is estimated with the learned factor, still at or above billed.
    estimate = counter.count(
        [HumanMessage(TOOLS_PROMPT)], model="claude-3-haiku-20240307", tools=RECORDED_TOOLS
    ).estimate
    assert estimate == math.ceil(raw * moved - 1e-9)
    assert estimate >= 376
