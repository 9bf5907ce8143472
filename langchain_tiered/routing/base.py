"""Routing values: the request a router reads, the decision it returns, tier thresholds.

Which text a router reads:

* ``RouteRequest.text`` -- the *last* human message, i.e. what the user asks now. Earlier
  turns and the system prompt describe the context, not the task, so they must not pull an
  agent loop's routing around.
* ``RouteRequest.full_text`` -- all system and human text: only the length fallback
  (``approx_tokens``) when the chat model did not fill ``token_count``, so the estimate covers
  the same prompt ``token_count`` would.

Imports nothing of ours: every router module builds on this one.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Generic, TypeAlias, TypeVar, overload

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

__all__ = [
    "DEFAULT_TASK_OUTPUT_CAPS",
    "RouteDecision",
    "RouteRequest",
    "Router",
    "check_thresholds",
    "default_thresholds",
    "tier_index",
]

DEFAULT_TASK_OUTPUT_CAPS: Mapping[str, int] = MappingProxyType(
    {
        "classify": 64,
        "lookup": 256,
        "list": 512,
        "translate": 1024,
        "summarize": 1024,
        "explain": 1024,
        "analysis": 4096,
        "code": 4096,
    }
)
"""Output-token caps per recognised task kind."""

_CHARS_PER_TOKEN = 4  # rough English/German average, only used when token_count is missing


_T = TypeVar("_T")


class _memo(Generic[_T]):  # noqa: N801 -- used as a decorator, named like cached_property
    """``functools.cached_property`` without its per-access lock (Python < 3.12).

    Routing runs on every call; the lock is measurable and pointless for values that are
    pure functions of immutable fields (a race at worst computes the same value twice).
    """

    def __init__(self, func: Callable[[Any], _T]) -> None:
        self.func = func
        self.name = func.__name__
        self.__doc__ = func.__doc__

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> _memo[_T]: ...
    @overload
    def __get__(self, obj: object, owner: type[Any]) -> _T: ...
    def __get__(self, obj: object | None, owner: type[Any]) -> _T | _memo[_T]:
        if obj is None:
            return self
        value = self.func(obj)
        obj.__dict__[self.name] = value  # a non-data descriptor: next lookups skip us
        return value


def _content_text(content: str | list[str | dict[Any, Any]]) -> str:
    if isinstance(content, str):
        return content
    # Multimodal content: keep the text parts, skip images/audio; join with newlines so words
    # from adjacent parts do not fuse into one.
    texts = [
        part if isinstance(part, str) else str(part.get("text", ""))
        for part in content
        if isinstance(part, str) or part.get("type") == "text"
    ]
    return "\n".join(t for t in texts if t)


_CONTENT = operator.attrgetter("content")


@dataclass(frozen=True)
class _Lengths:
    """The last conversation's text length, kept so a resent prefix is not measured again."""

    messages: tuple[BaseMessage, ...]
    contents: tuple[Any, ...]
    total: int  # characters of the system and human texts
    parts: int  # how many of them (joined with parts - 1 newlines)
    conversation: Any = None  # the chat model's per-call record these lengths are for


_LAST_LENGTHS = [_Lengths((), (), 0, 0)]


def _reusable(messages: tuple[BaseMessage, ...], old: _Lengths, conversation: Any) -> bool:
    """Whether ``messages`` start with all of ``old``'s messages, unchanged."""
    n = len(old.messages)
    if not n or len(messages) < n:
        return False
    if conversation is not None and conversation.previous is old.conversation is not None:
        return bool(conversation.reused == n)  # the chat model compared them already
    return messages[:n] == old.messages and tuple(map(_CONTENT, messages[:n])) == old.contents


def _text_length(messages: tuple[BaseMessage, ...], conversation: Any = None) -> int:
    """``len`` of the joined system and human texts, as a running total.

    An agent loop resends the same message objects plus new ones every turn: the total of
    an unchanged prefix (same objects, same contents; compared in C) is reused, so the cost
    stays flat as the history grows instead of joining the whole history per call. The
    chat model's per-call ``Conversation`` (``_conversation.follow``), when given, already
    holds that comparison and the contents, so neither is computed again here.
    """
    old = _LAST_LENGTHS[0]  # one read: concurrent requests each work from their own copy
    if conversation is not None and old.conversation is conversation:
        return old.total + max(old.parts - 1, 0)
    total = parts = start = 0
    contents: tuple[Any, ...] = ()
    if _reusable(messages, old, conversation):
        total, parts, start, contents = old.total, old.parts, len(old.messages), old.contents
    new = messages[start:]
    for message in new:
        if isinstance(message, (HumanMessage, SystemMessage)):
            total += len(_content_text(message.content))
            parts += 1
    if conversation is not None:
        contents = conversation.contents
    else:
        contents += tuple(map(_CONTENT, new))
    _LAST_LENGTHS[0] = _Lengths(messages, contents, total, parts, conversation)
    return total + max(parts - 1, 0)


