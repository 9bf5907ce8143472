"""Every provider failure shape, replayed by the emulator, lands in the right class.

Each row sends a real request through the real client (``ChatOpenAI`` against the
OpenAI-compatible wire, ``ChatAnthropic`` against the emulator's ``/v1/messages``), catches
what the integration raises, and checks :func:`classify_error`'s verdict: kind (what the
engine does), cause (retry, back off or open the breaker) and the status it saw. The README's
"failure shapes" table is this file in prose.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_anthropic import ChatAnthropic
from langchain_core.exceptions import ModelRefusalError
from langchain_core.language_models import BaseChatModel
from langchain_openai import ChatOpenAI

from langchain_tiered.fallbacks import ErrorCause, ErrorKind, classify_error, response_failure
from langchain_tiered.testing import Fault, OpenAICompatibleEmulator, Reply

pytestmark = pytest.mark.integration

R, C, REF, F = ErrorKind.RETRYABLE, ErrorKind.CONTEXT_OVERFLOW, ErrorKind.REFUSAL, ErrorKind.FATAL
GPT, CLAUDE = "gpt-4o", "claude-sonnet-4-6"


def openai_model(emu: OpenAICompatibleEmulator, **kwargs: Any) -> ChatOpenAI:
    return ChatOpenAI(
        model=GPT, base_url=emu.base_url, api_key="sk-emulator", max_retries=0, **kwargs
    )


def claude_model(emu: OpenAICompatibleEmulator, **kwargs: Any) -> ChatAnthropic:
    kwargs.setdefault("max_tokens", 64)
    return ChatAnthropic(
        model=CLAUDE, base_url=emu.root_url, api_key="sk-ant-emulator", max_retries=0, **kwargs
    )


def failure(model: BaseChatModel, *, stream: bool) -> BaseException:
    try:
        if stream:
            list(model.stream("hello"))
        else:
            model.invoke("hello")
    except Exception as exc:  # the point: whatever the integration raises
        return exc
    pytest.fail("the fault did not make the call fail")


# (fault kwargs, stream?, kind, cause, status seen)
OPENAI_SHAPES = [
    ({"kind": "rate_limit", "retry_after": 3}, False, R, ErrorCause.RATE_LIMIT, 429),
    ({"kind": "rate_limit", "send_retry_after": False}, True, R, ErrorCause.RATE_LIMIT, 429),
    ({"kind": "insufficient_quota"}, False, R, ErrorCause.QUOTA, 429),
    ({"kind": "server_error"}, True, R, ErrorCause.SERVER_ERROR, 500),
    ({"kind": "overloaded"}, False, R, ErrorCause.OVERLOADED, 503),
    ({"kind": "server_busy"}, False, R, ErrorCause.OVERLOADED, 503),  # DeepSeek
    ({"kind": "server_error_on_200"}, False, R, ErrorCause.SERVER_ERROR, None),
    ({"kind": "server_error_on_200"}, True, R, ErrorCause.SERVER_ERROR, None),
    ({"kind": "api_error_in_stream"}, True, R, ErrorCause.SERVER_ERROR, None),
    ({"kind": "overloaded_in_stream"}, True, R, ErrorCause.OVERLOADED, None),
    ({"kind": "rate_limit_in_stream"}, True, R, ErrorCause.RATE_LIMIT, None),
    ({"kind": "finish_error_in_stream"}, True, R, ErrorCause.SERVER_ERROR, None),  # OpenRouter
    ({"kind": "finish_error_in_stream"}, False, R, ErrorCause.SERVER_ERROR, None),
    ({"kind": "content_filter"}, False, REF, ErrorCause.REFUSAL, 400),
    ({"kind": "auth"}, False, F, ErrorCause.REJECTED, 401),
    ({"kind": "disconnect"}, False, R, ErrorCause.CONNECTION, None),
    ({"kind": "stream_break", "break_after_chunks": 1}, True, R, ErrorCause.CONNECTION, None),
    ({"kind": "stream_break"}, False, R, ErrorCause.CONNECTION, None),
]


@pytest.mark.parametrize(("fault", "stream", "kind", "cause", "status"), OPENAI_SHAPES)
def test_openai_wire_shapes(
    emu: OpenAICompatibleEmulator,
    *,
    fault: dict[str, Any],
    stream: bool,
    kind: ErrorKind,
    cause: ErrorCause,
    status: int | None,
) -> None:
    emu.add_fault(Fault(**fault))
    info = classify_error(failure(openai_model(emu), stream=stream))
    assert (info.kind, info.cause, info.status) == (kind, cause, status)
    assert info.retry_same_tier is (kind is R and cause is not ErrorCause.QUOTA)


def test_rate_limit_retry_after_is_read_only_when_sent(emu: OpenAICompatibleEmulator) -> None:
    emu.add_fault(Fault("rate_limit", retry_after=3, times=1))
    emu.add_fault(Fault("rate_limit", send_retry_after=False, times=1))
    first = classify_error(failure(openai_model(emu), stream=False))
    second = classify_error(failure(openai_model(emu), stream=False))
    assert (first.retry_after, second.retry_after) == (3.0, None)
    assert (first.rate_limited, second.rate_limited) == (True, True)


# What each server says when the prompt is too long (all HTTP 400).
OVERFLOW_WORDINGS = {
    "openai": None,  # the emulator's default: OpenAI's text and code context_length_exceeded
    "deepseek": "This model's maximum context length is 65536 tokens. However, you requested "
    "70000 tokens (66000 in the messages, 4000 in the completion). Please reduce the length "
    "of the messages or completion.",
    "vllm": "The decoder prompt (length 5000) is longer than the maximum model length of 4096. "
    "Make sure that `max_model_len` is no smaller than the number of text tokens.",
    "vllm-v1": "Input prompt (5000 tokens) is too long and exceeds limit of 4096",
    "openrouter": "This endpoint's maximum context length is 8192 tokens. However, you "
    "requested about 9000 tokens (9000 of text input). Please reduce the length.",
    "litellm": "litellm.ContextWindowExceededError: Input tokens exceed the configured limit",
    "gemini-compatible": "The input token count (1048577) exceeds the maximum number of "
    "tokens allowed (1048576).",
}


@pytest.mark.parametrize("wording", sorted(OVERFLOW_WORDINGS))
def test_context_overflow_in_each_servers_wording(
    emu: OpenAICompatibleEmulator, wording: str
) -> None:
    message = OVERFLOW_WORDINGS[wording]
    if message is None:
        emu.add_fault(Fault("context_length"))
    else:  # other servers send no code: only the wording of an invalid-request 400 says it
        emu.add_fault(Fault("context_length", message=message))
    info = classify_error(failure(openai_model(emu), stream=False))
    assert (info.kind, info.status) == (C, 400)


def test_overflow_wording_without_a_400_is_not_trusted(emu: OpenAICompatibleEmulator) -> None:
    # The same text in a 500 body is a server error: text alone never decides.
    emu.add_fault(Fault("server_error", message=OVERFLOW_WORDINGS["deepseek"]))
    assert classify_error(failure(openai_model(emu), stream=False)).kind is R


def test_openai_stall_mid_body_is_a_timeout(emu: OpenAICompatibleEmulator) -> None:
    emu.add_fault(Fault("stall"))  # role chunk, then nothing: the client's read times out
    info = classify_error(failure(openai_model(emu, timeout=0.3), stream=True))
    assert (info.kind, info.cause) == (R, ErrorCause.TIMEOUT)


ANTHROPIC_SHAPES = [
    ({"kind": "rate_limit"}, False, R, ErrorCause.RATE_LIMIT, 429),
    ({"kind": "server_error"}, False, R, ErrorCause.SERVER_ERROR, 500),
    ({"kind": "overloaded"}, True, R, ErrorCause.OVERLOADED, 529),
    ({"kind": "insufficient_quota"}, False, R, ErrorCause.QUOTA, 402),
    ({"kind": "overloaded_in_stream"}, True, R, ErrorCause.OVERLOADED, 200),
    ({"kind": "rate_limit_in_stream"}, True, R, ErrorCause.RATE_LIMIT, 200),
    ({"kind": "api_error_in_stream"}, True, R, ErrorCause.SERVER_ERROR, 200),
    ({"kind": "overloaded_in_stream"}, False, R, ErrorCause.OVERLOADED, 529),
    ({"kind": "context_length"}, False, C, ErrorCause.CONTEXT_OVERFLOW, 400),
    ({"kind": "auth"}, False, F, ErrorCause.REJECTED, 401),
    ({"kind": "disconnect"}, True, R, ErrorCause.CONNECTION, None),
    ({"kind": "stream_break", "break_after_chunks": 1}, True, R, ErrorCause.CONNECTION, None),
]


@pytest.mark.parametrize(("fault", "stream", "kind", "cause", "status"), ANTHROPIC_SHAPES)
def test_anthropic_wire_shapes(
    emu: OpenAICompatibleEmulator,
    *,
    fault: dict[str, Any],
    stream: bool,
    kind: ErrorKind,
    cause: ErrorCause,
    status: int | None,
) -> None:
    emu.add_fault(Fault(**fault))
    info = classify_error(failure(claude_model(emu), stream=stream))
    assert (info.kind, info.cause, info.status) == (kind, cause, status)


def test_anthropic_stall_mid_stream_is_a_timeout(emu: OpenAICompatibleEmulator) -> None:
    emu.add_fault(Fault("stall"))  # message_start, then nothing
    info = classify_error(failure(claude_model(emu, default_request_timeout=0.3), stream=True))
    assert (info.kind, info.cause) == (R, ErrorCause.TIMEOUT)


# -- answers that arrive as successes ---------------------------------------------------------


def test_anthropic_refusal_stop_reason_is_a_refusal(emu: OpenAICompatibleEmulator) -> None:
    emu.add_fault(Fault("refusal", times=2))
    model = claude_model(emu)
    answer = model.invoke("hello")
    assert answer.response_metadata["stop_reason"] == "refusal"
    streamed = list(model.stream("hello"))
    for message in (answer, streamed[-1]):
        found = response_failure(message)
        assert isinstance(found, ModelRefusalError)
        assert classify_error(found).kind is REF


def test_openai_content_filter_finish_reason_is_a_refusal(emu: OpenAICompatibleEmulator) -> None:
    emu.add_fault(Fault("refusal"))
    answer = openai_model(emu).invoke("hello")
    assert answer.response_metadata["finish_reason"] == "content_filter"
    found = response_failure(answer)
    assert found is not None
    assert classify_error(found).kind is REF


def test_max_tokens_stop_is_an_answer_not_a_failure(emu: OpenAICompatibleEmulator) -> None:
    long = Reply(content="one two three four five six seven eight nine ten")
    emu.script(CLAUDE, long)
    emu.script(GPT, long)
    claude = claude_model(emu, max_tokens=3).invoke("hello")
    gpt = openai_model(emu, max_tokens=3).invoke("hello")
    assert claude.response_metadata["stop_reason"] == "max_tokens"
    assert gpt.response_metadata["finish_reason"] == "length"
    assert response_failure(claude) is None
    assert response_failure(gpt) is None
