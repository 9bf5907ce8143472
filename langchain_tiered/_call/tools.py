"""Tools bound to a call: their OpenAI form and each tier's binding, memoized in one cache.

An agent loop sends the same tool list with every turn; converting it and binding it to
each tier once per list (not once per call) keeps that cost off the hot path.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from langchain_core.utils.function_calling import convert_to_openai_tool

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.runnables import Runnable

__all__ = ["Binder", "ToolMemo"]

_MEMO_LIMIT = 256  # tool lists are few per process; past this the memo starts over

Binder = Callable[[str], "tuple[Runnable[Any, Any] | None, str]"]
"""``tier name -> (runnable, "")``, or ``(None, why)`` when the tier cannot take the call."""


@dataclass
class _Entry:
    tools: Sequence[Any]
    openai: tuple[dict[str, Any], ...]
    bound: dict[tuple[str, str], Runnable[Any, Any] | None] = field(default_factory=dict)


class ToolMemo:
    """One memo per model, keyed by the identity of the bound tool list."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[int, _Entry] = {}

    def _entry(self, tools: Sequence[Any]) -> _Entry:
        entry = self._entries.get(id(tools))
        if entry is not None and entry.tools is tools:
            return entry
        entry = _Entry(tools, tuple(convert_to_openai_tool(t) for t in tools))
        with self._lock:
            if len(self._entries) > _MEMO_LIMIT:  # bounded: rebuilt when needed, never leaked
                self._entries.clear()
            # The entry keeps ``tools`` alive, so its id cannot be reused while cached.
            self._entries[id(tools)] = entry
        return entry

    def openai_tools(self, tools: Sequence[Any] | None) -> tuple[dict[str, Any], ...]:
        """Bound tools in OpenAI format (for routing and counting)."""
        return self._entry(tools).openai if tools else ()

    def binder(
        self, models: Mapping[str, BaseChatModel], tools: Sequence[Any] | None, tool_choice: Any
    ) -> Binder:
        """Per-tier runnable for a call: the tier model, with the tools bound if any.

        A tier whose model cannot bind tools gets ``None`` and the reason.
        """
        if not tools:
            return lambda name: (models[name], "")
        entry = self._entry(tools)
        choice = repr(tool_choice)

        def bind(name: str) -> tuple[Runnable[Any, Any] | None, str]:
            key = (name, choice)
            if key not in entry.bound:
                extra = {} if tool_choice is None else {"tool_choice": tool_choice}
                try:
                    entry.bound[key] = models[name].bind_tools(tools, **extra)
                except NotImplementedError:
                    entry.bound[key] = None
            runnable = entry.bound[key]
            if runnable is None:
                return None, f"model {type(models[name]).__name__} cannot bind tools"
            return runnable, ""

        return bind
