"""Helpers shared by the tests that replay recorded HTTP, talk to the emulator and read
``tiered`` metadata."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import openai
import vcr
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_openai import ChatOpenAI

REAL_CASSETTES = Path(__file__).resolve().parents[2] / "cassettes" / "real"


@contextmanager
def replay_cassette(directory: Path, name: str) -> Iterator[Any]:
    """Replay a recording made by another tool (other request bodies) by method and path, in
    recorded order, and check afterwards that every recorded interaction was used."""
    with vcr.use_cassette(
        str(directory / name),
        record_mode="none",
        match_on=["method", "path"],
        allow_playback_repeats=False,
    ) as cassette:
        yield cassette
    assert cassette.all_played


def merged(chunks: Iterable[BaseMessage]) -> AIMessageChunk:
    """All chunks of a stream added up into one message."""
    total: AIMessageChunk | None = None
    for chunk in chunks:
        assert isinstance(chunk, AIMessageChunk)
        total = chunk if total is None else total + chunk
    assert total is not None
    return total


def tiered_meta(message: BaseMessage) -> dict[str, Any]:
    """The ``response_metadata["tiered"]`` payload, asserted present."""
    meta = message.response_metadata.get("tiered")
    assert isinstance(meta, dict), message.response_metadata
    return meta


def hand_cost(price: tuple[float, float], input_tokens: int, output_tokens: int) -> float:
    """List-price cost computed by hand from ``(input, output)`` USD per million tokens."""
    return (input_tokens * price[0] + output_tokens * price[1]) / 1_000_000


ASYNC_CLIENTS: list[Any] = []
"""Async HTTP clients opened by :func:`emulator_chat`, closed after each test by the
``close_async_clients`` fixture (``tests/integration_tests/conftest.py``)."""


def emulator_chat(base_url: str, model: str, **kwargs: Any) -> ChatOpenAI:
    """A ``ChatOpenAI`` on the emulator: no retries, usage on streams, its own async client.

    langchain-openai shares one cached async client per base URL across the process, and its
    pooled connections die with the event loop of the test that opened them; a client per
    model keeps every async test on its own loop (modules using this mark themselves with
    ``pytest.mark.usefixtures("close_async_clients")``). ``verify=False``: plain-HTTP
    loopback, and no TLS context to build (~80 ms each).
    """
    client = openai.DefaultAsyncHttpxClient(verify=False)
    ASYNC_CLIENTS.append(client)
    settings: dict[str, Any] = {"max_retries": 0, "stream_usage": True, **kwargs}
    return ChatOpenAI(
        model=model,
        base_url=base_url,
        api_key="sk-emulator",
        http_async_client=client,
        **settings,
    )
