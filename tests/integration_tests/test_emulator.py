"""The OpenAI-compatible emulator through the real ``openai`` client and ``ChatOpenAI``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from langchain_core.messages import AIMessageChunk
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI

from langchain_tiered.testing import (
    OpenAICompatibleEmulator,
    Reply,
    ToolCall,
    tool_call_then_answer,
)
from langchain_tiered.testing.__main__ import main as cli_main
from langchain_tiered.tokens import count_openai_messages, get_encoding

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", autouse=True)
def _http_client() -> Iterator[None]:
    """One raw client for the module: building an SSL context per request costs ~0.1 s."""
    global _HTTP  # noqa: PLW0603 - module-scoped helper client
    with httpx.Client() as client:
        _HTTP = client
        yield


_HTTP: httpx.Client


def chat(emu: OpenAICompatibleEmulator, model: str = "gpt-4o", **kwargs: Any) -> ChatOpenAI:
    return ChatOpenAI(
        model=model, base_url=emu.base_url, api_key="sk-emulator", max_retries=0, **kwargs
    )


def post(emu: OpenAICompatibleEmulator, body: Any) -> httpx.Response:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Authorization": "Bearer sk-emulator", "Content-Type": "application/json"}
    return _HTTP.post(f"{emu.base_url}/chat/completions", content=data, headers=headers)


def sse_events(response: httpx.Response) -> list[Any]:
    lines = [line[6:] for line in response.text.split("\n\n") if line.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    return [json.loads(line) for line in lines[:-1]]


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


# -- replies and usage ----------------------------------------------------------------------


def test_invoke_usage_equals_log_and_token_counter(emu: OpenAICompatibleEmulator) -> None:
    prompt = "What is the capital of France? Answer briefly."
    message = chat(emu).invoke(prompt)

    assert message.content == "Echo: What is the capital of France? Answer briefly."
    [record] = emu.requests
    expected = count_openai_messages([{"role": "user", "content": prompt}], model="gpt-4o")
    assert message.usage_metadata is not None
    assert message.usage_metadata["input_tokens"] == record.prompt_tokens == expected
    completion = len(get_encoding("o200k_base").encode(str(message.content)))
    assert message.usage_metadata["output_tokens"] == record.completion_tokens == completion
    assert message.response_metadata["model_name"] == "gpt-4o"
    assert message.response_metadata["finish_reason"] == "stop"
    assert (record.outcome, record.status, record.stream, record.tools) == ("ok", 200, False, 0)


def test_non_streaming_wire_fields(emu: OpenAICompatibleEmulator) -> None:
    body = post(emu, {"model": "my-model", "messages": [{"role": "user", "content": "hi"}]}).json()

    assert body["object"] == "chat.completion"
    assert body["id"].startswith("chatcmpl-")
    assert isinstance(body["created"], int)
    assert body["model"] == "my-model"
    assert body["system_fingerprint"]
    [choice] = body["choices"]
    assert choice["message"]["role"] == "assistant"
    assert choice["finish_reason"] == "stop"
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["prompt_tokens_details"]["cached_tokens"] == 0
    assert usage["completion_tokens_details"]["reasoning_tokens"] == 0


def test_stream_with_usage_ends_with_usage_chunk(emu: OpenAICompatibleEmulator) -> None:
    chunks = list(chat(emu, stream_usage=True).stream("tell me a story"))

    text = "".join(str(c.content) for c in chunks)
    assert text == "Echo: tell me a story"
    assert len([c for c in chunks if c.content]) > 1  # really streamed, word by word
    # Usage arrives in its own chunk after the finish-reason chunk (core then adds an empty
    # ``chunk_position="last"`` marker).
    [usage_chunk] = [c for c in chunks if c.usage_metadata]
    finishes = [c.response_metadata.get("finish_reason") for c in chunks]
    assert chunks.index(usage_chunk) > finishes.index("stop")
    usage = usage_chunk.usage_metadata
    assert usage is not None
    [record] = emu.requests
    assert record.stream
    assert (usage["input_tokens"], usage["output_tokens"]) == (
        record.prompt_tokens,
        record.completion_tokens,
    )


def test_stream_wire_usage_only_when_requested(emu: OpenAICompatibleEmulator) -> None:
    base = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    with_usage = sse_events(post(emu, {**base, "stream_options": {"include_usage": True}}))
    without = sse_events(post(emu, base))

    assert with_usage[-1]["choices"] == []
    assert with_usage[-1]["usage"]["prompt_tokens"] == emu.requests[0].prompt_tokens
    assert all(event["usage"] is None for event in with_usage[:-1])
    assert all("usage" not in event for event in without)
    assert without[-1]["choices"][0]["finish_reason"] == "stop"
    assert {e["object"] for e in without} == {"chat.completion.chunk"}


def test_scripted_replies_per_model_in_sequence(emu: OpenAICompatibleEmulator) -> None:
    emu.script("gpt-4o", Reply(content="one"), Reply(content="two"))
    emu.script("gpt-4o-mini", Reply(content="mini"))
    big, mini = chat(emu), chat(emu, "gpt-4o-mini")

    assert [big.invoke("x").content, mini.invoke("x").content, big.invoke("x").content] == [
        "one",
        "mini",
        "two",
    ]
    assert big.invoke("after the script").content == "Echo: after the script"


def test_callable_responder_and_usage_override(emu: OpenAICompatibleEmulator) -> None:
    emu.respond_with(lambda request: Reply(content=f"{len(request['messages'])} messages"))
    emu.script("gpt-4o", Reply(content="r", reasoning_tokens=100, cached_tokens=4))

    scripted = chat(emu).invoke("hi")
    assert scripted.usage_metadata is not None
    assert scripted.usage_metadata["output_token_details"]["reasoning"] == 100
    assert scripted.usage_metadata["output_tokens"] == 101  # reasoning is billed as output
    assert scripted.usage_metadata["input_token_details"]["cache_read"] == 4
    assert chat(emu).invoke([("system", "s"), ("user", "u")]).content == "2 messages"


# -- tools ----------------------------------------------------------------------------------


def test_scripted_tool_call_with_bind_tools(emu: OpenAICompatibleEmulator) -> None:
    emu.script("gpt-4o", Reply(tool_calls=[ToolCall(name="add", arguments={"a": 1, "b": 2})]))
    message = chat(emu).bind_tools([add]).invoke("what is 1 + 2?")

    [call] = message.tool_calls
    assert (call["name"], call["args"]) == ("add", {"a": 1, "b": 2})
    assert call["id"]
    assert message.response_metadata["finish_reason"] == "tool_calls"
    assert emu.requests[0].tools == 1


def test_streamed_tool_call_deltas_reassemble(emu: OpenAICompatibleEmulator) -> None:
    emu.script("gpt-4o", Reply.tool_call("add", {"a": 40, "b": 2}, id="call_fixed"))
    merged: AIMessageChunk | None = None
    for chunk in chat(emu).bind_tools([add]).stream("what is 40 + 2?"):
        assert isinstance(chunk, AIMessageChunk)
        merged = chunk if merged is None else merged + chunk

    assert merged is not None
    assert merged.tool_calls == [
        {"name": "add", "args": {"a": 40, "b": 2}, "id": "call_fixed", "type": "tool_call"}
    ]
    assert len(merged.tool_call_chunks) == 1


def test_auto_tools_let_create_agent_terminate(emu: OpenAICompatibleEmulator) -> None:
    from langchain.agents import create_agent

    agent = create_agent(chat(emu), tools=[add])
    result = agent.invoke({"messages": [("user", "add some numbers")]})

    assert result["messages"][-1].content == "The tool returned: 2"  # a=1, b=1 from the schema
    assert [r.tools for r in emu.requests] == [1, 1]


def test_tool_call_then_answer_helper(emu: OpenAICompatibleEmulator) -> None:
    emu.script("gpt-4o", *tool_call_then_answer("add", {"a": 2, "b": 3}))
    model = chat(emu).bind_tools([add])
    first = model.invoke("add 2 and 3")
    result = add.invoke(first.tool_calls[0])
    final = model.invoke([("user", "add 2 and 3"), first, result])

    assert final.content == "The tool returned: 5"


# -- limits ---------------------------------------------------------------------------------


def test_max_tokens_truncates_with_finish_reason_length(emu: OpenAICompatibleEmulator) -> None:
    emu.script("gpt-4o", Reply(content="one two three four five six seven eight nine ten"))
    message = chat(emu, max_tokens=3).invoke("count")

    assert message.content == "one two three"
    assert message.response_metadata["finish_reason"] == "length"
    assert message.usage_metadata is not None
    assert message.usage_metadata["output_tokens"] == 3


def test_max_completion_tokens_and_stop_on_the_wire(emu: OpenAICompatibleEmulator) -> None:
    messages = [{"role": "user", "content": "a b c d e f"}]
    capped = post(emu, {"model": "o4-mini", "messages": messages, "max_completion_tokens": 2})
    stopped = post(emu, {"model": "gpt-4o", "messages": messages, "stop": [" c"]})

    assert capped.json()["choices"][0]["message"]["content"] == "Echo:"
    assert capped.json()["usage"]["completion_tokens"] == 2
    assert stopped.json()["choices"][0]["message"]["content"] == "Echo: a b"


# -- other endpoints and bad requests -------------------------------------------------------


def test_models_lists_defaults_scripted_and_seen(emu: OpenAICompatibleEmulator) -> None:
    emu.script("scripted-model", Reply(content="x"))
    chat(emu, "seen-model").invoke("hi")
    with urllib.request.urlopen(f"{emu.base_url}/models") as response:
        listing = json.load(response)

    names = {model["id"] for model in listing["data"]}
    assert listing["object"] == "list"
    assert {"gpt-4o", "gpt-4o-mini", "scripted-model", "seen-model"} <= names


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        (b"{not json", None, None),
        (b"[1, 2]", None, None),
        ({"messages": [{"role": "user", "content": "x"}]}, None, None),
        ({"model": "gpt-4o"}, "messages", "missing_required_parameter"),
        ({"model": "gpt-4o", "messages": "hello"}, "messages", "invalid_type"),
        ({"model": 4, "messages": []}, "model", "invalid_type"),
        ({"model": "gpt-4o", "messages": []}, "messages", "empty_array"),
        ({"model": "gpt-4o", "messages": [{"role": "robot"}]}, "messages[0].role", "invalid_value"),
        ({"model": "gpt-4o", "messages": [3]}, "messages[0]", "invalid_type"),
        ({"model": "m", "messages": [{"role": "user"}], "stream": "yes"}, "stream", "invalid_type"),
        ({"model": "m", "messages": [{"role": "user"}], "max_tokens": 0}, "max_tokens", None),
        ({"model": "m", "messages": [{"role": "user"}], "tools": {}}, "tools", "invalid_type"),
    ],
)
def test_bad_requests_get_openai_shaped_400(
    emu: OpenAICompatibleEmulator, body: Any, param: str | None, code: str | None
) -> None:
    response = post(emu, body)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"]
    assert error["param"] == param
    if code is not None:
        assert error["code"] == code
    assert [(r.outcome, r.status) for r in emu.requests] == [("bad_request", 400)]


def test_unknown_route_gets_openai_shaped_404(emu: OpenAICompatibleEmulator) -> None:
    request = urllib.request.Request(f"{emu.base_url}/completions", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request)

    assert info.value.code == 404
    assert json.load(info.value)["error"]["message"] == "Invalid URL (POST /v1/completions)"


# -- lifecycle, log, concurrency ------------------------------------------------------------


def test_sync_context_manager_binds_and_releases_a_port() -> None:
    with OpenAICompatibleEmulator() as emulator:
        url = emulator.base_url
        assert url.startswith("http://127.0.0.1:")
        assert url.endswith("/v1")
        assert chat(emulator).invoke("ping").content == "Echo: ping"
        with pytest.raises(RuntimeError, match="already running"):
            emulator.start()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/models")
    emulator.stop()  # idempotent
    with pytest.raises(RuntimeError, match="not running"):
        _ = emulator.base_url


async def test_async_context_manager_serves_the_callers_loop() -> None:
    async with OpenAICompatibleEmulator() as emulator:
        emulator.script("gpt-4o", Reply(content="async hi"))
        message = await chat(emulator).ainvoke("hi")
        chunks = [c.content async for c in chat(emulator).astream("streamed")]

    assert message.content == "async hi"
    assert "".join(map(str, chunks)) == "Echo: streamed"


def test_reset_stats_and_no_key_in_reprs(emu: OpenAICompatibleEmulator) -> None:
    emu.script("gpt-4o", Reply(content="a"), Reply(content="b"))
    chat(emu).invoke("one")
    chat(emu, "gpt-4o-mini").invoke("two")

    stats = emu.stats
    big, mini = stats["gpt-4o"], stats["gpt-4o-mini"]
    assert (big.requests, big.ok, big.failed, mini.requests) == (1, 1, 0, 1)
    assert stats["gpt-4o"].prompt_tokens == emu.requests[0].prompt_tokens
    assert "sk-" not in repr(emu) + repr(emu.requests)
    emu.reset()
    assert emu.requests == []
    assert chat(emu).invoke("three").content == "Echo: three"  # script cleared


async def test_200_concurrent_requests_complete(emu: OpenAICompatibleEmulator) -> None:
    # Throughput is measured by benchmarks/, not printed into the test output.
    prompts: list[Any] = [f"request number {i}" for i in range(200)]
    replies = await chat(emu).abatch(prompts)

    assert [r.content for r in replies] == [f"Echo: {p}" for p in prompts]
    assert len(emu.requests) == 200
    assert {r.outcome for r in emu.requests} == {"ok"}


def test_cli_serves_until_interrupted() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "langchain_tiered.testing", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        url = line.split(" at ")[1].split()[0]
        assert _HTTP.get(f"{url}/models").json()["object"] == "list"
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0  # generous: a loaded CI machine is slow to stop


def test_cli_rejects_malformed_context_window() -> None:
    with pytest.raises(SystemExit):
        cli_main(["--context-window", "no-tokens"])


def test_public_surface_is_pinned() -> None:
    from langchain_tiered import testing

    assert testing.__all__ == [
        "FakeClock",
        "Fault",
        "FaultKind",
        "ModelStats",
        "OpenAICompatibleEmulator",
        "Reply",
        "RequestRecord",
        "ToolCall",
        "serve",
        "tool_call_then_answer",
    ]
