"""Validators for structured output and tool calls, and the small JSON-schema check they share.

The call's tools reach the engine in OpenAI format, so bound tools and schemas are checked
against their JSON schema with :func:`schema_errors`, which covers what function-calling
schemas use: types, ``required``, ``properties``,
``additionalProperties``, ``items``, ``enum``/``const``, ``anyOf``/``oneOf``/``allOf``, local
``$ref``, numeric bounds, lengths and ``pattern`` (no extra dependency). A pydantic class
passed explicitly (``ValidStructuredOutput(schema=Model)``, or a tool's ``args_schema``)
validates with pydantic itself, field validators included.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from langchain_tiered.cascade.base import CascadeRequest, Verdict

if TYPE_CHECKING:
    from langchain_core.messages import AIMessage

__all__ = ["ValidStructuredOutput", "ValidToolCalls", "schema_errors"]

_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list, tuple),
    "null": (type(None),),
}


def _type_ok(value: Any, name: str) -> bool:
    if name in ("number", "integer") and isinstance(value, bool):
        return False
    if name == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _TYPES.get(name, (object,)))


def _resolve(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = schema.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return schema
    node: Any = root
    for part in ref[2:].split("/"):
        node = node.get(part, {}) if isinstance(node, Mapping) else {}
    return node if isinstance(node, Mapping) else {}


def schema_errors(
    value: Any, schema: Mapping[str, Any], root: Mapping[str, Any] | None = None, path: str = "$"
) -> list[str]:
    """Where ``value`` breaks ``schema`` (the function-calling subset), as readable strings."""
    root = schema if root is None else root
    schema = _resolve(schema, root)
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if options and all(schema_errors(value, o, root, path) for o in options):
            return [f"{path}: matches none of {key}"]
    errors = [e for sub in schema.get("allOf", ()) for e in schema_errors(value, sub, root, path)]
    expected = schema.get("type")
    names = [expected] if isinstance(expected, str) else list(expected or ())
    if names and not any(_type_ok(value, n) for n in names):
        return [*errors, f"{path}: expected {'/'.join(names)}, got {type(value).__name__}"]
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} not one of {schema['enum']!r}")
    if "const" in schema and value != schema["const"]:
        errors.append(f"{path}: expected {schema['const']!r}")
    errors += _bound_errors(value, schema, path)
    if isinstance(value, dict):
        errors += _object_errors(value, schema, root, path)
    elif isinstance(value, (list, tuple)) and isinstance(schema.get("items"), Mapping):
        for i, item in enumerate(value):
            errors += schema_errors(item, schema["items"], root, f"{path}[{i}]")
    return errors


_LOWER = ("minimum", "exclusiveMinimum", "minLength", "minItems")


def _within(key: str, size: float, bound: float) -> bool:
    exclusive = key.startswith("exclusive")
    if key in _LOWER:
        return size > bound if exclusive else size >= bound
    return size < bound if exclusive else size <= bound


def _bound_errors(value: Any, schema: Mapping[str, Any], path: str) -> list[str]:
    """Numeric bounds, string and array lengths, string patterns."""
    errors: list[str] = []
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        checks = [
            (k, value) for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
        ]
    elif isinstance(value, str):
        checks = [(k, len(value)) for k in ("minLength", "maxLength")]
    elif isinstance(value, list):
        checks = [(k, len(value)) for k in ("minItems", "maxItems")]
    else:
        checks = []
    for key, size in checks:
        bound = schema.get(key)
        if isinstance(bound, (int, float)) and not _within(key, size, bound):
            errors.append(f"{path}: {value!r} breaks {key}={bound!r}")
    pattern = schema.get("pattern")
    if isinstance(value, str) and isinstance(pattern, str) and not re.search(pattern, value):
        errors.append(f"{path}: {value!r} does not match {pattern!r}")
    return errors


def _object_errors(
    value: dict[str, Any], schema: Mapping[str, Any], root: Mapping[str, Any], path: str
) -> list[str]:
    props: Mapping[str, Any] = schema.get("properties") or {}
    errors = [f"{path}: missing {k!r}" for k in schema.get("required", ()) if k not in value]
    extra = schema.get("additionalProperties", True)
    for key, item in value.items():
        if key in props:
            errors += schema_errors(item, props[key], root, f"{path}.{key}")
        elif extra is False:
            errors.append(f"{path}: unexpected {key!r}")
        elif isinstance(extra, Mapping):
            errors += schema_errors(item, extra, root, f"{path}.{key}")
    return errors


def _pydantic_class(obj: Any) -> Any:
    """The pydantic model behind a schema or tool, if there is one."""
    from pydantic import BaseModel  # noqa: PLC0415

    candidate = getattr(obj, "args_schema", obj)  # BaseTool keeps its schema here
    if isinstance(candidate, type) and issubclass(candidate, BaseModel):
        return candidate
    return None


def _problem(args: Any, original: Any, json_schema: Mapping[str, Any] | None) -> str | None:
    """Why ``args`` do not fit the schema (``None`` when they fit)."""
    model = _pydantic_class(original)
    if model is not None:
        from pydantic import ValidationError  # noqa: PLC0415

        try:
            model.model_validate(args)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "$"
            return f"{where}: {first['msg']}"
        return None
    if json_schema is None:
        return None
    errors = schema_errors(args, json_schema)
    return "; ".join(errors[:3]) if errors else None


def _tool_schemas(request: CascadeRequest) -> dict[str, tuple[Any, Mapping[str, Any]]]:
    """Tool name -> (``None``: no pydantic class, its parameters JSON schema)."""
    out: dict[str, tuple[Any, Mapping[str, Any]]] = {}
    for spec in request.openai_tools:
        fn = spec.get("function", spec)
        out[str(fn.get("name"))] = (None, fn.get("parameters") or {})
    return out


@dataclass(frozen=True)
class ValidToolCalls:
    """Rejects tool calls that name an unbound tool, fail to parse, or break the tool's schema.

    Answers without tool calls are accepted (combine with a predicate to require one).
    """

    def __call__(self, request: CascadeRequest, message: AIMessage) -> Verdict:
        """Judge ``message``."""
        if message.invalid_tool_calls:
            bad = message.invalid_tool_calls[0]
            return Verdict.reject(f"tool call {bad.get('name')!r} has unparsable arguments")
        if not message.tool_calls:
            return Verdict.accept("no tool calls")
        schemas = _tool_schemas(request)
        for call in message.tool_calls:
            if call["name"] not in schemas:
                bound = ", ".join(sorted(schemas)) or "none"
                return Verdict.reject(f"tool call names unknown tool {call['name']!r} ({bound})")
            original, params = schemas[call["name"]]
            problem = _problem(call["args"], original, params)
            if problem is not None:
                return Verdict.reject(f"tool {call['name']!r} arguments invalid: {problem}")
        return Verdict.accept(f"{len(message.tool_calls)} valid tool call(s)")


@dataclass(frozen=True)
class ValidStructuredOutput:
    """Rejects structured output that does not parse or does not validate against the schema.

    Works for every ``with_structured_output`` method: function calling (the answer must call
    the schema's tool with valid arguments), ``json_schema`` and ``json_mode`` (the text must
    be JSON, valid against the schema where one is given); tiers of one cascade may answer
    with different methods. Calls that asked for no structured output are accepted.

    Args:
        schema: The schema to check against: a pydantic class (validated by pydantic, field
            validators included), a JSON schema dict, a TypedDict; default: the JSON schema
            the call carries.
    """

    schema: Any = None

    def __call__(self, request: CascadeRequest, message: AIMessage) -> Verdict:
        """Judge ``message``."""
        fmt = request.response_format
        if fmt is not None:
            schema = _format_schema(fmt) if self.schema is None else self.schema
            return self._json_text(message, schema)
        if not request.structured_output and self.schema is None:
            return Verdict.accept("no structured output requested")
        if message.tool_calls or message.invalid_tool_calls:  # function calling
            return self._tool_call(request, message)
        # json_schema / json_mode (a tier may be asked with another method than the next):
        # the answer is JSON text, checked against the call's schema if it has one.
        schema = self.schema
        if schema is None and request.openai_tools:
            schema = request.openai_tools[0]
        return self._json_text(message, schema)

    def _tool_call(self, request: CascadeRequest, message: AIMessage) -> Verdict:
        schemas = _tool_schemas(request)
        if not message.tool_calls:
            return Verdict.reject("structured output did not parse as JSON")
        call = message.tool_calls[0]
        original, params = schemas.get(call["name"], (self.schema, None))
        if self.schema is not None:
            original, params = self.schema, _json_schema_of(self.schema)
        elif call["name"] not in schemas:
            return Verdict.reject(f"structured output names unknown schema {call['name']!r}")
        problem = _problem(call["args"], original, params)
        if problem is not None:
            return Verdict.reject(f"structured output invalid: {problem}")
        return Verdict.accept("structured output valid")

    @staticmethod
    def _json_text(message: AIMessage, schema: Any) -> Verdict:
        text = message.text.strip()
        if text.startswith("```"):  # some models fence JSON even in JSON mode
            text = text.strip("`").removeprefix("json").strip()
        if not text:
            return Verdict.reject("no structured output (neither a tool call nor JSON)")
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            return Verdict.reject(f"structured output is not JSON ({exc.msg})")
        problem = _problem(value, schema, _json_schema_of(schema)) if schema is not None else None
        if problem is not None:
            return Verdict.reject(f"structured output invalid: {problem}")
        return Verdict.accept("structured output valid")


def _format_schema(fmt: Any) -> Any:
    """The schema inside a ``response_format`` (``None`` for plain JSON mode)."""
    if isinstance(fmt, Mapping):
        inner = fmt.get("json_schema")
        if isinstance(inner, Mapping):
            return inner.get("schema")
        return None
    return fmt  # a pydantic class passed as response_format


def _json_schema_of(schema: Any) -> Mapping[str, Any] | None:
    """JSON schema of a dict schema, OpenAI tool, TypedDict or function (``None`` if unknown)."""
    if isinstance(schema, Mapping):
        params = schema.get("parameters") or schema.get("function", {}).get("parameters")
        return params if isinstance(params, Mapping) else schema
    if schema is None or _pydantic_class(schema) is not None:
        return None
    from langchain_core.utils.function_calling import convert_to_openai_tool  # noqa: PLC0415

    try:
        params = convert_to_openai_tool(schema)["function"].get("parameters")
    except (TypeError, ValueError):
        return None
    return params if isinstance(params, Mapping) else None
