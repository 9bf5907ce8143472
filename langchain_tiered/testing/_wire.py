"""OpenAI chat-completions wire format: request validation, responses and SSE chunks.

Pure functions over plain dicts, so the HTTP layer only moves bytes. Field names and order follow
what api.openai.com sends (compare ``cassettes/real/openai/*.yaml``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_tiered.testing._faults import error_body
from langchain_tiered.testing._replies import Reply, ToolCall

__all__ = ["Completion", "completion_json", "error_chunk", "stream_events", "validate_request"]

SYSTEM_FINGERPRINT = "fp_emulator"
_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
_JSON_ERROR = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
    "using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent "
    "was not valid JSON.)"
)
_WORD = re.compile(r"\s*\S+|\s+")


@dataclass(frozen=True)
class Completion:
    """A reply made concrete for one request: ids assigned, tokens counted, truncation applied."""

    id: str
    created: int
    model: str
    content: str | None
    tool_calls: tuple[ToolCall, ...]
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    reasoning_tokens: int
    cached_tokens: int

    @property
    def usage(self) -> dict[str, Any]:
        """The ``usage`` object as OpenAI sends it."""
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": self.cached_tokens, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": self.reasoning_tokens,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }


def invalid(message: str, param: str | None = None, code: str | None = None) -> Any:
    """An ``invalid_request_error`` body."""
    return error_body(message, "invalid_request_error", param, code)


def parse_json(raw: bytes) -> tuple[Any, Any]:
    """Decode a request body: ``(json, None)`` or ``(None, error body)``."""
    try:
        return json.loads(raw), None
    except (ValueError, UnicodeDecodeError):
        return None, invalid(_JSON_ERROR)


def validate_request(body: Any) -> Any | None:
    """The OpenAI 400 body for an invalid chat-completions request, or ``None`` if valid."""
    if not isinstance(body, dict):
        return invalid(f"Invalid type for request body: expected an object, but got {_kind(body)}")
    if "model" not in body:
        return invalid("you must provide a model parameter")
    if "messages" not in body:
        return invalid(
            "Missing required parameter: 'messages'.", "messages", "missing_required_parameter"
        )
    checks: list[tuple[str, type | tuple[type, ...], bool]] = [
        ("model", str, True),
        ("messages", list, True),
        ("stream", bool, False),
        ("tools", list, False),
        ("stream_options", dict, False),
        ("stop", (str, list), False),
    ]
    for name, types, required in checks:
        value = body.get(name)
        if (value is not None or required) and not isinstance(value, types):
            return _invalid_type(name, types, value)
    return _validate_limits(body) or _validate_messages(body["messages"])


def _validate_limits(body: Mapping[str, Any]) -> Any | None:
    for name in ("max_tokens", "max_completion_tokens"):
        value = body.get(name)
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool):
            return _invalid_type(name, int, value)
        if value < 1:
            return invalid(
                f"Invalid '{name}': integer below minimum value. Expected a value >= 1, but got "
                f"{value} instead.",
                name,
                "integer_below_min_value",
            )
    return None


def _validate_messages(messages: Sequence[Any]) -> Any | None:
    if not messages:
        return invalid(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an "
            "empty array instead.",
            "messages",
            "empty_array",
        )
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            return _invalid_type(f"messages[{i}]", dict, message)
        if message.get("role") not in _ROLES:
            return invalid(
                f"Invalid value: {message.get('role')!r}. Supported values are: "
                + ", ".join(f"'{r}'" for r in sorted(_ROLES))
                + ".",
                f"messages[{i}].role",
                "invalid_value",
            )
    return None


_TYPE_NAMES: dict[type, str] = {
    dict: "an object",
    list: "an array",
    str: "a string",
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    type(None): "null",
}


def _kind(value: Any) -> str:
    return _TYPE_NAMES.get(type(value), "a value")


def _invalid_type(name: str, types: type | tuple[type, ...], value: Any) -> Any:
    expected = _TYPE_NAMES[types if isinstance(types, type) else types[0]]
    return invalid(
        f"Invalid type for '{name}': expected {expected}, but got {_kind(value)} instead.",
        name,
        "invalid_type",
    )


def max_tokens(body: Mapping[str, Any]) -> int | None:
    """The completion limit the request sets, if any (``max_completion_tokens`` wins)."""
    value = body.get("max_completion_tokens", body.get("max_tokens"))
    return value if isinstance(value, int) else None


def _message(completion: Completion) -> dict[str, Any]:
    message: dict[str, Any] = {
        "role": "assistant",
        "content": completion.content,
        "refusal": None,
        "annotations": [],
    }
    if completion.tool_calls:
        message["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments_json},
            }
            for call in completion.tool_calls
        ]
    return message


def completion_json(completion: Completion) -> dict[str, Any]:
    """The non-streaming ``chat.completion`` object."""
    return {
        "id": completion.id,
        "object": "chat.completion",
        "created": completion.created,
        "model": completion.model,
        "choices": [
            {
                "index": 0,
                "message": _message(completion),
                "logprobs": None,
                "finish_reason": completion.finish_reason,
            }
        ],
        "usage": completion.usage,
        "service_tier": "default",
        "system_fingerprint": SYSTEM_FINGERPRINT,
    }


def stream_events(completion: Completion, *, include_usage: bool) -> Iterator[bytes]:
    """The SSE events of a streamed completion, ``data: [DONE]`` last."""
    extra = {"usage": None} if include_usage else {}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return _event({**_chunk_head(completion), "choices": [choice], **extra})

    yield chunk(
        {
            "role": "assistant",
            "content": "" if completion.content is not None else None,
            "refusal": None,
        }
    )
    for piece in _WORD.findall(completion.content or ""):
        yield chunk({"content": piece})
    for index, call in enumerate(completion.tool_calls):
        head = {"index": index, "id": call.id, "type": "function"}
        yield chunk({"tool_calls": [{**head, "function": {"name": call.name, "arguments": ""}}]})
        for piece in _split_arguments(call.arguments_json):
            yield chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
    yield chunk({}, completion.finish_reason)
    if include_usage:
        yield _event({**_chunk_head(completion), "choices": [], "usage": completion.usage})
    yield b"data: [DONE]\n\n"


def error_chunk(completion: Completion, error: Mapping[str, Any] | None, *, finish: bool) -> bytes:
    """An SSE event carrying an error object inside a 200 stream.

    Args:
        completion: The completion the stream belonged to (for the chunk's id and model).
        error: The error object; ``None`` sends none (only with ``finish``).
        finish: Send it as OpenRouter does, inside a chunk whose choice ends with
            ``finish_reason: "error"``; otherwise as a bare ``{"error": ...}`` event
            (OpenAI, vLLM, LiteLLM proxy).

    Returns:
        The encoded event.
    """
    if not finish:
        return _event({"error": dict(error or {})})
    choice = {"index": 0, "delta": {"content": ""}, "logprobs": None, "finish_reason": "error"}
    extra = {} if error is None else {"error": dict(error)}
    return _event({**_chunk_head(completion), **extra, "choices": [choice]})


def _chunk_head(completion: Completion) -> dict[str, Any]:
    return {
        "id": completion.id,
        "object": "chat.completion.chunk",
        "created": completion.created,
        "model": completion.model,
        "service_tier": "default",
        "system_fingerprint": SYSTEM_FINGERPRINT,
    }


def _split_arguments(arguments: str, size: int = 8) -> list[str]:
    """Arguments in small pieces, as the real API streams them, so clients must reassemble."""
    return [arguments[i : i + size] for i in range(0, len(arguments), size)] or [""]


def _event(payload: Mapping[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


def reply_text(reply: Reply) -> str:
    """The text billed as completion: content plus each tool call's name and arguments."""
    calls = "".join(call.name + call.arguments_json for call in reply.tool_calls)
    return (reply.content or "") + calls
