"""Fixtures shared by the tests that talk HTTP to the bundled emulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from langchain_tiered.testing import OpenAICompatibleEmulator


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
