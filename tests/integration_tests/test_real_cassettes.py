"""Real OpenAI wire data replayed through plain ``ChatOpenAI``: parsing and usage accounting.

The recordings (``cassettes/real/openai``) come from public LangChain projects; their request
bodies differ from what ``ChatOpenAI`` sends, so they match on method and path only and play back
in recorded order (see ``/work/shared/cassettes/README.md``).
"""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest
from langchain_core.exceptions import ModelInvalidRequestError
from langchain_core.messages import BaseMessage
from langchain_openai import ChatOpenAI
from langchain_openai.chat_models.base import OpenAIInvalidRequestError

from tests.integration_tests._replay import (
    REAL_CASSETTES,
    merged,
    replay_cassette,
)

pytestmark = pytest.mark.integration

CASSETTES = REAL_CASSETTES / "openai"
replay = partial(replay_cassette, CASSETTES)


def chat(model: str, **kwargs: Any) -> ChatOpenAI:
    # A fake key: vcrpy intercepts the transport, nothing leaves the machine.
    return ChatOpenAI(model=model, api_key="sk-emulator", max_retries=0, **kwargs)


def usage(message: BaseMessage) -> tuple[int, int, int, int]:
    """``(input, output, reasoning, cache_read)`` tokens of a message's usage metadata."""
    meta = getattr(message, "usage_metadata", None)
    assert meta is not None
    reasoning = meta.get("output_token_details", {}).get("reasoning", 0)
    cached = meta.get("input_token_details", {}).get("cache_read", 0)
    return meta["input_tokens"], meta["output_tokens"], reasoning, cached


def test_chat_completion_usage_with_reasoning_tokens() -> None:
    with replay("lssdk__test_openai_test_wrap_openai_chat_tokens.yaml"):
        streamed = merged(chat("gpt-4o-mini", stream_usage=True).stream("howdy"))
        unmetered = merged(chat("gpt-4o-mini", stream_usage=False).stream("howdy"))
        plain = chat("gpt-4o-mini").invoke("howdy")
        o4 = chat("o4-mini").invoke("Write a bash script that transposes a matrix")
        nano = chat("gpt-5-nano").invoke("howdy")

    assert usage(streamed) == (9, 9, 0, 0)
    assert streamed.content == plain.content
    assert unmetered.usage_metadata is None  # no include_usage: the stream carries no usage
    assert usage(plain) == (9, 9, 0, 0)
    assert usage(o4) == (42, 2119, 1472, 0)
    # Same prompt, one token less than gpt-4o-mini. The recording ran on the "flex" service
    # tier, so langchain-openai files the details under tier-prefixed keys (a cost calculator
    # must price "flex_reasoning"/"flex" too, not only "reasoning").
    assert nano.usage_metadata == {
        "input_tokens": 8,
        "output_tokens": 296,
        "total_tokens": 304,
        "input_token_details": {"audio": 0, "flex_cache_read": 0, "flex": 8},
        "output_token_details": {"audio": 0, "flex_reasoning": 256, "flex": 40},
    }
    assert o4.response_metadata["model_name"].startswith("o4-mini")


def test_streamed_tool_call_deltas() -> None:
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
    with replay("lssdk__test_openai_test_tool_call_chunking.yaml"):
        message = merged(chat("gpt-4o").bind_tools([weather]).stream("Weather in Paris?"))

    [call] = message.tool_calls
    assert call["name"] == "get_weather"
    assert call["args"] == {"location": "Paris"}
    assert call["id"]
    assert message.response_metadata["finish_reason"] == "tool_calls"


def test_real_invalid_request_error_shape() -> None:
    with replay("lg__disable-streaming_4.yaml"), pytest.raises(OpenAIInvalidRequestError) as info:
        list(chat("o1-preview").stream("how many r's are in strawberry?"))

    error = info.value
    assert isinstance(error, ModelInvalidRequestError)
    assert error.status_code == 400
    # The emulator's 400 bodies copy this envelope: message, type, param, code.
    assert error.body == {
        "message": "Unsupported value: 'stream' does not support true with this model. "
        "Only the default (false) value is supported.",
        "type": "invalid_request_error",
        "param": "stream",
        "code": "unsupported_value",
    }


def test_responses_api_usage() -> None:
    with replay("lssdk__test_openai_test_responses_sync_api.yaml"):
        model = chat("gpt-4o-mini", use_responses_api=True, max_tokens=16, temperature=0)
        invoked = [model.invoke("Say 'foo' then stop.") for _ in range(2)]
        streamed = [merged(model.stream("Say 'foo' then stop.")) for _ in range(2)]
        structured = [
            chat("gpt-4o-mini", use_responses_api=True).invoke(
                "Say 'foo' then stop.",
                text={"format": {"type": "json_schema", "name": "Format", "schema": {}}},
            )
            for _ in range(2)
        ]

    for message in [*invoked, *streamed]:
        assert usage(message) == (14, 3, 0, 0)
        assert "Foo" in message.text
    for message in structured:
        assert usage(message) == (44, 6, 0, 0)
