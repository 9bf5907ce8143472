"""Which prompt-cache writes a call may cause, for an upper-bound worst case.

Providers differ: OpenAI, Gemini and DeepSeek cache automatically, so any call may write (only
prices with a write premium make this matter); Anthropic writes only at explicit
``cache_control`` breakpoints (on content blocks, tools, or the call's ``cache_control``
argument that langchain-anthropic and its caching middleware pass), with a ``ttl`` of ``"5m"``
(default) or ``"1h"``. A Claude call without any breakpoint cannot write, so its worst case
carries no write premium. OpenAI's extended retention (``prompt_cache_retention``, priced
like a 1-hour write) is opt-in per call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from langchain_tiered.pricing.names import normalize_model_name
from langchain_tiered.pricing.price import CacheWrites

__all__ = ["cache_writes_for"]

_EXPLICIT_CACHING = ("claude", "anthropic")
_MAX_DEPTH = 8  # content blocks nest a few levels (tool_result -> content -> block)


def _ttls(value: Any, depth: int = 0) -> Iterable[str]:
    """TTLs of every ``cache_control`` found in nested dicts/lists (strings are not scanned)."""
    if depth > _MAX_DEPTH:
        return
    if isinstance(value, Mapping):
        control = value.get("cache_control")
        if isinstance(control, Mapping):
            yield str(control.get("ttl") or "5m")
        for item in value.values():
            if isinstance(item, (Mapping, list, tuple)):
                yield from _ttls(item, depth + 1)
    elif isinstance(value, (list, tuple)):
        for item in value:
            if isinstance(item, (Mapping, list, tuple)):
                yield from _ttls(item, depth + 1)


def cache_writes_for(
    model_name: str | None,
    messages: Sequence[Any] = (),
    kwargs: Mapping[str, Any] | None = None,
    tools: Sequence[Any] | None = None,
) -> CacheWrites:
    """Which cache writes a call may cause; feeds ``ModelPrice.worst_case(cache_writes=...)``.

    Args:
        model_name: The tier's model name.
        messages: The LangChain messages (or dicts) about to be sent.
        kwargs: The call's keyword arguments (a ``cache_control`` argument counts).
        tools: Tool definitions bound to the call.

    Returns:
        ``"5m"`` for providers that cache on their own (``"any"`` when the call asks for
        extended retention); for Claude,
        ``"none"`` without breakpoints, else ``"5m"``, ``"1h"`` or ``"any"`` (both TTLs).
    """
    name = normalize_model_name(model_name or "")
    if not any(marker in name for marker in _EXPLICIT_CACHING):
        # Automatic caching writes at the standard price; OpenAI's extended retention
        # ("prompt_cache_retention") is opt-in and may cost more.
        return "any" if "prompt_cache_retention" in (kwargs or {}) else "5m"
    found: set[str] = set()
    for message in messages:
        # A LangChain message with a string content and empty extra kwargs holds no
        # breakpoint: skipped on a read of its instance dict (an agent's history is hundreds
        # of such messages on every call). Anything else is scanned.
        fields = getattr(message, "__dict__", None)
        if (
            fields.__class__ is dict
            and fields.get("content").__class__ is str
            and not fields.get("additional_kwargs", True)
        ):
            continue
        found.update(_ttls(getattr(message, "content", message)))
        found.update(_ttls(getattr(message, "additional_kwargs", None)))
    found.update(_ttls(dict(kwargs or {})))
    found.update(_ttls(list(tools or [])))
    if not found:
        return "none"
    if found == {"5m"}:
        return "5m"
    if found == {"1h"}:
        return "1h"
    return "any"
