"""Scripted and default replies of the emulator.

A reply is a plain value (:class:`Reply`); the emulator turns it into OpenAI wire format. When
nothing is scripted, :func:`default_reply` derives a short deterministic answer from the request,
and with ``auto_tools`` it plays the model's half of an agent loop (call a tool, then answer with
its result) so ``create_agent`` loops terminate without any scripting.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

__all__ = [
    "Reply",
    "Responder",
    "ScriptItem",
    "ToolCall",
    "default_reply",
    "tool_call_then_answer",
]

_ECHO_WORDS = 20  # keep default replies short so tests count and stream few tokens


@dataclass(frozen=True)
class ToolCall:
    """One function call the emulated model makes.

    Attributes:
        name: The tool's function name.
        arguments: The call's arguments, as a mapping or an already-encoded JSON string.
        id: The call id; ``None`` lets the emulator assign a deterministic one.
    """

    name: str
    arguments: Mapping[str, Any] | str = field(default_factory=dict)
    id: str | None = None

    @property
    def arguments_json(self) -> str:
        """The arguments as the JSON string OpenAI sends."""
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(dict(self.arguments), separators=(",", ":"))


@dataclass(frozen=True)
class Reply:
    """What the emulated model answers to one request.

    Attributes:
        content: Assistant text; ``None`` when the reply is only tool calls.
        tool_calls: Function calls to make; sets ``finish_reason`` to ``"tool_calls"``.
        finish_reason: Override of the finish reason (default ``"stop"``/``"tool_calls"``,
            ``"length"`` when truncated by ``max_tokens``).
        prompt_tokens: Override of the billed prompt tokens (default: counted with tiktoken).
        completion_tokens: Override of the billed completion tokens (default: counted).
        reasoning_tokens: Hidden reasoning tokens, added to the completion tokens as OpenAI does.
        cached_tokens: Prompt tokens reported as served from the prompt cache.
    """

    content: str | None = None
    tool_calls: Sequence[ToolCall] = ()
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    reasoning_tokens: int = 0
    cached_tokens: int = 0

    def __post_init__(self) -> None:
        # Frozen dataclass: normalise lists to tuples so a reply is a hashable, shareable value.
        object.__setattr__(self, "tool_calls", tuple(self.tool_calls))

    @classmethod
    def tool_call(
        cls, name: str, arguments: Mapping[str, Any] | str | None = None, *, id: str | None = None
    ) -> Reply:
        """A reply that makes one tool call.

        Args:
            name: The tool's function name.
            arguments: The call's arguments (default: no arguments).
            id: The call id; ``None`` lets the emulator assign a deterministic one.

        Returns:
            The reply.
        """
        return cls(tool_calls=(ToolCall(name=name, arguments=arguments or {}, id=id),))


Responder: TypeAlias = Callable[[Mapping[str, Any]], Reply]
"""A callable computing a reply from the request JSON."""

ScriptItem: TypeAlias = Reply | Responder
"""One scripted answer: a fixed reply or a callable over the request JSON."""


def tool_call_then_answer(
    name: str, arguments: Mapping[str, Any] | None = None, *, answer: str | None = None
) -> tuple[Reply, ScriptItem]:
    """Script the two model turns of a one-tool agent loop.

    Args:
        name: The tool to call first.
        arguments: Its arguments.
        answer: The final text; ``None`` answers with the tool's result.

    Returns:
        Two script items, to pass to ``emulator.script(model, *items)``.
    """
    first = Reply.tool_call(name, arguments)
    if answer is not None:
        return first, Reply(content=answer)
    return first, lambda request: Reply(content=_tool_answer(_messages(request)[-1]))


def default_reply(request: Mapping[str, Any], *, auto_tools: bool) -> Reply:
    """The deterministic reply used when nothing is scripted.

    Args:
        request: The request JSON (already validated).
        auto_tools: Play an agent loop: call the first tool after a user turn, answer with the
            tool's result after a tool turn.

    Returns:
        The reply.
    """
    messages = _messages(request)
    last = messages[-1] if messages else {}
    if auto_tools and last.get("role") == "tool":
        return Reply(content=_tool_answer(last))
    tool = _chosen_tool(request) if auto_tools and last.get("role") == "user" else None
    if tool is not None:
        return Reply.tool_call(tool.get("name", "tool"), _schema_default(tool.get("parameters")))
    return Reply(content=_echo(messages))


def _messages(request: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    messages = request.get("messages")
    return [m for m in messages if isinstance(m, Mapping)] if isinstance(messages, list) else []


def _text(content: Any) -> str:
    """Plain text of a message's content (a string or a list of content parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text", "") for p in content if isinstance(p, Mapping)]
        return " ".join(p for p in parts if isinstance(p, str))
    return ""


def _echo(messages: Sequence[Mapping[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            words = _text(message.get("content")).split()[:_ECHO_WORDS]
            return "Echo: " + " ".join(words)
    return "OK"


def _tool_answer(message: Mapping[str, Any]) -> str:
    return f"The tool returned: {_text(message.get('content'))}"


def _chosen_tool(request: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The function the request's ``tool_choice`` allows: a named one, else the first."""
    tools = request.get("tools")
    choice = request.get("tool_choice")
    if not isinstance(tools, list) or not tools or choice == "none":
        return None
    functions = [t["function"] for t in tools if isinstance(t, Mapping) and "function" in t]
    if isinstance(choice, Mapping):
        wanted = choice.get("function", {}).get("name")
        functions = [f for f in functions if f.get("name") == wanted] or functions
    return functions[0] if functions else None


_TYPE_DEFAULTS: dict[str, Any] = {
    "string": "test",
    "integer": 1,
    "number": 1.0,
    "boolean": True,
    "array": [],
    "null": None,
}


def _schema_default(schema: Any) -> Any:
    """A simple value satisfying a JSON schema: default, first enum, or a per-type constant."""
    if not isinstance(schema, Mapping):
        return {}
    if "default" in schema:
        return schema["default"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            return _schema_default(schema[key][0])
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = kind[0] if kind else "object"
    if kind != "object":
        return _TYPE_DEFAULTS.get(kind, "test")
    properties = schema.get("properties") or {}
    required = schema.get("required", list(properties))
    return {name: _schema_default(properties[name]) for name in required if name in properties}
