"""Raw token counts of OpenAI wire-format chat messages and tool schemas.

Text accounting follows OpenAI's cookbook ("How to count tokens with tiktoken") with the
per-family overheads of ``ModelEncoding``; for text-only messages it reproduces the
``usage.prompt_tokens`` OpenAI reports (pinned by tests against recorded responses). Tool calls,
tool results and tool schemas are rendered by OpenAI in undocumented ways: the rules here are
the public approximations, chosen to err high where they are unsure.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from langchain_tiered.tokens.encoding import get_encoding
from langchain_tiered.tokens.images import image_dimensions_from_data_url, image_tokens
from langchain_tiered.tokens.models import ModelEncoding, encoding_for_model

if TYPE_CHECKING:
    import tiktoken

__all__ = ["count_message", "count_openai_messages", "count_tool_schemas"]

# An assistant tool call is rendered roughly as " to=functions.NAME" plus delimiters around the
# JSON arguments. Not measured in any recording we have; 6 is deliberately generous
# (langchain-openai counts 0 here, which under-counts).
TOOL_CALL_OVERHEAD = 6
# A tool result's call id is not rendered verbatim (the result is attributed to the function);
# like langchain-openai's get_num_tokens_from_messages we charge a flat 3 tokens for it.
TOOL_CALL_ID_TOKENS = 3
# Non-text, non-image parts (audio, files) have provider-side accounting we cannot reproduce
# offline; charge one token per 3 characters of their JSON, which is above what base64
# payloads tokenize to and avoids running the tokenizer over megabytes.
_CHARS_PER_TOKEN_UNKNOWN_PART = 3

# Tool-schema constants from the OpenAI cookbook's num_tokens_for_tools (gpt-4o/gpt-4o-mini vs
# gpt-3.5-turbo/gpt-4). The cookbook shows exact agreement on its flat example schemas; expect
# a few tokens of error per function on flat schemas, and over-estimates on nested ones (which
# we count from their JSON, because the cookbook formula ignores nesting).
_FUNC_INIT = {"cl100k_base": 10, "o200k_base": 7}
_PROP_INIT = 3
_PROP_KEY = 3
_ENUM_INIT = -3
_ENUM_ITEM = 3
_FUNC_END = 12
_NESTED_KEYS = frozenset({"properties", "items", "anyOf", "oneOf", "allOf", "$ref", "prefixItems"})


def _n(enc: tiktoken.Encoding, text: str) -> int:
    # encode_ordinary: special-token text typed by a user is plain text to the API, never an
    # error, and it skips the special-token scan.
    return len(enc.encode_ordinary(text))


@functools.lru_cache(maxsize=64)
def _role_tokens(enc: tiktoken.Encoding, role: str) -> int:
    return _n(enc, role)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _image_part_tokens(part: Mapping[str, Any], model_encoding: ModelEncoding) -> int:
    image = part.get("image_url")
    if isinstance(image, Mapping):
        url, detail = str(image.get("url") or ""), image.get("detail")
    else:
        url, detail = str(image or ""), None
    return image_tokens(
        image_dimensions_from_data_url(url),
        detail,
        base=model_encoding.image_base_tokens,
        tile=model_encoding.image_tile_tokens,
        patch_multiplier=model_encoding.image_patch_multiplier,
        pixels_per_token=model_encoding.image_pixels_per_token,
    )


def _content_tokens(content: Any, model_encoding: ModelEncoding, enc: tiktoken.Encoding) -> int:
    if isinstance(content, str):
        return _n(enc, content)
    if not isinstance(content, Sequence):
        return _n(enc, _json(content))
    tokens = 0
    for part in content:
        if isinstance(part, str):
            tokens += _n(enc, part)
        elif not isinstance(part, Mapping):
            tokens += _n(enc, _json(part))
        elif part.get("type") in ("text", "refusal"):
            tokens += _n(enc, str(part.get(part["type"]) or ""))
        elif part.get("type") == "image_url":
            tokens += _image_part_tokens(part, model_encoding)
        else:
            tokens += math.ceil(len(_json(part)) / _CHARS_PER_TOKEN_UNKNOWN_PART)
    return tokens


def _function_call_tokens(call: Any, enc: tiktoken.Encoding) -> int:
    if not isinstance(call, Mapping):
        return _n(enc, _json(call)) + TOOL_CALL_OVERHEAD
    function = call.get("function", call)  # tool_calls nest it; legacy function_call does not
    if not isinstance(function, Mapping):
        return _n(enc, _json(call)) + TOOL_CALL_OVERHEAD
    arguments = function.get("arguments") or ""
    if not isinstance(arguments, str):
        arguments = _json(arguments)
    return _n(enc, str(function.get("name") or "")) + _n(enc, arguments) + TOOL_CALL_OVERHEAD


def count_message(
    message: Mapping[str, Any], model_encoding: ModelEncoding, enc: tiktoken.Encoding
) -> int:
    """Raw tokens of one OpenAI wire-format message, including its per-message overhead.

    Args:
        message: ``{"role", "content", "name", "tool_calls", "tool_call_id", ...}``.
        model_encoding: The model family's overheads.
        enc: The tokenizer for ``model_encoding.encoding``.

    Returns:
        The token count (reply priming and tools excluded).
    """
    tokens = model_encoding.tokens_per_message
    for key, value in message.items():
        if value is None or value in ("", []):
            continue
        if key == "content":
            tokens += _content_tokens(value, model_encoding, enc)
        elif key == "tool_calls":
            tokens += sum(_function_call_tokens(call, enc) for call in value)
        elif key == "function_call":
            tokens += _function_call_tokens(value, enc)
        elif key == "tool_call_id":
            tokens += TOOL_CALL_ID_TOKENS
        elif key == "role" and value.__class__ is str:  # a handful of values: remembered
            tokens += _role_tokens(enc, value)
        elif isinstance(value, str):  # name, refusal: rendered as text
            tokens += _n(enc, value)
            if key == "name":
                tokens += model_encoding.tokens_per_name
        # Other non-string fields (ids, audio references) are not rendered into the prompt.
    return tokens


def _property_tokens(name: str, schema: Mapping[str, Any], enc: tiktoken.Encoding) -> int:
    description = str(schema.get("description") or "").removesuffix(".")
    if _NESTED_KEYS.intersection(schema) or not isinstance(schema.get("type", ""), str):
        # The cookbook formula only knows flat "name:type:description" lines; render nested
        # schemas as JSON, which costs more tokens than OpenAI's compact TypeScript rendering.
        rest = {k: v for k, v in schema.items() if k != "description"}
        return _PROP_KEY + _n(enc, f"{name}:{_json(rest)}:{description}")
    tokens = _PROP_KEY
    enum = schema.get("enum")
    if isinstance(enum, Sequence) and not isinstance(enum, str):
        tokens += _ENUM_INIT + sum(_ENUM_ITEM + _n(enc, str(item)) for item in enum)
    return tokens + _n(enc, f"{name}:{schema.get('type', '')}:{description}")


def _function_schema_tokens(
    function: Mapping[str, Any], func_init: int, enc: tiktoken.Encoding
) -> int:
    description = str(function.get("description") or "").removesuffix(".")
    tokens = func_init + _n(enc, f"{function.get('name', '')}:{description}")
    parameters = function.get("parameters") or {}
    properties = parameters.get("properties") or {}
    if properties:
        tokens += _PROP_INIT
        tokens += sum(_property_tokens(str(k), v, enc) for k, v in properties.items())
    for defs_key in ("$defs", "definitions"):  # referenced sub-schemas are rendered too
        if parameters.get(defs_key):
            tokens += _n(enc, _json(parameters[defs_key]))
    return tokens


def count_tool_schemas(
    tools: Sequence[Mapping[str, Any]] | None,
    model_encoding: ModelEncoding,
    enc: tiktoken.Encoding,
) -> int:
    """Raw tokens of tool definitions in OpenAI format (cookbook ``num_tokens_for_tools``).

    Expected error: a few tokens per function for flat schemas (the cookbook reports exact
    agreement with the API on its examples for gpt-4o/gpt-4o-mini); nested schemas
    (objects, arrays, ``anyOf``, ``$defs``) are counted from their JSON and come out high.
    Non-function (built-in) tools are counted as their JSON.

    Args:
        tools: ``[{"type": "function", "function": {"name", "description", "parameters"}}]``.
        model_encoding: The model family (selects the cl100k or o200k constants).
        enc: The tokenizer for ``model_encoding.encoding``.

    Returns:
        The token count, 0 without tools.
    """
    if not tools:
        return 0
    func_init = _FUNC_INIT.get(model_encoding.encoding, max(_FUNC_INIT.values()))
    tokens = _FUNC_END + model_encoding.tool_prompt_tokens
    for tool in tools:
        function = tool.get("function")
        if tool.get("type", "function") == "function" and isinstance(function, Mapping):
            tokens += _function_schema_tokens(function, func_init, enc)
        else:
            tokens += func_init + _n(enc, _json(tool))
    return tokens


def count_openai_messages(
    messages: Sequence[Mapping[str, Any]],
    *,
    model: str | None = None,
    tools: Sequence[Mapping[str, Any]] | None = None,
) -> int:
    """Raw prompt tokens of OpenAI chat messages plus tool schemas, without safety factor.

    For text-only messages to OpenAI models this equals the ``usage.prompt_tokens`` OpenAI
    reports (the bundled emulator relies on it). Images use OpenAI's tile/patch formulas (an
    unknown size costs the worst case); tool calls and schemas are close approximations.

    Args:
        messages: Wire-format messages (``role``/``content``/``name``/``tool_calls``/
            ``tool_call_id``; content a string or a list of ``text``/``image_url`` parts).
        model: Model name selecting encoding and overheads (see ``encoding_for_model``).
        tools: Tool definitions in OpenAI format.

    Returns:
        The raw token count.
    """
    model_encoding = encoding_for_model(model)
    enc = get_encoding(model_encoding.encoding)
    tokens = sum(count_message(message, model_encoding, enc) for message in messages)
    return tokens + model_encoding.reply_priming + count_tool_schemas(tools, model_encoding, enc)
