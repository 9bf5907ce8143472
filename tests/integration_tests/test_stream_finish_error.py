"""A stream chunk with ``finish_reason: "error"`` and no error object (the emulator's
``finish_error_bare`` fault): the OpenAI SDK raises nothing, so the stream would just end.

Before the first content chunk the tiered model falls back; after it the caller gets a
typed ``StreamError`` instead of a silently shortened answer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from langchain_core.messages import BaseMessage
from langchain_openai import ChatOpenAI

from langchain_tiered import (
    Budget,
    InMemoryLedger,
    ModelPrice,
    RouteDecision,
    Tier,
    TieredChatModel,
)
from langchain_tiered.fallbacks import ErrorCause, RetryPolicy, StreamError, classify_error
from langchain_tiered.testing import Fault, OpenAICompatibleEmulator
from tests.integration_tests._replay import emulator_chat, merged, tiered_meta

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("close_async_clients")]

FIRST, SECOND = "gpt-4.1-mini", "gpt-4.1-nano"
PRICE = ModelPrice(input_per_mtok=0.40, output_per_mtok=1.60)
ASK = "Name three rivers of Europe"


def chat(emu: OpenAICompatibleEmulator, name: str) -> ChatOpenAI:
    return emulator_chat(emu.base_url, name)


def tiered(emu: OpenAICompatibleEmulator, **kwargs: Any) -> TieredChatModel:
    return TieredChatModel(
        tiers=[Tier(name=n, model=chat(emu, n), price=PRICE) for n in (FIRST, SECOND)],
        router=lambda r: RouteDecision(tier=FIRST, reason="test: first tier"),
        retry=RetryPolicy(max_attempts=1),
        **kwargs,
    )


def drain(chunks: Iterator[BaseMessage], into: list[str]) -> None:
    for chunk in chunks:
        into.append(str(chunk.content))


async def adrain(chunks: AsyncIterator[BaseMessage], into: list[str]) -> None:
    async for chunk in chunks:
        into.append(str(chunk.content))


def test_the_plain_sdk_ends_such_a_stream_silently(emu: OpenAICompatibleEmulator) -> None:
    # The shape itself: no exception, a short answer whose last finish_reason is "error".
    emu.add_fault(Fault("finish_error_bare", model=FIRST, break_after_chunks=2))
    chunks = list(chat(emu, FIRST).stream(ASK))
    assert merged(chunks).response_metadata["finish_reason"] == "error"
    assert merged(chunks).content == "Echo:"  # only the first content delta arrived


def test_before_content_the_call_falls_back(emu: OpenAICompatibleEmulator) -> None:
    emu.add_fault(Fault("finish_error_bare", model=FIRST))  # right after the role chunk
    message = merged(list(tiered(emu).stream(ASK)))
    assert message.content == f"Echo: {ASK}"
    meta = tiered_meta(message)
    assert [(a["tier"], a["kind"], a["cause"]) for a in meta["attempts"]] == [
        (FIRST, "retryable", "server_error"),
        (SECOND, "ok", None),
    ]
    assert [r.model for r in emu.requests] == [FIRST, SECOND]


async def test_before_content_the_call_falls_back_async(emu: OpenAICompatibleEmulator) -> None:
    emu.add_fault(Fault("finish_error_bare", model=FIRST))
    message = merged([chunk async for chunk in tiered(emu).astream(ASK)])
    assert message.content == f"Echo: {ASK}"
    assert tiered_meta(message)["tier"] == SECOND


def test_after_content_the_caller_gets_a_typed_error(emu: OpenAICompatibleEmulator) -> None:
    emu.add_fault(Fault("finish_error_bare", model=FIRST, break_after_chunks=2))
    ledger = InMemoryLedger()
    model = tiered(emu, budget=Budget(limit_usd=1.0, ledger=ledger))
    received: list[str] = []
    with pytest.raises(StreamError, match="finish_reason 'error'") as caught:
        drain(model.stream(ASK), received)
    assert classify_error(caught.value).cause is ErrorCause.SERVER_ERROR
    assert "".join(received) == "Echo:"  # nothing spliced from another tier
    assert [r.model for r in emu.requests] == [FIRST]
    # Settled as a cut stream: an unknown outcome charged at the reserved worst case.
    (record,) = ledger.records()
    assert record.cost_is_estimate
    assert record.error is not None
    assert "StreamError" in record.error


async def test_after_content_the_caller_gets_a_typed_error_async(
    emu: OpenAICompatibleEmulator,
) -> None:
    emu.add_fault(Fault("finish_error_bare", model=FIRST, break_after_chunks=2))
    received: list[str] = []
    with pytest.raises(StreamError):
        await adrain(tiered(emu).astream(ASK), received)
    assert "".join(received) == "Echo:"
