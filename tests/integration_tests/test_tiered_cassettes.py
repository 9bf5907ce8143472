"""``TieredChatModel`` over ``ChatOpenAI`` tiers, replayed from emulator-recorded cassettes.

Replay (the default, and always under ``CI=true``) needs no server: vcrpy intercepts the HTTP
transport and matches method, scheme, path and body. To re-record, delete the cassettes under
``cassettes/test_tiered_cassettes/`` and run::

    VCR_RECORD=once .venv/bin/pytest tests/integration_tests/test_tiered_cassettes.py

which starts the bundled emulator on a fixed port (:data:`PORT`) for the duration of the module,
so the recorded URLs equal the ones replayed. Scripts and faults are only installed while
recording; on replay the cassette already holds their effect.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI

from langchain_tiered import ModelPrice, Tier, TieredChatModel
from langchain_tiered.fallbacks import RetryPolicy
from langchain_tiered.testing import Fault, OpenAICompatibleEmulator, Reply, ToolCall
from tests.integration_tests._replay import tiered_meta

pytestmark = [pytest.mark.integration, pytest.mark.vcr]

HOST, PORT = "127.0.0.1", 18080
BASE_URL = f"http://{HOST}:{PORT}/v1"  # fixed: cassettes replay only if the URL is unchanged
RECORDING = not os.environ.get("CI") and os.environ.get("VCR_RECORD", "none") != "none"

CAPABLE = ModelPrice(input_per_mtok=2.50, output_per_mtok=10.00)
CHEAP = ModelPrice(input_per_mtok=0.15, output_per_mtok=0.60)


@pytest.fixture(scope="module")
def vcr_cassette_dir() -> str:
    """This module's cassettes live in ``cassettes/test_tiered_cassettes/``."""
    return str(Path(__file__).resolve().parents[2] / "cassettes" / "test_tiered_cassettes")


@pytest.fixture(scope="module")
def server() -> Iterator[OpenAICompatibleEmulator | None]:
    """The emulator on the fixed port while recording; nothing at all on replay."""
    if not RECORDING:
        yield None
        return
    with OpenAICompatibleEmulator(host=HOST, port=PORT) as emulator:
        yield emulator


@pytest.fixture
def emu(server: OpenAICompatibleEmulator | None) -> OpenAICompatibleEmulator | None:
    if server is not None:
        server.reset()
    return server


def tiered(**chat_kwargs: Any) -> TieredChatModel:
    """Two tiers, capable first; one attempt per tier so a 429 falls back at once."""

    def chat(model: str) -> ChatOpenAI:
        return ChatOpenAI(
            model=model, base_url=BASE_URL, api_key="sk-emulator", max_retries=0, **chat_kwargs
        )

    return TieredChatModel(
        tiers=[
            Tier(name="capable", model=chat("gpt-4o"), price=CAPABLE),
            Tier(name="cheap", model=chat("gpt-4o-mini"), price=CHEAP),
        ],
        retry=RetryPolicy(max_attempts=1),
    )


def cost(price: ModelPrice, input_tokens: int, output_tokens: int) -> float:
    """Hand-computed list-price cost (no cache, no reasoning split)."""
    return (input_tokens * price.input_per_mtok + output_tokens * price.output_per_mtok) / 1e6


def test_invoke_routes_to_cheap_tier_and_prices_recorded_usage(
    emu: OpenAICompatibleEmulator | None,
) -> None:
    message = tiered().invoke("What is the capital of France?")

    assert isinstance(message, AIMessage)
    assert message.content == "Echo: What is the capital of France?"
    meta = tiered_meta(message)
    assert meta["tier"] == "cheap"
    assert meta["model_name"] == "gpt-4o-mini"
    assert meta["fallback_triggered"] is False
    assert [a["kind"] for a in meta["attempts"]] == ["ok"]
    usage = message.usage_metadata
    assert usage is not None
    assert (usage["input_tokens"], usage["output_tokens"]) == (14, 9)
    assert meta["cost_is_estimate"] is False
    assert meta["cost_usd"] == pytest.approx(cost(CHEAP, 14, 9), rel=1e-12)
    # The pre-flight worst case is an upper bound of what was spent.
    assert meta["estimated_cost_usd"] >= meta["cost_usd"]
    if emu is not None:
        assert [(r.model, r.status) for r in emu.requests] == [("gpt-4o-mini", 200)]


