"""Emulator features for offline tests: structured output, prompt caching, the Anthropic wire.

All through plain ``ChatOpenAI`` / ``ChatAnthropic``, so the tests show what a user of the
emulator gets, independent of ``TieredChatModel``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import pytest
from langchain_anthropic import ChatAnthropic
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from pydantic import BaseModel, Field

import langchain_tiered.testing
from langchain_tiered.testing import OpenAICompatibleEmulator, Reply

pytestmark = pytest.mark.integration

GPT, CLAUDE = "gpt-4o", "claude-sonnet-4-6"
# ~1,300 tokens of a fixed system prompt: above the 1,024-token caching threshold.
LONG_SYSTEM = "You are a careful assistant. " + " ".join(f"rule-{i}" for i in range(600))


@pytest.fixture(scope="module")
def server() -> Iterator[OpenAICompatibleEmulator]:
    with OpenAICompatibleEmulator(prompt_cache=True) as emulator:
        yield emulator


def gpt(emu: OpenAICompatibleEmulator, model: str = GPT) -> ChatOpenAI:
    return ChatOpenAI(model=model, base_url=emu.base_url, api_key="sk-emulator", max_retries=0)


def claude(emu: OpenAICompatibleEmulator) -> ChatAnthropic:
    return ChatAnthropic(
        model=CLAUDE, base_url=emu.root_url, api_key="sk-ant-emulator", max_retries=0, max_tokens=64
    )


# -- response_format ---------------------------------------------------------------------------


class Address(BaseModel):
    city: str
    postcode: int = Field(ge=1000)


class Person(BaseModel):
    name: str
    age: int
    mood: Literal["happy", "sad"]
    tags: list[str]
    address: Address
    nickname: str | None


def test_with_structured_output_json_schema_works_offline(emu: OpenAICompatibleEmulator) -> None:
    person = gpt(emu).with_structured_output(Person).invoke("Describe someone")
    assert person == Person(
        name="test",
        age=1,
        mood="happy",
        tags=["test"],
        address=Address(city="test", postcode=1000),
        nickname="test",
    )


def test_strict_json_schema_with_raw_message(emu: OpenAICompatibleEmulator) -> None:
    result = gpt(emu).with_structured_output(Person, strict=True, include_raw=True).invoke("hi")
    assert isinstance(result, dict)
    assert isinstance(result["parsed"], Person)
    assert result["parsing_error"] is None


def test_json_object_mode_answers_a_json_object(emu: OpenAICompatibleEmulator) -> None:
    answer = gpt(emu).bind(response_format={"type": "json_object"}).invoke("Reply in JSON")
    assert answer.content == '{"answer": "Echo: Reply in JSON"}'


def test_scripted_reply_wins_over_the_schema(emu: OpenAICompatibleEmulator) -> None:
    emu.script(
        GPT,
        Reply(
            content='{"name": "Ada", "age": 36, "mood": "sad", "tags": [], '
            '"address": {"city": "London", "postcode": 1815}, "nickname": null}'
        ),
    )
    person = gpt(emu).with_structured_output(Person).invoke("Describe Ada")
    assert isinstance(person, Person)
    assert (person.name, person.address.city) == ("Ada", "London")


# -- prompt caching ----------------------------------------------------------------------------


def cached(emu: OpenAICompatibleEmulator, question: str, model: str = GPT) -> tuple[int, int]:
    answer = gpt(emu, model).invoke([SystemMessage(LONG_SYSTEM), HumanMessage(question)])
    usage = answer.usage_metadata
    assert usage is not None
    return usage["input_tokens"], usage.get("input_token_details", {}).get("cache_read", 0)


def test_openai_style_cache_reports_repeated_prefixes_in_128_token_steps(
    emu: OpenAICompatibleEmulator,
) -> None:
    prompt, first = cached(emu, "What is rule 7?")
    assert prompt > 1024
    assert first == 0  # nothing seen yet
    _, second = cached(emu, "And rule 8?")  # same system prompt, different question
    assert second >= 1024
    assert second % 128 == 0
    assert second <= prompt
    _, again = cached(emu, "What is rule 7?")  # identical prompt: at least as much cached
    assert again >= second
    assert again <= prompt - prompt % 128  # never more than the billed prompt
    assert emu.requests[-1].cached_tokens == again


def test_prompt_cache_is_per_model_and_can_be_cleared(emu: OpenAICompatibleEmulator) -> None:
    cached(emu, "Q1")
    assert cached(emu, "Q2", model="gpt-4.1")[1] == 0  # another model has its own cache
    assert cached(emu, "Q3")[1] > 0
    emu.clear_prompt_cache()
    assert cached(emu, "Q4")[1] == 0


def test_short_prompts_are_never_cached(emu: OpenAICompatibleEmulator) -> None:
    for _ in range(2):
        usage = gpt(emu).invoke("short question").usage_metadata
        assert usage is not None
        assert usage.get("input_token_details", {}).get("cache_read", 0) == 0


def test_prompt_cache_is_off_unless_asked() -> None:
    with OpenAICompatibleEmulator() as plain:
        for _ in range(2):
            assert cached(plain, "Same question")[1] == 0


def anthropic_usage(emu: OpenAICompatibleEmulator, question: str) -> dict[str, int]:
    system = [{"type": "text", "text": LONG_SYSTEM, "cache_control": {"type": "ephemeral"}}]
    answer = claude(emu).invoke([SystemMessage(system), HumanMessage(question)])  # type: ignore[arg-type]
    raw = answer.response_metadata["usage"]
    return {
        k: raw[k]
        for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
    }


def test_anthropic_cache_control_writes_then_reads(emu: OpenAICompatibleEmulator) -> None:
    first = anthropic_usage(emu, "What is rule 7?")
    assert first["cache_creation_input_tokens"] > 1024
    assert first["cache_read_input_tokens"] == 0
    second = anthropic_usage(emu, "And rule 8?")
    assert second["cache_read_input_tokens"] == first["cache_creation_input_tokens"]
    assert second["cache_creation_input_tokens"] == 0
    record = emu.requests[-1]
    assert (record.cached_tokens, record.cache_creation_tokens) == (
        second["cache_read_input_tokens"],
        0,
    )
    # usage_metadata carries both for cost accounting
    answer = claude(emu).invoke("no cache_control here")
    assert answer.response_metadata["usage"]["cache_read_input_tokens"] == 0


def test_anthropic_short_marked_prefix_is_never_cached(emu: OpenAICompatibleEmulator) -> None:
    system = [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}]
    for _ in range(2):
        answer = claude(emu).invoke([SystemMessage(system), HumanMessage("Hi")])  # type: ignore[arg-type]
        usage = answer.response_metadata["usage"]
        assert (usage["cache_creation_input_tokens"], usage["cache_read_input_tokens"]) == (0, 0)


# -- the Anthropic wire ------------------------------------------------------------------------


@tool
def get_weather(city: str) -> str:
    """Weather in a city."""
    return f"sunny in {city}"


def test_anthropic_tool_call_round_trip(emu: OpenAICompatibleEmulator) -> None:
    model = claude(emu).bind_tools([get_weather])
    first = model.invoke("Weather in Paris?")
    assert first.tool_calls[0]["name"] == "get_weather"
    assert str(first.tool_calls[0]["id"]).startswith("toolu_")
    streamed = list(model.stream("Weather in Paris?"))
    merged: Any = streamed[0]
    for chunk in streamed[1:]:
        merged = merged + chunk
    assert merged.tool_calls[0]["args"] == {"city": "test"}
    result = get_weather.invoke(first.tool_calls[0])
    final = model.invoke(["Weather in Paris?", first, result])
    assert final.content == "The tool returned: sunny in test"


def test_anthropic_usage_matches_the_request_log(emu: OpenAICompatibleEmulator) -> None:
    answer = claude(emu).invoke("Hello there")
    usage = answer.usage_metadata
    assert usage is not None
    record = emu.requests[-1]
    assert (usage["input_tokens"], usage["output_tokens"]) == (
        record.prompt_tokens,
        record.completion_tokens,
    )
    assert answer.content == "Echo: Hello there"


# -- structure (issue 9) -----------------------------------------------------------------------


def test_testing_package_has_no_import_cycle() -> None:
    """The HTTP handlers reach the emulator's state only through EmulatorState."""
    root = Path(langchain_tiered.testing.__file__).parent
    graph: dict[str, set[str]] = {}
    for path in root.glob("*.py"):
        tree = ast.parse(path.read_text())
        graph[path.stem] = {
            node.module.rsplit(".", 1)[-1]
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom)
            and node.module is not None
            and node.module.startswith("langchain_tiered.testing.")
        }
    for module, imports in graph.items():
        seen, todo = set(), list(imports)
        while todo:
            current = todo.pop()
            assert current != module, f"import cycle through {module}"
            if current not in seen:
                seen.add(current)
                todo.extend(graph.get(current, ()))
