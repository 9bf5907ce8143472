"""Anthropic Messages API wire format: request translation, responses, SSE events, errors.

Pure functions over plain dicts. A request is translated into the OpenAI-shaped body the
rest of the emulator understands (scripts, responders and default replies see the same
thing whichever API was called); the reply is rendered back as a ``message`` object or
as Anthropic's event stream (``message_start`` ... ``message_stop``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from langchain_tiered.testing._faults import Fault
from langchain_tiered.testing._wire import Completion

__all__ = [
    "anthropic_error",
    "cache_prefix",
    "fault_status",
    "in_stream_error",
    "message_events",
    "message_json",
    "overflow_error",
    "to_openai_body",
    "validate_messages_request",
]

_STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
}
# fault kind -> (status, Anthropic error type, message)
_FAULTS: dict[str, tuple[int, str, str]] = {
    "rate_limit": (
        429,
        "rate_limit_error",
        "Number of request tokens has exceeded your rate limit",
    ),
    "rate_limit_in_stream": (429, "rate_limit_error", "Rate limited"),
    "insufficient_quota": (402, "billing_error", "Your credit balance is too low"),
    "server_error": (500, "api_error", "Internal server error"),
    "api_error_in_stream": (500, "api_error", "Internal server error"),
    "server_error_on_200": (500, "api_error", "Internal server error"),
    "finish_error_in_stream": (500, "api_error", "Internal server error"),
    "finish_error_bare": (500, "api_error", "Internal server error"),
    "overloaded": (529, "overloaded_error", "Overloaded"),
    "overloaded_in_stream": (529, "overloaded_error", "Overloaded"),
    "server_busy": (529, "overloaded_error", "Overloaded"),
    "content_filter": (400, "invalid_request_error", "Output blocked by content filtering policy"),
    "auth": (401, "authentication_error", "invalid x-api-key"),
    "context_length": (400, "invalid_request_error", ""),
}


def anthropic_error(type_: str, message: str) -> dict[str, Any]:
    """Anthropic's error envelope."""
    return {"type": "error", "error": {"type": type_, "message": message}}


def validate_messages_request(body: Any) -> dict[str, Any] | None:
    """The 400 body for an invalid Messages request, or ``None`` if valid."""
    if not isinstance(body, dict):
        return anthropic_error("invalid_request_error", "request body must be a JSON object")
    for name, kind in (("model", str), ("messages", list), ("max_tokens", int)):
        if not isinstance(body.get(name), kind):
            return anthropic_error("invalid_request_error", f"{name}: Field required")
    if body["max_tokens"] < 1:
        return anthropic_error("invalid_request_error", "max_tokens: must be at least 1")
    return None


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            b.get("text", "") for b in content if isinstance(b, Mapping) and b.get("type") == "text"
        )
    return ""


