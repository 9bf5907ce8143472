"""Fault injection: each fault reaches ChatOpenAI as the exception the real API produces."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from langchain_core.exceptions import (
    ContextOverflowError,
    ModelAPIError,
    ModelAuthenticationError,
    ModelConnectionError,
    ModelInvalidRequestError,
    ModelRateLimitError,
)
from langchain_openai import ChatOpenAI
from langchain_openai.chat_models.base import (
    OpenAIAPIError,
    OpenAIAuthenticationError,
    OpenAIConnectionError,
    OpenAIInvalidRequestError,
    OpenAIRateLimitError,
)

from langchain_tiered.testing import Fault, OpenAICompatibleEmulator, Reply
from langchain_tiered.testing._faults import FaultBook

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
    kwargs.setdefault("max_retries", 0)
    return ChatOpenAI(model=model, base_url=emu.base_url, api_key="sk-emulator", **kwargs)


def outcome(emu: OpenAICompatibleEmulator, prompt: str = "hi", model: str = "gpt-4o") -> str:
    body = {"model": model, "messages": [{"role": "user", "content": prompt}]}
    response = _HTTP.post(f"{emu.base_url}/chat/completions", json=body)
    return "ok" if response.status_code == 200 else str(response.status_code)


_OVERFLOW = "context_length_exceeded"

# (fault kind, exception ChatOpenAI raises, langchain-core class it is, HTTP status, body code)
FAULT_TABLE = [
    ("rate_limit", OpenAIRateLimitError, ModelRateLimitError, 429, "rate_limit_exceeded"),
    ("server_error", OpenAIAPIError, ModelAPIError, 500, None),
    ("overloaded", OpenAIAPIError, ModelAPIError, 503, "overloaded"),
    # openai 3.x: str(error) no longer contains the code, so langchain-openai's check misses it
    # and raises the generic invalid-request error; the code stays in ``error.body["code"]``.
    ("context_length", OpenAIInvalidRequestError, ModelInvalidRequestError, 400, _OVERFLOW),
    ("content_filter", OpenAIInvalidRequestError, ModelInvalidRequestError, 400, "content_filter"),
    ("auth", OpenAIAuthenticationError, ModelAuthenticationError, 401, "invalid_api_key"),
    ("disconnect", OpenAIConnectionError, ModelConnectionError, None, None),
    ("stream_break", OpenAIConnectionError, ModelConnectionError, None, None),
]


def call(model: ChatOpenAI, *, stream: bool) -> object:
    return list(model.stream("hello")) if stream else model.invoke("hello")


@pytest.mark.parametrize("stream", [False, True], ids=["invoke", "stream"])
@pytest.mark.parametrize("case", FAULT_TABLE, ids=[row[0] for row in FAULT_TABLE])
def test_fault_raises_the_real_exception_type(
    emu: OpenAICompatibleEmulator, case: tuple[Any, ...], stream: bool
) -> None:
    kind, exc_type, core_type, status, code = case
    emu.add_fault(Fault(kind))
    with pytest.raises(exc_type) as info:
        call(chat(emu), stream=stream)

    error = info.value
    assert type(error) is exc_type
    assert isinstance(error, core_type)
    assert not isinstance(error, ContextOverflowError)  # see FAULT_TABLE's note
    if status is not None:
        assert isinstance(error, openai.APIStatusError)
        assert error.status_code == status
        assert isinstance(error.body, dict)
        assert error.body["code"] == code
    [record] = emu.requests
    assert (record.outcome, record.stream) == (kind, stream)


def test_rate_limit_sends_retry_after_and_the_client_honours_it(
    emu: OpenAICompatibleEmulator,
) -> None:
    emu.add_fault(kind="rate_limit", times=2, retry_after=0.01)
    with pytest.raises(OpenAIRateLimitError) as info:
        chat(emu).invoke("x")
    assert info.value.response.headers["Retry-After"] == "0.01"

    # The SDK's own retries wait the 0.01 s the header asks for, then get through.
    assert chat(emu, max_retries=2).invoke("x").content == "Echo: x"
    assert [r.status for r in emu.requests] == [429, 429, 200]


def test_after_and_times_sequence_per_model(emu: OpenAICompatibleEmulator) -> None:
    emu.add_fault(Fault("rate_limit", model="gpt-4o-mini", times=2))
    emu.add_fault(Fault("server_error", model="gpt-4o", after=1, times=1))

    mini = [outcome(emu, model="gpt-4o-mini") for _ in range(3)]
    big = [outcome(emu, model="gpt-4o") for _ in range(3)]

    assert mini == ["429", "429", "ok"]
    assert big == ["ok", "500", "ok"]
    assert emu.stats["gpt-4o-mini"].failed == 2


def test_probability_faults_repeat_with_the_same_seed(emu: OpenAICompatibleEmulator) -> None:
    def run(seed: int) -> list[str]:
        emu.reset()
        emu.add_fault(Fault("server_error", probability=0.5, seed=seed))
        return [outcome(emu) for _ in range(16)]

    first, again, other = run(7), run(7), run(8)

    assert first == again
    assert first != other
    assert {"ok", "500"} == set(first)


def test_latency_fault_delays_and_combines_with_errors(emu: OpenAICompatibleEmulator) -> None:
    emu.add_fault(Fault("latency", latency=0.05))
    emu.add_fault(Fault("rate_limit", times=1))
    started = time.perf_counter()
    assert outcome(emu) == "429"
    assert outcome(emu) == "ok"

    assert time.perf_counter() - started >= 0.1
    assert [r.outcome for r in emu.requests] == ["rate_limit", "latency"]


def test_stream_break_delivers_some_chunks_then_fails(emu: OpenAICompatibleEmulator) -> None:
    emu.add_fault(Fault("stream_break", break_after_chunks=3, times=1))
    received: list[str] = []

    def consume() -> None:
        received.extend(str(chunk.content) for chunk in chat(emu).stream("one two three four"))

    with pytest.raises(OpenAIConnectionError):
        consume()

    assert "".join(received) == "Echo: one"  # role chunk, "Echo:", " one", then the cut
    assert chat(emu).invoke("still serving").content == "Echo: still serving"


def test_context_window_rejects_long_prompts_automatically() -> None:
    with OpenAICompatibleEmulator(context_windows={"small-model": 30}) as emu:
        model = chat(emu, "small-model")
        assert model.invoke("short").content == "Echo: short"
        with pytest.raises(OpenAIInvalidRequestError) as info:
            model.invoke("word " * 100)
        with pytest.raises(OpenAIInvalidRequestError) as completion_info:
            chat(emu, "small-model", max_tokens=100).invoke("short")

    body = info.value.body
    assert isinstance(body, dict)
    assert body["code"] == "context_length_exceeded"
    assert body["param"] == "messages"
    prompt = emu.requests[1].prompt_tokens
    assert body["message"] == (
        f"This model's maximum context length is 30 tokens. However, your messages resulted in "
        f"{prompt} tokens. Please reduce the length of the messages."
    )
    assert "in the completion" in completion_info.value.message
    assert [r.outcome for r in emu.requests] == ["ok", "context_length", "context_length"]


def test_custom_message_and_fault_validation(emu: OpenAICompatibleEmulator) -> None:
    emu.add_fault(Fault("server_error", message="boom"))
    with pytest.raises(OpenAIAPIError, match="boom"):
        chat(emu).invoke("x")
    with pytest.raises(ValueError, match="unknown fault kind"):
        Fault("teapot")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="probability"):
        Fault("auth", probability=2)


def test_clear_faults_and_failing_responder_never_crash(emu: OpenAICompatibleEmulator) -> None:
    emu.add_fault(Fault("auth"))
    emu.clear_faults()
    assert outcome(emu) == "ok"

    def broken(request: Any) -> Reply:
        raise KeyError(request["nope"])

    emu.respond_with(broken)
    response = _HTTP.post(
        f"{emu.base_url}/chat/completions",
        json={"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]},
    )
    assert response.status_code == 500
    assert "KeyError" in json.loads(response.text)["error"]["message"]


async def test_faults_mutate_safely_while_serving(emu: OpenAICompatibleEmulator) -> None:
    stop = threading.Event()

    def toggle() -> None:
        while not stop.is_set():
            emu.add_fault(Fault("rate_limit", probability=0.5))
            emu.clear_faults()

    flipper = threading.Thread(target=toggle)
    flipper.start()
    try:
        results = await chat(emu).abatch(["x"] * 40, return_exceptions=True)
    finally:
        stop.set()
        flipper.join()

    assert all(isinstance(r, OpenAIRateLimitError) or r.content == "Echo: x" for r in results)
    assert {r.outcome for r in emu.requests} <= {"ok", "rate_limit"}


def test_first_added_fault_fires_latencies_add_up_and_a_fault_not_fired_keeps_its_turn() -> None:
    book = FaultBook(
        [
            Fault("latency", latency=0.25),
            Fault("rate_limit", times=1),
            Fault("latency", latency=0.5),
            Fault("server_error", times=1),
        ]
    )
    first = book.judge("m")
    assert first.fault is not None
    assert first.fault.kind == "rate_limit"  # insertion order, not the last eligible
    assert first.delay == pytest.approx(0.75)  # both latency faults, summed
    second = book.judge("m")  # the server error did not fire before, so it fires now
    assert second.fault is not None
    assert second.fault.kind == "server_error"
    assert book.judge("m").fault is None
