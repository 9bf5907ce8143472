"""The emulator's shared state, and the public surface its HTTP handlers use.

:class:`EmulatorState` owns everything a request reads or changes (faults, scripts,
responders, context windows, prompt caches, the request log) under one lock. The
HTTP handlers (:mod:`~langchain_tiered.testing._http`, :mod:`~langchain_tiered.testing._anthropic`)
and :class:`~langchain_tiered.testing.OpenAICompatibleEmulator` both hold it, so neither
imports the other.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from langchain_tiered.testing._cache import PromptCache
from langchain_tiered.testing._faults import Fault, FaultBook, Verdict
from langchain_tiered.testing._records import RequestRecord
from langchain_tiered.testing._replies import Reply, Responder, ScriptItem, default_reply

__all__ = ["DEFAULT_MODELS", "EmulatorState"]

DEFAULT_MODELS = ("gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano")


class EmulatorState:
    """Faults, scripts, context windows, prompt caches and the request log of one emulator.

    Thread-safe: tests configure it from their thread while the server thread answers.

    Args:
        faults: Faults active from the start.
        context_windows: Per-model prompt limits.
        auto_tools: Play the model's half of an agent loop when nothing is scripted.
        responder: Computes every unscripted reply from the request JSON.
        prompt_cache: Report cached prompt tokens for repeated prefixes.
    """

    def __init__(
        self,
        *,
        faults: Iterable[Fault] = (),
        context_windows: Mapping[str, int] | None = None,
        auto_tools: bool = True,
        responder: Responder | None = None,
        prompt_cache: bool = False,
    ) -> None:
        self.auto_tools = auto_tools
        self.faults = FaultBook(faults)
        self.cache = PromptCache(enabled=prompt_cache)
        self._windows = dict(context_windows or {})
        self._responder = responder
        self._lock = threading.Lock()  # guards scripts, responders, the log and the sequence
        self._scripts: dict[str, collections.deque[ScriptItem]] = {}
        self._responders: dict[str, Responder] = {}
        self._log: list[RequestRecord] = []
        self._seen: set[str] = set()
        self._seq = 0

    # -- configuration ------------------------------------------------------------------------

    def script(self, model: str, items: Iterable[ScriptItem]) -> None:
        """Queue replies for ``model``, consumed one per request in order."""
        with self._lock:
            self._scripts.setdefault(model, collections.deque()).extend(items)
            self._seen.add(model)

    def respond_with(self, responder: Responder | None, *, model: str | None = None) -> None:
        """Answer unscripted requests (for ``model``, or all models) with ``responder``."""
        with self._lock:
            if model is None:
                self._responder = responder
            elif responder is None:
                self._responders.pop(model, None)
            else:
                self._responders[model] = responder

    def set_context_window(self, model: str, tokens: int | None) -> None:
        """Limit (or with ``None`` unlimit) the prompt tokens ``model`` accepts."""
        with self._lock:
            if tokens is None:
                self._windows.pop(model, None)
            else:
                self._windows[model] = tokens

    def reset(self) -> None:
        """Clear log, scripts, responders, faults and prompt caches (windows stay)."""
        self.faults.clear()
        self.cache.clear()
        with self._lock:
            self._scripts.clear()
            self._responders.clear()
            self._log.clear()
            self._seen.clear()
            self._responder = None

    # -- what a request handler uses ----------------------------------------------------------

    def next_seq(self, model: str) -> int:
        """The request's sequence number (for ids); remembers the model name."""
        with self._lock:
            self._seq += 1
            if model:
                self._seen.add(model)
            return self._seq

    def judge(self, model: str) -> Verdict:
        """Which fault (if any) hits this request, and how long to delay it."""
        return self.faults.judge(model)

    def context_window(self, model: str) -> int | None:
        """The model's configured prompt limit, if any."""
        with self._lock:
            return self._windows.get(model)

    def record(self, record: RequestRecord) -> None:
        """Append one answered request to the log."""
        with self._lock:
            self._log.append(record)

    def reply_for(self, body: Mapping[str, Any]) -> Reply:
        """The scripted reply for this request, else the responder's, else the default."""
        model = body["model"]
        with self._lock:
            queue = self._scripts.get(model)
            item: ScriptItem | None = queue.popleft() if queue else None
            item = item or self._responders.get(model) or self._responder
        if item is None:
            return default_reply(body, auto_tools=self.auto_tools)
        return item if isinstance(item, Reply) else item(body)

    # -- observation --------------------------------------------------------------------------

    def requests(self) -> list[RequestRecord]:
        """A snapshot of the request log, oldest first."""
        with self._lock:
            return list(self._log)

    def model_names(self) -> list[str]:
        """Defaults plus every model name scripted, seen or given a window."""
        with self._lock:
            names = set(DEFAULT_MODELS) | self._seen | set(self._windows)
        return sorted(names)
