"""TokenCounter memo/LRU/calibration, and image accounting."""

from __future__ import annotations

import base64
import struct
import threading
import zlib
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

from langchain_tiered import tokens
from langchain_tiered.tokens import (
    TokenCounter,
    TokenEstimate,
    count_openai_messages,
    count_tokens,
)
from langchain_tiered.tokens import encoding as _tokens_encoding
from langchain_tiered.tokens.images import image_dimensions_from_data_url, image_tokens


class CountingEncoding:
    """Wraps a tiktoken Encoding and counts how often text is tokenized."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls = 0
        self.texts: list[str] = []

    def encode_ordinary(self, text: str) -> list[int]:
        self.calls += 1
        self.texts.append(text)
        result: list[int] = self.inner.encode_ordinary(text)
        return result


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> CountingEncoding:
    wrapper = CountingEncoding(_tokens_encoding.get_encoding("o200k_base"))
    monkeypatch.setattr(tokens, "get_encoding", lambda _name: wrapper)
    return wrapper


def _conversation(turns: int) -> list[BaseMessage]:
    return [
        HumanMessage(f"question number {i} about topic {i * 7}")
        if i % 2 == 0
        else AIMessage(f"answer number {i}: " + "lorem ipsum " * (i % 5 + 1))
        for i in range(turns)
    ]


# --- memoization ----------------------------------------------------------------------------


def test_growing_conversation_tokenizes_each_message_once(spy: CountingEncoding) -> None:
    counter = TokenCounter()
    history = _conversation(30)
    for turn in range(1, len(history) + 1):
        before = spy.calls
        estimate = counter.count(history[:turn], model="gpt-4o")
        # one new message = its content, nothing else re-tokenized (roles are remembered)
        new = [t for t in spy.texts[before:] if t not in ("user", "assistant")]
        assert new == [history[turn - 1].content]
        expected = count_tokens(history[:turn], model="gpt-4o")
        assert estimate == TokenEstimate(raw=expected, estimate=expected)
    assert spy.texts.count(history[0].content) == 1  # type: ignore[arg-type]
    assert spy.texts.count("user") == spy.texts.count("assistant") == 1  # once per role


def test_equal_but_distinct_message_objects_hit_the_cache(spy: CountingEncoding) -> None:
    counter = TokenCounter()
    counter.count([HumanMessage("hello there")], model="gpt-4o")
    calls = spy.calls
    counter.count([HumanMessage("hello there")], model="gpt-4o")  # e.g. reloaded from a DB
    assert spy.calls == calls


def test_cache_separates_families_and_message_fields(spy: CountingEncoding) -> None:
    counter = TokenCounter()
    base = counter.count([HumanMessage("hi")], model="gpt-4o").raw
    # a different family has different overheads, so it must not reuse gpt-4o's entry
    assert counter.count([HumanMessage("hi")], model="gpt-5").raw == base - 1
    assert counter.count([HumanMessage("hi", name="bob")], model="gpt-4o").raw == base + 2
    assert counter.count([AIMessage("hi")], model="gpt-4o").raw == base  # 1-token role too
    with_call = AIMessage("hi", tool_calls=[{"name": "f", "args": {"x": 1}, "id": "c1"}])
    assert counter.count([with_call], model="gpt-4o").raw > base


def test_lru_is_bounded_and_evicts_least_recent(spy: CountingEncoding) -> None:
    counter = TokenCounter(max_cached_messages=3)
    messages = [HumanMessage(f"message {i}") for i in range(5)]
    for message in messages:
        counter.count([message], model="gpt-4o")
    assert len(counter._cache) == 3
    calls = spy.calls
    counter.count([messages[4]], model="gpt-4o")  # still cached
    assert spy.calls == calls
    counter.count([messages[0]], model="gpt-4o")  # evicted: its content tokenized again
    assert spy.texts[calls:] == ["message 0"]
    assert len(counter._cache) == 3


def test_zero_sized_cache_still_counts_correctly() -> None:
    counter = TokenCounter(max_cached_messages=0)
    history = _conversation(4)
    assert counter.count(history, model="gpt-4o").raw == count_tokens(history, model="gpt-4o")
    assert len(counter._cache) == 0
    with pytest.raises(ValueError, match="max_cached_messages"):
        TokenCounter(max_cached_messages=-1)


def test_tools_are_counted_and_memoized(spy: CountingEncoding) -> None:
    tool = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Get the weather.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string", "description": "City name"}},
            },
        },
    }
    counter = TokenCounter()
    msgs = [HumanMessage("weather?")]
    first = counter.count(msgs, model="gpt-4o", tools=[tool])
    assert first.raw == count_tokens(msgs, model="gpt-4o", tools=[tool])
    calls = spy.calls
    assert counter.count(msgs, model="gpt-4o", tools=[tool]) == first
    assert spy.calls == calls


def test_tool_message_and_multimodal_counts_match_public_helper() -> None:
    png = _data_url(_png(800, 600), "png")
    history: list[BaseMessage] = [
        HumanMessage(
            content=[
                {"type": "text", "text": "what is this?"},
                {"type": "image_url", "image_url": {"url": png, "detail": "high"}},
            ]
        ),
        AIMessage("", tool_calls=[{"name": "lookup", "args": {"q": "cat"}, "id": "c1"}]),
        ToolMessage("a cat", tool_call_id="c1"),
    ]
    counter = TokenCounter()
    assert counter.count(history, model="gpt-4o").raw == count_tokens(history, model="gpt-4o")


def test_concurrent_counting_is_consistent() -> None:
    counter = TokenCounter(max_cached_messages=50)
    history = _conversation(80)
    expected = count_tokens(history, model="gpt-4o")
    results: list[int] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(5):
            raw = counter.count(history, model="gpt-4o").raw
            with lock:
                results.append(raw)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [expected] * 40
    assert len(counter._cache) <= 50


def test_prefix_fast_path_notices_edits_and_interleaving() -> None:
    counter = TokenCounter()
    history = _conversation(12)
    assert counter.count(history, model="gpt-4o").raw == count_tokens(history, model="gpt-4o")
    # The same conversation again (a retry, a fallback tier of the same family): the total
    # is reused as it stands; the edit below must still be seen after that shortcut.
    assert counter.count(history, model="gpt-4o").raw == count_tokens(history, model="gpt-4o")
    history[3].content = "this reply was edited in place and is much longer " * 5
    assert counter.count(history, model="gpt-4o").raw == count_tokens(history, model="gpt-4o")
    trimmed = history[:2] + history[5:]  # e.g. a summarizing middleware dropped messages
    assert counter.count(trimmed, model="gpt-4o").raw == count_tokens(trimmed, model="gpt-4o")
    other = _conversation(5)
    for conversation in (history, other, history[:4], other + history, history):
        expected = count_tokens(conversation, model="gpt-4o")
        assert counter.count(conversation, model="gpt-4o").raw == expected
        assert counter.count(conversation, model="gpt-5").raw == count_tokens(
            conversation, model="gpt-5"
        )


def test_concurrent_growing_conversations() -> None:
    counter = TokenCounter(max_cached_messages=20)
    conversations = [_conversation(25 + i) for i in range(6)]
    failures: list[str] = []

    def grow(history: list[BaseMessage]) -> None:
        for turn in range(1, len(history) + 1):
            raw = counter.count(history[:turn], model="gpt-4o").raw
            if raw != count_tokens(history[:turn], model="gpt-4o"):
                failures.append(f"turn {turn}")

    threads = [threading.Thread(target=grow, args=(c,)) for c in conversations]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


# --- calibration ----------------------------------------------------------------------------


def test_calibration_converges_to_provider_ratio_but_never_below_one() -> None:
    counter = TokenCounter()
    model = "claude-sonnet-4-5"
    assert counter.factor(model) == pytest.approx(1.3)
    for _ in range(30):
        counter.observe(model, raw=1000, actual_input_tokens=1100)
    assert counter.factor(model) == pytest.approx(1.1, abs=0.001)
    assert (
        counter.count([HumanMessage("x" * 50)], model=model).estimate
        >= counter.count([HumanMessage("x" * 50)], model=model).raw
    )
    for _ in range(30):
        counter.observe(model, raw=1000, actual_input_tokens=700)  # we over-count: clamp at 1
    assert counter.factor(model) == 1.0


def test_calibration_bounds_and_isolation() -> None:
    counter = TokenCounter()
    for _ in range(50):
        counter.observe("deepseek-chat", raw=100, actual_input_tokens=10_000)
    assert counter.factor("deepseek-chat") == 3.0
    assert counter.factor("gemini-2.5-pro") == pytest.approx(1.15)  # untouched prior
    counter.observe("gpt-4o", raw=0, actual_input_tokens=5)  # ignored: nothing to learn
    counter.observe("gpt-4o", raw=5, actual_input_tokens=0)
    assert counter.factor("gpt-4o") == 1.0
    # provider prefixes and bare names share one factor
    counter.observe("anthropic:claude-3-opus", raw=100, actual_input_tokens=200)
    assert counter.factor("claude-3-opus") == counter.factor("anthropic:claude-3-opus") > 1.3


def test_estimate_rounds_up_without_float_noise() -> None:
    assert 100 * 1.1 > 110  # the float noise this guards against
    assert tokens._apply_factor(100, 1.1) == 110
    assert tokens._apply_factor(100, 1.101) == 111
    assert tokens._apply_factor(9, 1.3) == 12
    assert tokens._apply_factor(7, 0.5) == 7  # never below raw


# --- images ---------------------------------------------------------------------------------


def _png(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", len(ihdr))
        + chunk
        + struct.pack(">I", zlib.crc32(chunk))
    )


def _jpeg(width: int, height: int) -> bytes:
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00" + b"\x00" * 9
    sof0 = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + sof0 + b"\xff\xd9"


def _gif(width: int, height: int) -> bytes:
    return b"GIF89a" + struct.pack("<HH", width, height) + b"\x00" * 10


def _data_url(data: bytes, kind: str) -> str:
    return f"data:image/{kind};base64,{base64.b64encode(data).decode()}"


@pytest.mark.parametrize(
    ("size", "detail", "expected"),
    [
        ((4096, 8192), "low", 85),  # low detail: flat 85 whatever the size
        (None, "low", 85),
        ((1024, 1024), "high", 765),  # OpenAI's example: 768x768 -> 4 tiles
        ((2048, 4096), "high", 1105),  # OpenAI's example: 1024x2048 -> 768x1536 -> 6 tiles
        ((512, 512), "high", 255),  # 1 tile
        ((2048, 768), None, 1445),  # auto counted as high: 4x2 tiles, the worst case
        (None, "high", 1445),  # unknown size: worst case
        (None, None, 1445),
    ],
)
def test_tile_formula(size: tuple[int, int] | None, detail: str | None, expected: int) -> None:
    assert image_tokens(size, detail) == expected


def test_patch_formula() -> None:
    # OpenAI's example: 1024x1024 -> 32x32 = 1024 patches
    assert image_tokens((1024, 1024), "high", patch_multiplier=1.0) == 1024
    assert image_tokens((4096, 4096), "low", patch_multiplier=1.0) == 1536  # capped
    assert image_tokens(None, None, patch_multiplier=1.62) == 2489  # ceil(1536 * 1.62)


@pytest.mark.parametrize(
    ("data", "kind"), [(_png(800, 600), "png"), (_jpeg(800, 600), "jpeg"), (_gif(800, 600), "gif")]
)
def test_data_url_dimensions(data: bytes, kind: str) -> None:
    assert image_dimensions_from_data_url(_data_url(data, kind)) == (800, 600)


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/cat.png",  # never fetched
        "data:image/png;base64,not-base64!!",
        "data:image/webp;base64," + base64.b64encode(b"RIFF....WEBPVP8 ").decode(),
        "data:image/png,rawdata",
        "data:image/jpeg;base64," + base64.b64encode(b"\xff\xd8\xff\xe0\x00").decode(),
    ],
)
def test_unknown_dimensions(url: str) -> None:
    assert image_dimensions_from_data_url(url) is None


def _image_message(url: str, detail: str | None = None) -> list[dict[str, Any]]:
    image_url: dict[str, Any] = {"url": url} if detail is None else {"url": url, "detail": detail}
    return [{"role": "user", "content": [{"type": "image_url", "image_url": image_url}]}]


def test_image_parts_in_messages_per_model() -> None:
    text_only = count_openai_messages([{"role": "user", "content": []}], model="gpt-4o")
    png = _data_url(_png(800, 600), "png")  # -> 768x576 after resize: 2x2 tiles
    assert count_openai_messages(_image_message(png), model="gpt-4o") - text_only == 765
    remote = "https://example.com/cat.png"
    assert count_openai_messages(_image_message(remote, "low"), model="gpt-4o") - text_only == 85
    assert count_openai_messages(_image_message(remote), model="gpt-4o") - text_only == 1445
    # gpt-4o-mini bills images at 2833 base + 5667 per tile
    mini = count_openai_messages(_image_message(remote, "low"), model="gpt-4o-mini")
    assert mini - text_only == 2833
    # gpt-4.1-mini uses 32px patches x 1.62: 800x600 -> 25x19 = 475 patches -> 770
    patched = count_openai_messages(_image_message(png), model="gpt-4.1-mini")
    assert patched - text_only == 770


def test_unknown_content_parts_are_charged_without_tokenizing() -> None:
    audio = {"type": "input_audio", "input_audio": {"data": "A" * 3000, "format": "wav"}}
    counted = count_openai_messages([{"role": "user", "content": [audio]}], model="gpt-4o")
    assert counted > 1000


def test_plain_messages_wire_form_equals_langchains() -> None:
    """The direct wire form of plain text messages is exactly LangChain's converter's."""
    from langchain_core.messages import ChatMessage, SystemMessage, ToolMessage
    from langchain_core.messages.utils import convert_to_openai_messages

    from langchain_tiered.tokens import _wire_messages

    class Custom(HumanMessage):
        pass

    call = {"name": "f", "args": {"x": 1}, "id": "c1", "type": "tool_call"}
    messages: list[BaseMessage] = [
        HumanMessage("x"),
        HumanMessage("", id="i"),
        HumanMessage("x", name="bob"),
        HumanMessage("x", additional_kwargs={"k": "v"}),
        HumanMessage([{"type": "text", "text": "parts"}]),
        SystemMessage("be brief"),
        AIMessage("a", response_metadata={"model_name": "m"}, id="run-1"),
        AIMessage("", tool_calls=[call]),
        AIMessage("", additional_kwargs={"function_call": {"name": "f", "arguments": "{}"}}),
        ToolMessage("42", tool_call_id="c1"),
        ChatMessage(content="x", role="developer"),
        Custom("subclass"),
    ]
    for message in messages:
        assert _wire_messages(message) == convert_to_openai_messages([message]), message
