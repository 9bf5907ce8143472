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
    "schema_instance",
    "tool_call_then_answer",
]

_ECHO_WORDS = 20  # keep default replies short so tests count and stream few tokens
_MAX_SCHEMA_DEPTH = 12


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
    structured = _structured(request.get("response_format"), messages)
    return Reply(content=structured if structured is not None else _echo(messages))


def _structured(response_format: Any, messages: Sequence[Mapping[str, Any]]) -> str | None:
    """JSON text honouring ``response_format`` (``json_schema`` or ``json_object``), if set.

    ``json_schema`` gets a deterministic instance of the schema (every property, as strict
    mode requires; ``$ref``/``$defs`` resolved), ``json_object`` an object holding the echo.
    """
    if not isinstance(response_format, Mapping):
        return None
    kind = response_format.get("type")
    if kind == "json_object":
        return json.dumps({"answer": _echo(messages)})
    spec = response_format.get("json_schema")
    if kind != "json_schema" or not isinstance(spec, Mapping):
        return None
    schema = spec.get("schema") or {}
    defs = schema.get("$defs") or schema.get("definitions") or {}
    return json.dumps(schema_instance(schema, defs), separators=(",", ":"))


_STRING_FORMATS = {
    "date-time": "2025-01-01T00:00:00Z",
    "date": "2025-01-01",
    "time": "00:00:00",
    "email": "user@example.com",
    "uri": "https://example.com",
    "uuid": "00000000-0000-4000-8000-000000000000",
}


def schema_instance(schema: Any, defs: Mapping[str, Any], depth: int = 0) -> Any:
    """A deterministic value valid for ``schema``: default, const, first enum, else by type.

    Args:
        schema: A JSON schema (as OpenAI's ``response_format`` carries it).
        defs: The root's ``$defs``, for ``$ref`` resolution.
        depth: Recursion depth; recursive schemas end in ``None`` deep down.

    Returns:
        A JSON-serialisable instance with every declared property.
    """
    if not isinstance(schema, Mapping) or depth > _MAX_SCHEMA_DEPTH:
        return None
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return schema_instance(defs.get(ref.rsplit("/", 1)[-1], {}), defs, depth + 1)
    for key in ("default", "const"):
        if key in schema:
            return schema[key]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if schema.get(key):
            return schema_instance(schema[key][0], defs, depth + 1)
    return _instance_of_type(schema, defs, depth)


def _instance_of_type(schema: Mapping[str, Any], defs: Mapping[str, Any], depth: int) -> Any:
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        props = schema.get("properties") or {}
        return {name: schema_instance(sub, defs, depth + 1) for name, sub in props.items()}
    if kind == "array":
        item = schema_instance(schema.get("items") or {}, defs, depth + 1)
        return [item] * max(1, int(schema.get("minItems", 1)))
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum", 1))
        bump = 1 if "exclusiveMinimum" in schema else 0
        return int(low) + bump if kind == "integer" else float(low) + bump
    if kind == "string":
        return _STRING_FORMATS.get(schema.get("format", ""), "test")
    return _TYPE_DEFAULTS.get(kind)


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