@dataclass(frozen=True)
class RouteRequest:
    """Everything a router may look at. Built by the chat model for every call."""

    messages: tuple[BaseMessage, ...]
    """The prompt."""
    tiers: tuple[str, ...]
    """Tier names, most capable first."""
    tools: tuple[dict[str, Any], ...] = ()
    """Bound tools in OpenAI tool format."""
    structured_output: bool = False
    """Whether the caller asked for structured output."""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    """The caller's config metadata (read-only)."""
    token_count: int | None = None
    """Approximate prompt tokens, filled by the chat model; ``None`` if not counted."""

    def __post_init__(self) -> None:
        # Freeze the containers too, so a router cannot change what later routers see.
        object.__setattr__(self, "messages", tuple(self.messages))
        object.__setattr__(self, "tiers", tuple(self.tiers))
        object.__setattr__(self, "tools", tuple(self.tools))
        object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))

    # _memo writes straight into the instance __dict__, so it works on a frozen (non-slots)
    # dataclass and each text is extracted at most once per request.
    @_memo
    def text(self) -> str:
        """Text of the last human message: what the user asks now ('' if there is none)."""
        for message in reversed(self.messages):
            if isinstance(message, HumanMessage):
                return _content_text(message.content)
        return ""

    @_memo
    def full_text(self) -> str:
        """All system and human text, in order, joined by newlines."""
        return "\n".join(
            _content_text(m.content)
            for m in self.messages
            if isinstance(m, (HumanMessage, SystemMessage))
        )

    @_memo
    def text_length(self) -> int:
        """``len(full_text)``, without joining the history (a running total per prefix)."""
        # The chat model attaches its per-call prefix check (see _call.request) this way, so
        # the public fields stay as they are.
        return _text_length(self.messages, self.__dict__.get("_conversation"))

    @_memo
    def approx_tokens(self) -> int:
        """``token_count`` if known, else ``len(full_text) / 4`` rounded up."""
        if self.token_count is not None:
            return self.token_count
        return -(-self.text_length // _CHARS_PER_TOKEN)


@dataclass(frozen=True)
class RouteDecision:
    """A router's answer: which tier, and why."""

    tier: str
    """Name of the chosen tier."""
    reason: str
    """Human-readable explanation naming the deciding signals."""
    score: float | None = None
    """Complexity score in ``[0, 1]`` if the router computes one."""
    max_output_tokens: int | None = None
    """Output cap suited to the recognised task; ``None`` means no opinion."""
    signals: tuple[str, ...] = ()
    """Machine-readable names of the signals that fired."""


Router: TypeAlias = Callable[[RouteRequest], RouteDecision]
"""Any callable from request to decision is a router."""


@lru_cache(maxsize=32)
def default_thresholds(n_tiers: int) -> tuple[float, ...]:
    """Cut ``[0, 1]`` into ``n_tiers`` equal bands; return the ``n_tiers - 1`` inner cut-offs.

    Examples: 2 tiers ``(0.5,)``, 3 tiers ``(0.6667, 0.3333)``, 4 tiers ``(0.75, 0.5, 0.25)``.
    """
    return tuple(round((n_tiers - 1 - i) / n_tiers, 4) for i in range(n_tiers - 1))


def check_thresholds(thresholds: tuple[float, ...]) -> None:
    """Raise ``ValueError`` unless ``thresholds`` are strictly descending values in ``[0, 1]``."""
    if any(not 0.0 <= t <= 1.0 for t in thresholds):
        msg = f"thresholds must lie in [0, 1] (scores do), got {thresholds}"
        raise ValueError(msg)
    if any(a <= b for a, b in itertools.pairwise(thresholds)):
        msg = (
            f"thresholds must be strictly descending (one cut-off per tier boundary, most "
            f"capable tier first), got {thresholds}"
        )
        raise ValueError(msg)


def tier_index(score: float, cuts: tuple[float, ...]) -> int:
    """Index of the tier for ``score``: the first cut-off it reaches, else the cheapest."""
    return sum(1 for cut in cuts if score < cut)  # cuts descend: those above are a prefix


def bound_label(cuts: tuple[float, ...], index: int) -> str:
    """The cut-off that put a score in tier ``index``, for reasons: ``>= 0.50`` / ``< 0.25``."""
    if index < len(cuts):
        return f">= {cuts[index]:.2f}"
    return f"< {cuts[-1]:.2f}" if cuts else "only tier"
