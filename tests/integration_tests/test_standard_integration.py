"""LangChain's standard integration tests on ``TieredChatModel`` over two emulated OpenAI tiers.

The tiers are real ``ChatOpenAI`` clients talking HTTP to the bundled emulator, started once
for this module. The emulator answers deterministically (an echo of the last user message) and,
with ``auto_tools``, calls the first bound tool after a user turn and answers with the tool's
result after a tool turn; that covers every protocol-level test. Tests that judge what a real
model *says* (arithmetic, personas) or need modalities the emulator does not model are skipped
below, each with its reason.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

import openai
import pytest
from langchain_core.language_models import BaseChatModel
from langchain_openai import ChatOpenAI
from langchain_tests.integration_tests import ChatModelIntegrationTests

from langchain_tiered import Tier, TieredChatModel
from langchain_tiered.testing import OpenAICompatibleEmulator, Reply
from langchain_tiered.testing._replies import default_reply

pytestmark = pytest.mark.integration

_EMULATOR: OpenAICompatibleEmulator | None = None
_ASYNC_CLIENTS: list[Any] = []  # per-model async HTTP clients, closed after each test


@pytest.fixture(scope="module", autouse=True)
def _emulator() -> Iterator[OpenAICompatibleEmulator]:
    """One emulator for the module; ``chat_model_params`` reads its URL from the global.

    Module-scoped autouse fixtures are set up before the function-scoped ``model`` fixture of
    ``langchain_tests``, so the global is set whenever a model is built.
    """
    global _EMULATOR  # noqa: PLW0603 - the standard suite builds models from a property
    with OpenAICompatibleEmulator(responder=_extracting_responder) as emulator:
        _EMULATOR = emulator
        try:
            yield emulator
        finally:
            _EMULATOR = None


@pytest.fixture(autouse=True)
async def _close_async_clients() -> AsyncIterator[None]:
    """Close the test's async clients on the test's own event loop (no unclosed sockets)."""
    yield
    while _ASYNC_CLIENTS:
        await _ASYNC_CLIENTS.pop().aclose()


def _last_user_text(request: Mapping[str, Any]) -> str:
    for message in reversed(request.get("messages") or []):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
            return str(content or "")
    return ""


def _extracting_responder(request: Mapping[str, Any]) -> Reply:
    """The emulator's default reply, with tool arguments taken from the user's words.

    A real model reads ``magic_function(3)`` or ``named '你好啊集团'`` out of the prompt; the
    default reply fills every argument with a type constant. This fills integer arguments with
    the prompt's integers and string arguments with its quoted phrases, in order, which is
    what the standard tests check (the arguments reach the tool call intact, Unicode included).
    """
    reply = default_reply(request, auto_tools=True)
    if len(reply.tool_calls) != 1:
        return reply
    [call] = reply.tool_calls
    tools = {t["function"]["name"]: t["function"] for t in request.get("tools") or []}
    properties = (tools.get(call.name, {}).get("parameters") or {}).get("properties") or {}
    text = _last_user_text(request)
    numbers = iter(int(n) for n in re.findall(r"-?\d+", text))
    phrases = iter(re.findall(r"'([^']+)'", text))
    args = dict(call.arguments) if isinstance(call.arguments, Mapping) else {}
    for name, schema in properties.items():
        if name not in args:
            continue
        source = {"integer": numbers, "string": phrases}.get(schema.get("type"))
        args[name] = next(source, args[name]) if source is not None else args[name]
    return Reply.tool_call(call.name, args)


def _chat(model: str) -> ChatOpenAI:
    assert _EMULATOR is not None, "the module's emulator fixture is not running"
    # verify=False: plain-HTTP loopback, and it skips building a TLS context (~80 ms each).
    async_client = openai.DefaultAsyncHttpxClient(verify=False)
    _ASYNC_CLIENTS.append(async_client)
    return ChatOpenAI(
        model=model,
        base_url=_EMULATOR.base_url,
        api_key="sk-emulator",
        max_retries=0,
        stream_usage=True,  # usage on streams, so streamed calls are priced from usage too
        # langchain-openai caches one async HTTP client per base URL across the process; its
        # pooled connections belong to the event loop of the test that opened them, and the
        # next async test (a new loop) fails with "Event loop is closed". A client per model
        # (the standard suite builds a model per test) keeps each test on its own loop.
        http_async_client=async_client,
    )


class TestTieredChatModelIntegration(ChatModelIntegrationTests):
    @property
    def chat_model_class(self) -> type[BaseChatModel]:
        return TieredChatModel

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {
            "tiers": [
                Tier(name="capable", model=_chat("gpt-4o")),
                Tier(name="cheap", model=_chat("gpt-4o-mini")),
            ],
        }

    @property
    def has_tool_calling(self) -> bool:
        return True

    @property
    def has_tool_choice(self) -> bool:
        return True

    @property
    def has_structured_output(self) -> bool:
        return True

    @property
    def returns_usage_metadata(self) -> bool:
        return True

    @property
    def enable_vcr_tests(self) -> bool:
        # Live emulator, no cassettes: test_stream_time (a VCR timing benchmark) is skipped.
        return False

    @property
    def supports_model_override(self) -> bool:
        # A per-call ``model=`` selects the tier serving that model (and is priced for it).
        return True

    @property
    def model_override_value(self) -> str:
        return "gpt-4o-mini"

    # Capabilities the emulator does not model: it answers text-only echoes, so the tests below
    # would check what a real model does with the input, not the wire protocol.
    @property
    def supports_json_mode(self) -> bool:
        # test_json_mode: the emulator answers json_object with {"answer": "Echo: ..."}, a
        # valid JSON object, but the test needs the 'setup'/'punchline' keys its prompt asks
        # for in words, which only a model that reads the prompt writes (checked: it fails
        # with "the answer does not fit Joke").
        return False

    @property
    def supports_image_inputs(self) -> bool:
        return False  # test_image_inputs: needs a model that describes the picture

    @property
    def supports_image_tool_message(self) -> bool:
        return False  # test_image_tool_message: likewise, an image inside a tool result

    @property
    def supports_pdf_inputs(self) -> bool:
        return False  # test_pdf_inputs: needs a model that reads the PDF

    @property
    def supports_pdf_tool_message(self) -> bool:
        return False  # test_pdf_tool_message: likewise, a PDF inside a tool result

    @property
    def supports_audio_inputs(self) -> bool:
        return False  # test_audio_inputs: the emulator has no audio input model

    @property
    def supports_anthropic_inputs(self) -> bool:
        return False  # test_anthropic_inputs: Anthropic-format content blocks, OpenAI tiers here