def test_stream_with_usage_prices_final_usage_chunk(
    emu: OpenAICompatibleEmulator | None,
) -> None:
    chunks = list(tiered(stream_usage=True).stream("hello there"))

    assert all(isinstance(c, AIMessageChunk) for c in chunks)
    texts = [c.content for c in chunks if c.content]
    assert "".join(texts) == "Echo: hello there"
    assert len(texts) > 1  # really streamed, not one blob
    usage_chunks = [c for c in chunks if c.usage_metadata]
    assert len(usage_chunks) == 1  # the provider's final usage chunk, passed through once
    usage = usage_chunks[0].usage_metadata
    assert usage is not None
    assert (usage["input_tokens"], usage["output_tokens"]) == (9, 4)
    # The tiered report rides on one closing chunk after the tier's own chunks.
    assert chunks[-1].chunk_position == "last"
    meta = tiered_meta(chunks[-1])
    assert meta["tier"] == "cheap"
    assert meta["cost_is_estimate"] is False
    assert meta["cost_usd"] == pytest.approx(cost(CHEAP, 9, 4), rel=1e-12)
    merged = chunks[0]
    for chunk in chunks[1:]:
        merged = merged + chunk
    assert merged.usage_metadata is not None
    assert merged.usage_metadata["total_tokens"] == 13
    if emu is not None:
        [record] = emu.requests
        assert record.stream


@tool
def get_weather(city: str) -> str:
    """Get the current weather in a city."""
    return f"Sunny in {city}"


def test_bind_tools_returns_scripted_tool_call(emu: OpenAICompatibleEmulator | None) -> None:
    if emu is not None:
        emu.script(
            "gpt-4o-mini",
            Reply(tool_calls=[ToolCall("get_weather", {"city": "Paris"}, id="call_weather_1")]),
        )
    message = tiered().bind_tools([get_weather]).invoke("Weather in Paris?")

    assert isinstance(message, AIMessage)
    assert message.tool_calls == [
        {
            "name": "get_weather",
            "args": {"city": "Paris"},
            "id": "call_weather_1",
            "type": "tool_call",
        }
    ]
    assert message.response_metadata["finish_reason"] == "tool_calls"
    meta = tiered_meta(message)
    assert meta["tier"] == "cheap"
    usage = message.usage_metadata
    assert usage is not None
    assert meta["cost_usd"] == pytest.approx(
        cost(CHEAP, usage["input_tokens"], usage["output_tokens"]), rel=1e-12
    )
    if emu is not None:
        [record] = emu.requests
        assert record.tools == 1


def test_rate_limit_on_cheap_tier_falls_back(emu: OpenAICompatibleEmulator | None) -> None:
    if emu is not None:
        emu.add_fault(Fault("rate_limit", model="gpt-4o-mini", times=1))
    message = tiered().invoke("What is the capital of France?")

    meta = tiered_meta(message)
    assert meta["routed_tier"] == "cheap"
    assert meta["tier"] == "capable"
    assert meta["model_name"] == "gpt-4o"
    assert meta["fallback_triggered"] is True
    first, second = meta["attempts"]
    assert (first["tier"], first["status"], first["kind"]) == ("cheap", 429, "retryable")
    assert first["error_type"] == "OpenAIRateLimitError"
    assert (second["tier"], second["kind"]) == ("capable", "ok")
    # Billed at the capable tier's price, which answered.
    assert meta["cost_usd"] == pytest.approx(cost(CAPABLE, 14, 9), rel=1e-12)
    if emu is not None:
        assert [(r.model, r.status) for r in emu.requests] == [
            ("gpt-4o-mini", 429),
            ("gpt-4o", 200),
        ]
