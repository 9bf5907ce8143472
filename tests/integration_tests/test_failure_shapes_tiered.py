"""Provider failure shapes through ``TieredChatModel``: fall back before the first content chunk.

Mixed-provider tiers as users run them: Claude through ``ChatAnthropic`` (against the
emulator's Anthropic ``/v1/messages`` endpoint) above an OpenAI-compatible tier. The shapes
that arrive *inside* an open HTTP 200 stream (Anthropic's ``event: error`` with
``overloaded_error``, OpenRouter's ``finish_reason: "error"``) must fall back in ``stream``,
``astream``, ``astream_events`` and ``invoke`` of a streaming model, exactly like their HTTP
status twins; once content was sent, the error propagates and nothing is spliced.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from langchain_anthropic import ChatAnthropic
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_openai import ChatOpenAI

from langchain_tiered import ModelPrice, RouteDecision, Tier, TieredChatModel
from langchain_tiered.fallbacks import ErrorCause, RetryPolicy, classify_error
from langchain_tiered.routing import RouteRequest
from langchain_tiered.testing import FakeClock, Fault, OpenAICompatibleEmulator
from tests.integration_tests._replay import emulator_chat, tiered_meta

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("close_async_clients")]

CLAUDE = "claude-sonnet-4-6"
OPENAI = "gpt-4.1-mini"
CLAUDE_PRICE = ModelPrice(input_per_mtok=3.00, output_per_mtok=15.00)
OPENAI_PRICE = ModelPrice(input_per_mtok=0.40, output_per_mtok=1.60)
ASK = "Name three rivers of Europe"


def to_claude(request: RouteRequest) -> RouteDecision:
    return RouteDecision(tier="claude", reason="test: Claude first")


def claude(
    emu: OpenAICompatibleEmulator, *, streaming: bool = False, timeout: float | None = None
) -> ChatAnthropic:
    # streaming=False set explicitly would turn stream() into invoke(): only pass True.
    extra: dict[str, Any] = {"streaming": True} if streaming else {}
    if timeout is not None:
        extra["default_request_timeout"] = timeout
    return ChatAnthropic(
        model=CLAUDE,
        base_url=emu.root_url,
        api_key="sk-ant-emulator",
        max_retries=0,
        max_tokens=256,
        **extra,
    )


def gpt(emu: OpenAICompatibleEmulator) -> ChatOpenAI:
    return emulator_chat(emu.base_url, OPENAI)


def tiered(
    emu: OpenAICompatibleEmulator, *, streaming: bool = False, timeout: float | None = None
) -> TieredChatModel:
    top = claude(emu, streaming=streaming, timeout=timeout)
    return TieredChatModel(
        tiers=[
            Tier(name="claude", model=top, price=CLAUDE_PRICE),
            Tier(name="openai", model=gpt(emu), price=OPENAI_PRICE),
        ],
        router=to_claude,
        retry=RetryPolicy(max_attempts=2, base_delay=0.5, jitter=False),
        clock=FakeClock(),
    )


def merged(chunks: Sequence[BaseMessage]) -> AIMessageChunk:
    total: Any = chunks[0]
    for chunk in chunks[1:]:
        total = total + chunk
    assert isinstance(total, AIMessageChunk)
    return total


def drain(chunks: Iterator[BaseMessage], into: list[str]) -> None:
    for chunk in chunks:
        into.append(str(chunk.content))


def attempts(meta: dict[str, Any]) -> list[tuple[str, str, int | None]]:
    return [(a["tier"], a["kind"], a["status"]) for a in meta["attempts"]]


def log(emu: OpenAICompatibleEmulator) -> list[tuple[str, str]]:
    return [(r.model, r.outcome) for r in emu.requests]


IN_STREAM = ["overloaded_in_stream", "rate_limit_in_stream", "api_error_in_stream"]
FELL_BACK = [("claude", "retryable", 200), ("claude", "retryable", 200), ("openai", "ok", None)]


@pytest.mark.parametrize("kind", IN_STREAM)
def test_in_stream_error_falls_back_in_stream(emu: OpenAICompatibleEmulator, kind: str) -> None:
    emu.add_fault(Fault(kind, model=CLAUDE))  # type: ignore[arg-type]
    chunks = list(tiered(emu).stream(ASK))
    message = merged(chunks)
    assert message.content == f"Echo: {ASK}"  # the fallback's whole answer, nothing spliced
    meta = tiered_meta(message)
    assert attempts(meta) == FELL_BACK
    assert meta["tier"] == "openai"
    assert log(emu) == [(CLAUDE, kind), (CLAUDE, kind), (OPENAI, "ok")]


async def test_in_stream_overload_falls_back_in_astream(emu: OpenAICompatibleEmulator) -> None:
    emu.add_fault(Fault("overloaded_in_stream", model=CLAUDE))
    chunks = [c async for c in tiered(emu).astream(ASK)]
    message = merged(chunks)
    assert message.content == f"Echo: {ASK}"
    assert attempts(tiered_meta(message)) == FELL_BACK


async def test_in_stream_overload_falls_back_in_astream_events(
    emu: OpenAICompatibleEmulator,
) -> None:
    emu.add_fault(Fault("overloaded_in_stream", model=CLAUDE))
    model = tiered(emu)
    texts: list[str] = []
    ends: list[Any] = []
    async for event in model.astream_events(ASK, version="v2"):
        if event["event"] == "on_chat_model_stream" and event["name"] == "TieredChatModel":
            texts.append(str(event["data"]["chunk"].content))
        if event["event"] == "on_chat_model_end" and event["name"] == "TieredChatModel":
            ends.append(event["data"]["output"])
    assert "".join(texts) == f"Echo: {ASK}"
    assert len(ends) == 1
    assert attempts(ends[0].response_metadata["tiered"]) == FELL_BACK


@pytest.mark.parametrize("call", ["invoke", "ainvoke"])
async def test_in_stream_overload_falls_back_in_invoke_of_a_streaming_model(
    emu: OpenAICompatibleEmulator, call: str
) -> None:
    emu.add_fault(Fault("overloaded_in_stream", model=CLAUDE))
    model = tiered(emu, streaming=True)
    message = model.invoke(ASK) if call == "invoke" else await model.ainvoke(ASK)
    assert message.content == f"Echo: {ASK}"
    assert attempts(tiered_meta(message)) == FELL_BACK
    assert [r.stream for r in emu.requests[:2]] == [True, True]  # the claude tier streamed


def test_error_after_the_first_content_chunk_propagates_without_splicing(
    emu: OpenAICompatibleEmulator,
) -> None:
    # message_start, ping, block start, one text delta: content reached the caller, then cut.
    emu.add_fault(Fault("stream_break", model=CLAUDE, break_after_chunks=4))
    received: list[str] = []
    # The SDK's transport error (httpx or httpx2, wrapped or not), so matched by its text.
    with pytest.raises(Exception, match="peer closed connection") as caught:
        drain(tiered(emu).stream(ASK), received)
    assert classify_error(caught.value).cause is ErrorCause.CONNECTION
    assert "".join(received) == "Echo: Name t"  # claude's first delta only, no fallback text
    assert [model for model, _ in log(emu)] == [CLAUDE]


def test_openrouter_finish_reason_error_before_content_falls_back(
    emu: OpenAICompatibleEmulator,
) -> None:
    emu.add_fault(Fault("finish_error_in_stream", model=OPENAI))
    tiers = [
        Tier(name="openai", model=gpt(emu), price=OPENAI_PRICE),
        Tier(name="claude", model=claude(emu), price=CLAUDE_PRICE),
    ]
    routed = TieredChatModel(
        tiers=tiers,
        router=lambda r: RouteDecision(tier="openai", reason="test: OpenAI-compatible first"),
        retry=RetryPolicy(max_attempts=1),
    )
    message = merged(list(routed.stream(ASK)))
    assert message.content == f"Echo: {ASK}"
    meta = tiered_meta(message)
    assert [(a["tier"], a["kind"]) for a in meta["attempts"]] == [
        ("openai", "retryable"),
        ("claude", "ok"),
    ]
    assert meta["tier"] == "claude"


def test_claude_answer_after_fallback_is_priced_from_anthropic_usage(
    emu: OpenAICompatibleEmulator,
) -> None:
    emu.add_fault(Fault("overloaded", model=OPENAI))  # HTTP 503 on the OpenAI-compatible tier
    routed = TieredChatModel(
        tiers=[
            Tier(name="claude", model=claude(emu), price=CLAUDE_PRICE),
            Tier(name="openai", model=gpt(emu), price=OPENAI_PRICE),
        ],
        router=lambda r: RouteDecision(tier="openai", reason="test: cheap first"),
        retry=RetryPolicy(max_attempts=1),
    )
    message = routed.invoke(ASK)
    meta = tiered_meta(message)
    usage = message.usage_metadata
    assert usage is not None
    expected = (usage["input_tokens"] * 3.00 + usage["output_tokens"] * 15.00) / 1e6
    assert meta["cost_usd"] == pytest.approx(expected)
    assert attempts(meta) == [("openai", "retryable", 503), ("claude", "ok", None)]


def test_in_stream_overload_after_content_propagates(emu: OpenAICompatibleEmulator) -> None:
    # message_start, ping, block start, one text delta, then Anthropic's event: error.
    emu.add_fault(Fault("overloaded_in_stream", model=CLAUDE, break_after_chunks=4))
    received: list[str] = []
    with pytest.raises(Exception, match="overloaded_error") as caught:
        drain(tiered(emu).stream(ASK), received)
    assert classify_error(caught.value).cause is ErrorCause.OVERLOADED
    assert "".join(received) == "Echo: Name t"
    assert [model for model, _ in log(emu)] == [CLAUDE]  # no retry, no fallback request


def test_read_timeout_before_the_first_chunk_falls_back(emu: OpenAICompatibleEmulator) -> None:
    emu.add_fault(Fault("stall", model=CLAUDE))  # message_start, then silence
    message = merged(list(tiered(emu, timeout=0.3).stream(ASK)))
    assert message.content == f"Echo: {ASK}"
    assert [(a["tier"], a["kind"]) for a in tiered_meta(message)["attempts"]] == [
        ("claude", "retryable"),
        ("claude", "retryable"),
        ("openai", "ok"),
    ]


def test_read_timeout_after_the_first_chunk_propagates(emu: OpenAICompatibleEmulator) -> None:
    emu.add_fault(Fault("stall", model=CLAUDE, break_after_chunks=4))
    received: list[str] = []
    with pytest.raises(Exception, match=r"(?i)timed? ?out") as caught:
        drain(tiered(emu, timeout=0.3).stream(ASK), received)
    assert classify_error(caught.value).cause is ErrorCause.TIMEOUT
    assert "".join(received) == "Echo: Name t"
    assert [model for model, _ in log(emu)] == [CLAUDE]


@pytest.mark.parametrize("stream", [False, True], ids=["invoke", "stream"])
def test_anthropic_refusal_answer_goes_to_the_refusal_tier(
    emu: OpenAICompatibleEmulator, stream: bool
) -> None:
    emu.add_fault(Fault("refusal", model=CLAUDE))  # 200, stop_reason "refusal", no content
    model = TieredChatModel(
        tiers=[
            Tier(name="claude", model=claude(emu), price=CLAUDE_PRICE),
            Tier(name="openai", model=gpt(emu), price=OPENAI_PRICE),
        ],
        router=to_claude,
        refusal_tier="openai",
        retry=RetryPolicy(max_attempts=1),
    )
    message = merged(list(model.stream(ASK))) if stream else model.invoke(ASK)
    assert message.content == f"Echo: {ASK}"
    assert attempts(tiered_meta(message)) == [("claude", "refusal", None), ("openai", "ok", None)]
    assert log(emu) == [(CLAUDE, "refusal"), (OPENAI, "ok")]
