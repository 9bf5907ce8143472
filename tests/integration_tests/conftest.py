"""Fixtures shared by the tests that talk HTTP to the bundled emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from langchain_tiered.testing import OpenAICompatibleEmulator
from tests.integration_tests._replay import ASYNC_CLIENTS


@pytest.fixture(scope="module")
def server() -> Iterator[OpenAICompatibleEmulator]:
    """One emulator per test module (a module may override this to configure it)."""
    with OpenAICompatibleEmulator() as emulator:
        yield emulator


@pytest.fixture
def emu(server: OpenAICompatibleEmulator) -> Iterator[OpenAICompatibleEmulator]:
    """The module's emulator with a clean log, scripts and faults (context windows stay)."""
    server.reset()
    yield server
    server.reset()


@pytest.fixture
async def close_async_clients() -> AsyncIterator[None]:
    """Close the async clients a test's ``emulator_chat`` models opened, on its own loop."""
    yield
    while ASYNC_CLIENTS:
        await ASYNC_CLIENTS.pop().aclose()
