"""``TieredChatModel`` over ``ChatOpenAI`` tiers against the live emulator: real-shaped failures.

Each fault reaches the tiered model exactly as the real API's error would (status, body, SDK
exception), so these tests check classification and fallback end to end over HTTP. One attempt
per tier (``RetryPolicy(max_attempts=1)``) and ``max_retries=0`` on the clients keep them fast.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from langchain_core.exceptions import ModelAuthenticationError, ModelConnectionError
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_openai import ChatOpenAI

from langchain_tiered import (
    AllTiersFailedError,
    ModelPrice,
    RouteDecision,
    Tier,
    TieredChatModel,
    TieredError,
)
from langchain_tiered.fallbacks import RetryPolicy
from langchain_tiered.routing import RouteRequest
from langchain_tiered.testing import Fault, OpenAICompatibleEmulator
from tests.integration_tests._replay import emulator_chat, tiered_meta

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("close_async_clients")]

SMALL_WINDOW = 50
BIG = ModelPrice(input_per_mtok=2.50, output_per_mtok=10.00)
SMALL = ModelPrice(input_per_mtok=0.10, output_per_mtok=0.40)
LONG_PROMPT = "Please summarise the following notes. " + "word " * 100  # > 50 tokens


@pytest.fixture(scope="module")
def server() -> Iterator[OpenAICompatibleEmulator]:
    with OpenAICompatibleEmulator(context_windows={"small-model": SMALL_WINDOW}) as emulator:
        yield emulator


def always_small(request: RouteRequest) -> RouteDecision:
    """Route every call to the cheap tier, so each test knows where the first request goes."""
    return RouteDecision(tier="small", reason="test: always the small tier")


def tiered(emu: OpenAICompatibleEmulator) -> TieredChatModel:
    def chat(model: str) -> ChatOpenAI:
        return emulator_chat(emu.base_url, model)

    return TieredChatModel(
        tiers=[
            Tier(name="big", model=chat("big-model"), price=BIG),
            # No context_window: the pre-flight check cannot know the small model's limit,
            # so only the provider's 400 reveals it. The output cap is sent with every call
            # and counts against the window (as on OpenAI), so keep it small enough for the
            # short prompts to fit.
            Tier(name="small", model=chat("small-model"), price=SMALL, max_output_tokens=20),
        ],
        router=always_small,
        retry=RetryPolicy(max_attempts=1),
    )


def log(emu: OpenAICompatibleEmulator) -> list[tuple[str, int, str]]:
    return [(r.model, r.status, r.outcome) for r in emu.requests]


def hand_cost(price: ModelPrice, message: BaseMessage) -> float:
    usage = getattr(message, "usage_metadata", None)
    assert usage is not None
    return (
        usage["input_tokens"] * price.input_per_mtok
        + usage["output_tokens"] * price.output_per_mtok
    ) / 1e6


def merged(chunks: list[BaseMessage]) -> AIMessageChunk:
    assert chunks
    total = chunks[0]
    for chunk in chunks[1:]:
        total = total + chunk  # type: ignore[operator]
    assert isinstance(total, AIMessageChunk)
    return total


# -- context overflow ------------------------------------------------------------------------


def test_context_overflow_unknown_to_preflight_falls_back_to_bigger_tier(
    emu: OpenAICompatibleEmulator,
) -> None:
    message = tiered(emu).invoke(LONG_PROMPT)

    meta = tiered_meta(message)
    assert meta["routed_tier"] == "small"
    assert meta["tier"] == "big"
    assert meta["fallback_triggered"] is True
    first, second = meta["attempts"]
    assert first["kind"] == "context_overflow"
    assert (first["tier"], first["status"]) == ("small", 400)
    assert f"maximum context length is {SMALL_WINDOW} tokens" in first["message"]
    assert (second["tier"], second["kind"]) == ("big", "ok")
    assert str(message.content).startswith("Echo: Please summarise")
    assert meta["cost_usd"] == pytest.approx(hand_cost(BIG, message), rel=1e-12)
    assert log(emu) == [
        ("small-model", 400, "context_length"),
        ("big-model", 200, "ok"),
    ]


async def test_context_overflow_falls_back_async(emu: OpenAICompatibleEmulator) -> None:
    message = await tiered(emu).ainvoke(LONG_PROMPT)

    meta = tiered_meta(message)
    assert meta["tier"] == "big"
    assert meta["attempts"][0]["kind"] == "context_overflow"
    assert [model for model, _, _ in log(emu)] == ["small-model", "big-model"]


def test_short_prompt_fits_the_small_window(emu: OpenAICompatibleEmulator) -> None:
    message = tiered(emu).invoke("hi")

    meta = tiered_meta(message)
    assert (meta["tier"], meta["fallback_triggered"]) == ("small", False)
    assert meta["cost_usd"] == pytest.approx(hand_cost(SMALL, message), rel=1e-12)
    assert log(emu) == [("small-model", 200, "ok")]


# -- errors that must not fall back, and ones that must ---------------------------------------


def test_auth_error_raises_at_once_without_fallback(emu: OpenAICompatibleEmulator) -> None:
    emu.add_fault(Fault("auth", model="small-model"))

    with pytest.raises(ModelAuthenticationError) as info:
        tiered(emu).invoke("hi")

    assert not isinstance(info.value, AllTiersFailedError)  # the provider's own error
    assert getattr(info.value, "status_code", None) == 401
    assert log(emu) == [("small-model", 401, "auth")]  # exactly one request, no fallback


def test_overloaded_routed_tier_falls_back(emu: OpenAICompatibleEmulator) -> None:
    emu.add_fault(Fault("overloaded", model="small-model"))

    message = tiered(emu).invoke("hi")

    meta = tiered_meta(message)
    assert (meta["tier"], meta["fallback_triggered"]) == ("big", True)
    first = meta["attempts"][0]
    assert (first["tier"], first["status"], first["kind"]) == ("small", 503, "retryable")
    assert log(emu) == [("small-model", 503, "overloaded"), ("big-model", 200, "ok")]


def test_every_tier_overloaded_keeps_both_attempts(emu: OpenAICompatibleEmulator) -> None:
    emu.add_fault(Fault("overloaded"))

    with pytest.raises(AllTiersFailedError) as info:
        tiered(emu).invoke("hi")

    assert [(a["tier"], a["status"]) for a in info.value.attempts] == [
        ("small", 503),
        ("big", 503),
    ]
    assert len(emu.requests) == 2


# -- streaming --------------------------------------------------------------------------------


def test_stream_break_after_content_propagates_without_splicing(
    emu: OpenAICompatibleEmulator,
) -> None:
    emu.add_fault(Fault("stream_break", model="small-model", break_after_chunks=2))
    received: list[BaseMessage] = []

    with pytest.raises(ModelConnectionError):
        received.extend(tiered(emu).stream("tell me a story about a cat"))

    # The small tier's first content reached the caller; the big tier was never asked.
    assert "".join(str(c.content) for c in received) == "Echo:"
    assert log(emu) == [("small-model", 200, "stream_break")]


def test_stream_whose_first_request_fails_falls_back(emu: OpenAICompatibleEmulator) -> None:
    emu.add_fault(Fault("server_error", model="small-model", times=1))

    chunks = list(tiered(emu).stream("tell me a story about a cat"))

    message = merged(chunks)
    assert message.content == "Echo: tell me a story about a cat"  # one model's words only
    meta = tiered_meta(chunks[-1])
    assert (meta["tier"], meta["fallback_triggered"]) == ("big", True)
    assert meta["attempts"][0]["status"] == 500
    assert meta["cost_is_estimate"] is False
    assert meta["cost_usd"] == pytest.approx(hand_cost(BIG, message), rel=1e-12)
    assert log(emu) == [("small-model", 500, "server_error"), ("big-model", 200, "ok")]


def test_stream_cut_before_any_event_falls_back(emu: OpenAICompatibleEmulator) -> None:
    emu.add_fault(Fault("stream_break", model="small-model", break_after_chunks=0))

    chunks = list(tiered(emu).stream("tell me a story about a cat"))

    assert merged(chunks).content == "Echo: tell me a story about a cat"
    assert tiered_meta(chunks[-1])["tier"] == "big"


async def test_astream_whose_first_request_fails_falls_back(
    emu: OpenAICompatibleEmulator,
) -> None:
    emu.add_fault(Fault("rate_limit", model="small-model", times=1))

    chunks = [chunk async for chunk in tiered(emu).astream("tell me a story about a cat")]

    assert merged(chunks).content == "Echo: tell me a story about a cat"
    meta = tiered_meta(chunks[-1])
    assert (meta["tier"], meta["attempts"][0]["status"]) == ("big", 429)


def test_stream_break_before_first_content_falls_back(emu: OpenAICompatibleEmulator) -> None:
    # One SSE event (the assistant role, empty content) and then the connection drops: no
    # content has reached the caller yet, so falling back splices nothing.
    emu.add_fault(Fault("stream_break", model="small-model", break_after_chunks=1))

    chunks = list(tiered(emu).stream("tell me a story about a cat"))

    assert merged(chunks).content == "Echo: tell me a story about a cat"
    assert tiered_meta(chunks[-1])["tier"] == "big"


# -- per-call model override ------------------------------------------------------------------


def test_per_call_model_override_is_priced_or_rejected(emu: OpenAICompatibleEmulator) -> None:
    try:
        message = tiered(emu).invoke("hi", model="gpt-4.1")
    except (TieredError, ValueError):
        return  # rejecting the override is fine too
    assert log(emu) == [("gpt-4.1", 200, "ok")]  # what was really called
    meta = tiered_meta(message)
    assert meta["model_name"] == "gpt-4.1"
    gpt_41 = ModelPrice(input_per_mtok=2.00, output_per_mtok=8.00)
    assert meta["cost_usd"] == pytest.approx(hand_cost(gpt_41, message), rel=1e-12)


def test_streams_ask_openai_tiers_for_usage(emu: OpenAICompatibleEmulator) -> None:
    # tiers built without stream_usage=True still report real usage when streamed
    from langchain_openai import ChatOpenAI

    from langchain_tiered import Tier, TieredChatModel

    tier_model = ChatOpenAI(
        model="plain-model", base_url=emu.base_url, api_key="sk-emulator", max_retries=0
    )
    assert not tier_model.stream_usage
    model = TieredChatModel(tiers=[Tier(name="only", model=tier_model, price=SMALL)])
    chunks = list(model.stream("Say hello"))
    full = chunks[0]
    for c in chunks[1:]:
        full = full + c
    meta = full.response_metadata["tiered"]
    assert meta["cost_is_estimate"] is False
    assert full.usage_metadata is not None
    assert full.usage_metadata["input_tokens"] == emu.requests[-1].prompt_tokens
