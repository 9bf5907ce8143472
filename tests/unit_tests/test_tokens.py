"""Bundled encodings, model mapping and OpenAI-exact message/tool counts."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tiktoken
import tiktoken.registry
import yaml
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.prompt_values import ChatPromptValue
from pydantic import BaseModel, Field
from tiktoken_ext import openai_public

from langchain_tiered.tokens import (
    ModelEncoding,
    count_openai_messages,
    count_tokens,
    encoding_for_model,
    get_encoding,
)
from langchain_tiered.tokens import encoding as _tokens_encoding

DATA = Path(_tokens_encoding.__file__).parent.parent / "_data"
CASSETTE = (
    Path(__file__).resolve().parents[2]
    / "cassettes/real/openai/lssdk__test_openai_test_wrap_openai_chat_tokens.yaml"
)

# OpenAI cookbook "How to count tokens with tiktoken", section 6: the API reported 129 prompt
# tokens for gpt-3.5-turbo/gpt-4 and 124 for gpt-4o/gpt-4o-mini.
COOKBOOK_MESSAGES = [
    {
        "role": "system",
        "content": "You are a helpful, pattern-following assistant that translates corporate "
        "jargon into plain English.",
    },
    {
        "role": "system",
        "name": "example_user",
        "content": "New synergies will help drive top-line growth.",
    },
    {
        "role": "system",
        "name": "example_assistant",
        "content": "Things working well together will increase revenue.",
    },
    {
        "role": "system",
        "name": "example_user",
        "content": "Let's circle back when we have more bandwidth to touch base on opportunities "
        "for increased leverage.",
    },
    {
        "role": "system",
        "name": "example_assistant",
        "content": "Let's talk later when we're less busy about how to do better.",
    },
    {
        "role": "user",
        "content": "This late pivot means we don't have time to boil the ocean for the client "
        "deliverable.",
    },
]
# Same cookbook, section 7: with this tool the API reported 105 (cl100k models) / 101 (gpt-4o).
COOKBOOK_TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "get_current_weather",
            "description": "Get the current weather in a given location",
            "parameters": {
                "type": "object",
                "properties": {
                    "location": {
                        "type": "string",
                        "description": "The city and state, e.g. San Francisco, CA",
                    },
                    "unit": {
                        "type": "string",
                        "description": "The unit of temperature to return",
                        "enum": ["celsius", "fahrenheit"],
                    },
                },
                "required": ["location"],
            },
        },
    }
]
COOKBOOK_TOOL_MESSAGES = [
    {
        "role": "system",
        "content": "You are a helpful assistant that can answer to questions about the weather.",
    },
    {"role": "user", "content": "What's the weather like in San Francisco?"},
]


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def refuse(*_args: Any, **_kwargs: Any) -> None:
        msg = "network access attempted"
        raise AssertionError(msg)

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    _tokens_encoding.clear_encoding_cache()
    yield
    _tokens_encoding.clear_encoding_cache()


# --- encodings ------------------------------------------------------------------------------


@pytest.mark.usefixtures("no_network")
def test_encodings_load_offline_with_network_refused() -> None:
    o200k = get_encoding("o200k_base")
    cl100k = get_encoding("cl100k_base")
    assert o200k.n_vocab == 200019
    assert cl100k.n_vocab == 100277
    assert get_encoding("o200k_base") is o200k  # cached


def test_known_strings_exact_counts() -> None:
    cl100k = get_encoding("cl100k_base")
    o200k = get_encoding("o200k_base")
    # the cookbook's example: "tiktoken is great!" -> [83, 1609, 5963, 374, 2294, 0] in cl100k
    assert cl100k.encode("tiktoken is great!") == [83, 1609, 5963, 374, 2294, 0]
    assert len(o200k.encode("tiktoken is great!")) == 6
    # the cookbook's Japanese example: 9 tokens in cl100k, 8 in o200k
    assert len(cl100k.encode("お誕生日おめでとう")) == 9
    assert o200k.encode("お誕生日おめでとう") == [8930, 9697, 243, 128225, 8930, 17693, 4344, 48669]
    assert len(o200k.encode_ordinary("howdy")) == 2


def test_special_token_text_is_counted_not_rejected() -> None:
    assert count_openai_messages([{"role": "user", "content": "<|endoftext|>"}]) > 7


def test_unknown_encoding_name_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="bundled encodings"):
        get_encoding("p50k_base")


def test_same_regex_and_special_tokens_as_tiktoken(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("cl100k_base", "o200k_base"):
        ours = get_encoding(name)
        # tiktoken's own constructor, fed our ranks instead of downloading them
        monkeypatch.setattr(openai_public, "load_tiktoken_bpe", lambda *_a, **_k: {})
        theirs = openai_public.ENCODING_CONSTRUCTORS[name]()
        assert ours._pat_str == theirs["pat_str"]
        assert ours._special_tokens == theirs["special_tokens"]


def test_ranks_equal_tiktoken_loader(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "")  # tiktoken: "" disables its cache copy
    for name, spec in _tokens_encoding.BUNDLED_ENCODINGS.items():
        expected = tiktoken.load.load_tiktoken_bpe(str(DATA / spec.filename), spec.sha256)
        assert get_encoding(name)._mergeable_ranks == expected


def test_corrupted_file_is_rejected(tmp_path: Path) -> None:
    spec = _tokens_encoding.BUNDLED_ENCODINGS["cl100k_base"]
    data = bytearray((DATA / spec.filename).read_bytes())
    data[100] ^= 0x01
    corrupt = tmp_path / "cl100k_base.tiktoken"
    corrupt.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="Hash mismatch"):
        _tokens_encoding.parse_bpe(corrupt.read_bytes(), spec.sha256)


def test_import_does_not_import_tiktoken() -> None:
    code = "import langchain_tiered.tokens, sys; print('tiktoken' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_user_tiktoken_registry_untouched() -> None:
    get_encoding("o200k_base")
    assert "o200k_base" not in tiktoken.registry.ENCODINGS


# --- model mapping --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "encoding", "family"),
    [
        ("gpt-4o", "o200k_base", "openai-o200k"),
        ("gpt-4o-mini-2024-07-18", "o200k_base", "openai-o200k"),
        ("openai:gpt-4.1", "o200k_base", "openai-o200k"),
        ("openai/gpt-4o", "o200k_base", "openai-o200k"),
        ("gpt-4.1-2025-04-14", "o200k_base", "openai-o200k"),
        ("chatgpt-4o-latest", "o200k_base", "openai-o200k"),
        ("ft:gpt-4o-mini-2024-07-18:acme::abc123", "o200k_base", "openai-o200k"),
        ("GPT-4O", "o200k_base", "openai-o200k"),
        ("gpt-5", "o200k_base", "openai-reasoning"),
        ("gpt-5-nano-2025-08-07", "o200k_base", "openai-reasoning"),
        ("o1", "o200k_base", "openai-reasoning"),
        ("o3-mini", "o200k_base", "openai-reasoning"),
        ("o4-mini-2025-04-16", "o200k_base", "openai-reasoning"),
        ("gpt-4", "cl100k_base", "openai-cl100k"),
        ("gpt-4-0613", "cl100k_base", "openai-cl100k"),
        ("gpt-4-turbo", "cl100k_base", "openai-cl100k"),
        ("gpt-3.5-turbo-0125", "cl100k_base", "openai-cl100k"),
        ("gpt-35-turbo", "cl100k_base", "openai-cl100k"),
        ("gpt-oss-120b", "o200k_base", "gpt-oss"),
        ("openai/gpt-oss-20b", "o200k_base", "gpt-oss"),
        ("claude-sonnet-4-5-20250929", "o200k_base", "anthropic"),
        ("anthropic/claude-3-5-haiku-latest", "o200k_base", "anthropic"),
        ("anthropic:claude-opus-4-1", "o200k_base", "anthropic"),
        ("us.anthropic.claude-3-5-sonnet-20240620-v1:0", "o200k_base", "anthropic"),
        ("deepseek-chat", "o200k_base", "deepseek"),
        ("deepseek-ai/DeepSeek-V3", "o200k_base", "deepseek"),
        ("gemini-2.5-flash", "o200k_base", "gemini"),
        ("google_genai:gemini-2.0-flash", "o200k_base", "gemini"),
        ("Qwen/Qwen3-235B-A22B", "o200k_base", "qwen"),
        ("meta-llama/Llama-3.3-70B-Instruct", "o200k_base", "llama"),
        ("mistral-large-latest", "o200k_base", "mistral"),
        ("open-mixtral-8x7b", "o200k_base", "mistral"),
        ("grok-4", "o200k_base", "xai"),
        ("some-new-model", "o200k_base", "unknown"),
        ("", "o200k_base", "unknown"),
        (None, "o200k_base", "unknown"),
    ],
)
def test_encoding_for_model(model: str | None, encoding: str, family: str) -> None:
    found = encoding_for_model(model)
    assert (found.encoding, found.family) == (encoding, family)


def test_encoding_for_model_never_raises_and_errs_high() -> None:
    for weird in ["::", "/", "ft:", "a" * 10_000, "ø/ü:ß", 42]:
        found = encoding_for_model(weird)  # type: ignore[arg-type]
        assert isinstance(found, ModelEncoding)
    assert encoding_for_model("gpt-4o").safety_factor == 1.0
    assert encoding_for_model("claude-3-opus").safety_factor == pytest.approx(1.3)
    for model in ["deepseek-chat", "gemini-2.5-pro", "qwen-max", "llama-3", "mistral-small", None]:
        assert encoding_for_model(model).safety_factor > 1.0


# --- OpenAI-exact counts --------------------------------------------------------------------


def _cassette_calls() -> list[tuple[dict[str, Any], int]]:
    """(request body, billed prompt_tokens) for every recorded call that reports usage."""
    recorded = yaml.safe_load(CASSETTE.read_text())
    calls = []
    for interaction in recorded["interactions"]:
        body = json.loads(interaction["request"]["body"])
        text = interaction["response"]["body"]["string"]
        chunks = (
            [text]
            if text.lstrip().startswith("{")
            else [
                line.removeprefix("data: ")
                for line in text.splitlines()
                if line.startswith("data: {")
            ]
        )
        usages = [json.loads(chunk).get("usage") for chunk in chunks]
        billed = [u["prompt_tokens"] for u in usages if u]
        if billed:
            calls.append((body, billed[-1]))
    return calls


def test_recorded_prompt_tokens_reproduced_exactly() -> None:
    calls = _cassette_calls()
    assert {(body["model"], billed) for body, billed in calls} == {
        ("gpt-4o-mini", 9),
        ("o4-mini", 42),
        ("gpt-5-nano", 8),
    }
    for body, billed in calls:
        assert count_openai_messages(body["messages"], model=body["model"]) == billed
        # and through the public LangChain-side helper (OpenAI factor is 1.0)
        assert count_tokens(body["messages"], model=body["model"]) == billed


@pytest.mark.parametrize(
    ("model", "billed"),
    [("gpt-3.5-turbo", 129), ("gpt-4-0613", 129), ("gpt-4o", 124), ("gpt-4o-mini", 124)],
)
def test_cookbook_messages_with_names(model: str, billed: int) -> None:
    assert count_openai_messages(COOKBOOK_MESSAGES, model=model) == billed


@pytest.mark.parametrize(
    ("model", "billed"),
    [("gpt-3.5-turbo", 105), ("gpt-4", 105), ("gpt-4o", 101), ("gpt-4o-mini", 101)],
)
def test_cookbook_tool_schema(model: str, billed: int) -> None:
    counted = count_openai_messages(COOKBOOK_TOOL_MESSAGES, model=model, tools=COOKBOOK_TOOLS)
    assert counted == billed


def test_count_tokens_accepts_langchain_inputs() -> None:
    msgs = [SystemMessage("Be brief."), HumanMessage("howdy")]
    expected = count_openai_messages(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "howdy"}],
        model="gpt-4o",
    )
    assert count_tokens(msgs, model="gpt-4o") == expected
    assert count_tokens(ChatPromptValue(messages=msgs), model="gpt-4o") == expected
    assert count_tokens([("system", "Be brief."), ("human", "howdy")], model="gpt-4o") == expected
    assert count_tokens("howdy", model="gpt-4o-mini") == 9


def test_count_tokens_applies_family_factor_rounding_up() -> None:
    raw = count_openai_messages([{"role": "user", "content": "howdy"}], model="claude-3-opus")
    assert raw == 9
    assert count_tokens("howdy", model="claude-3-opus") == 12  # ceil(9 * 1.3) = ceil(11.7)
    assert count_tokens("howdy") == 14  # unknown model: ceil(9 * 1.5)


def test_count_tokens_converts_non_dict_tools() -> None:
    class GetCurrentWeather(BaseModel):
        """Get the current weather in a given location."""

        location: str = Field(description="The city and state, e.g. San Francisco, CA")

    with_tool = count_tokens("hi", model="gpt-4o", tools=[GetCurrentWeather])
    without = count_tokens("hi", model="gpt-4o")
    assert with_tool - without > 20


def test_tool_calls_and_tool_results() -> None:
    call = AIMessage(
        "", tool_calls=[{"name": "get_weather", "args": {"city": "Paris"}, "id": "call_1"}]
    )
    result = ToolMessage("18C and sunny", tool_call_id="call_1")
    base = count_tokens([HumanMessage("Weather in Paris?")], model="gpt-4o")
    with_call = count_tokens([HumanMessage("Weather in Paris?"), call], model="gpt-4o")
    enc = get_encoding("o200k_base")
    call_text = len(enc.encode("get_weather")) + len(enc.encode('{"city": "Paris"}'))
    # 3 message overhead + "assistant" + name + arguments + 6 documented tool-call overhead
    assert with_call - base == 3 + 1 + call_text + 6
    with_result = count_tokens([HumanMessage("Weather in Paris?"), call, result], model="gpt-4o")
    # 3 message overhead + "tool" + content + 3 for the call id
    assert with_result - with_call == 3 + 1 + len(enc.encode("18C and sunny")) + 3


def test_nested_tool_schema_counts_more_than_flat() -> None:
    flat = {
        "type": "function",
        "function": {
            "name": "f",
            "description": "d",
            "parameters": {"type": "object", "properties": {"x": {"type": "string"}}},
        },
    }
    nested = json.loads(json.dumps(flat))
    nested["function"]["parameters"]["properties"]["x"] = {
        "type": "object",
        "properties": {"a": {"type": "string"}, "b": {"type": "array", "items": {"type": "int"}}},
    }
    msgs = [{"role": "user", "content": "hi"}]
    assert count_openai_messages(msgs, model="gpt-4o", tools=[nested]) > count_openai_messages(
        msgs, model="gpt-4o", tools=[flat]
    )
    built_in = count_openai_messages(msgs, model="gpt-4o", tools=[{"type": "web_search"}])
    assert built_in > count_openai_messages(msgs, model="gpt-4o")