def _translate(message: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One Anthropic message as OpenAI messages (tool results become ``tool`` messages)."""
    content = message.get("content")
    blocks = content if isinstance(content, list) else []
    results = [b for b in blocks if isinstance(b, Mapping) and b.get("type") == "tool_result"]
    out: list[dict[str, Any]] = [
        {"role": "tool", "tool_call_id": r.get("tool_use_id"), "content": _text(r.get("content"))}
        for r in results
    ]
    calls = [
        {
            "id": b.get("id"),
            "type": "function",
            "function": {"name": b.get("name"), "arguments": json.dumps(b.get("input") or {})},
        }
        for b in blocks
        if isinstance(b, Mapping) and b.get("type") == "tool_use"
    ]
    text = _text(content)
    if text or calls or not results:
        item: dict[str, Any] = {"role": message.get("role", "user"), "content": text}
        if calls:
            item["tool_calls"] = calls
        out.append(item)
    return out


def to_openai_body(body: Mapping[str, Any]) -> dict[str, Any]:
    """The OpenAI chat-completions body equivalent to a Messages request."""
    messages: list[dict[str, Any]] = []
    system = _text(body.get("system"))
    if system:
        messages.append({"role": "system", "content": system})
    for message in body["messages"]:
        if isinstance(message, Mapping):
            messages.extend(_translate(message))
    converted: dict[str, Any] = {
        "model": body["model"],
        "messages": messages,
        "max_tokens": body["max_tokens"],
    }
    tools = [
        {
            "type": "function",
            "function": {
                "name": t.get("name"),
                "description": t.get("description", ""),
                "parameters": t.get("input_schema") or {},
            },
        }
        for t in body.get("tools") or []
        if isinstance(t, Mapping) and "name" in t
    ]
    if tools:
        converted["tools"] = tools
    if body.get("stop_sequences"):
        converted["stop"] = body["stop_sequences"]
    return converted


def cache_prefix(body: Mapping[str, Any]) -> tuple[str, str] | None:
    """The request up to its last ``cache_control`` breakpoint: ``(identity, text)``.

    Anthropic caches in the order tools, system, messages; a breakpoint on a block caches
    everything before it and the block itself. The identity is the prefix rendered
    canonically; the text is what it bills (block texts, tool definitions), for counting.
    ``None`` when nothing is marked.
    """
    items: list[Any] = list(body.get("tools") or [])
    system = body.get("system")
    items += system if isinstance(system, list) else ([system] if system else [])
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, Mapping) else None
        blocks = content if isinstance(content, list) else [content]
        items += [{"role": message.get("role"), "block": b} for b in blocks]
    last = None
    for index, item in enumerate(items):
        block = item.get("block", item) if isinstance(item, Mapping) else None
        if isinstance(block, Mapping) and block.get("cache_control"):
            last = index
    if last is None:
        return None
    prefix = items[: last + 1]
    return json.dumps(prefix, sort_keys=True), " ".join(_billed_text(i) for i in prefix)


def _billed_text(item: Any) -> str:
    block = item.get("block", item) if isinstance(item, Mapping) else item
    if isinstance(block, str):
        return block
    if isinstance(block, Mapping) and isinstance(block.get("text"), str):
        return str(block["text"])
    return json.dumps(block, sort_keys=True)


def fault_status(
    fault: Fault, window: int | None, prompt: int
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """Status, Anthropic error body and headers of an HTTP-error fault."""
    status, type_, text = _FAULTS[fault.kind]
    if fault.kind == "context_length":
        limit = window if window is not None else max(prompt - 1, 1)
        text = f"prompt is too long: {prompt} tokens > {limit} maximum"
    headers: dict[str, str] = {}
    if fault.kind == "rate_limit" and fault.send_retry_after:
        retry = fault.retry_after if fault.retry_after is not None else 1
        headers["retry-after"] = f"{retry:g}"
    return status, anthropic_error(type_, fault.message or text), headers


def overflow_error(window: int, prompt: int) -> dict[str, Any]:
    """Anthropic's 400 for a prompt longer than the model's window."""
    return anthropic_error(
        "invalid_request_error", f"prompt is too long: {prompt} tokens > {window} maximum"
    )


def in_stream_error(fault: Fault) -> bytes:
    """The ``event: error`` an Anthropic stream sends for an in-stream fault."""
    _, type_, text = _FAULTS[fault.kind]
    return _event("error", anthropic_error(type_, fault.message or text))


def _usage(completion: Completion, cache: tuple[int, int]) -> dict[str, int]:
    read, write = cache
    return {
        "input_tokens": completion.prompt_tokens - read - write,
        "cache_creation_input_tokens": write,
        "cache_read_input_tokens": read,
        "output_tokens": completion.completion_tokens,
    }


def _blocks(completion: Completion) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if completion.content:
        blocks.append({"type": "text", "text": completion.content})
    for call in completion.tool_calls:
        args = json.loads(call.arguments_json or "{}")
        blocks.append(
            {"type": "tool_use", "id": _tool_id(call.id), "name": call.name, "input": args}
        )
    return blocks


def _tool_id(call_id: str | None) -> str:
    return "toolu_" + (call_id or "emu").removeprefix("call_")


def message_json(completion: Completion, cache: tuple[int, int]) -> dict[str, Any]:
    """The non-streaming ``message`` object."""
    return {
        "id": "msg_" + completion.id.removeprefix("chatcmpl-"),
        "type": "message",
        "role": "assistant",
        "model": completion.model,
        "content": _blocks(completion),
        "stop_reason": _STOP_REASONS.get(completion.finish_reason, completion.finish_reason),
        "stop_sequence": None,
        "usage": _usage(completion, cache),
    }


def message_events(completion: Completion, cache: tuple[int, int]) -> Iterator[bytes]:
    """Anthropic's SSE events for a streamed message, ``message_stop`` last."""
    start = message_json(completion, cache)
    usage = start.pop("usage")
    start.update(content=[], stop_reason=None, usage={**usage, "output_tokens": 1})
    yield _event("message_start", {"type": "message_start", "message": start})
    yield _event("ping", {"type": "ping"})
    for index, block in enumerate(_blocks(completion)):
        yield from _block_events(index, block)
    delta = {"stop_reason": message_json(completion, cache)["stop_reason"], "stop_sequence": None}
    out = {"output_tokens": completion.completion_tokens}
    yield _event("message_delta", {"type": "message_delta", "delta": delta, "usage": out})
    yield _event("message_stop", {"type": "message_stop"})


def _block_events(index: int, block: dict[str, Any]) -> Iterator[bytes]:
    head: dict[str, Any]
    if block["type"] == "text":
        head = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": p} for p in _split(block["text"], 12)]
    else:
        head = {**block, "input": {}}
        deltas = [
            {"type": "input_json_delta", "partial_json": p}
            for p in _split(json.dumps(block["input"]), 8)
        ]
    yield _event(
        "content_block_start",
        {"type": "content_block_start", "index": index, "content_block": head},
    )
    for delta in deltas:
        yield _event(
            "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
        )
    yield _event("content_block_stop", {"type": "content_block_stop", "index": index})


def _split(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _event(name: str, data: Mapping[str, Any]) -> bytes:
    payload = json.dumps(data, separators=(",", ":"))
    return f"event: {name}\ndata: {payload}\n\n".encode()
