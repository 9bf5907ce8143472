"""Token counting before a call is sent: offline tiktoken, chat accounting, memo, calibration.

* ``get_encoding`` builds cl100k/o200k from the BPE files shipped in the package (no network).
* ``encoding_for_model`` maps any model name to a tokenizer, per-family overheads and a safety
  factor (>1 where o200k only approximates another provider's tokenizer).
* ``count_openai_messages`` is the raw, exact-for-OpenAI count of wire-format messages;
  ``count_tokens`` is the public helper for LangChain inputs (raw x safety factor).
* ``TokenCounter`` is what ``TieredChatModel`` uses per call: it memoizes per-message counts so
  an agent loop that resends its history pays for each message once, and it learns a per-model
  correction factor from the provider's reported usage.

tiktoken itself is imported only when the first count happens.
"""

from __future__ import annotations

import math
import operator
import sys
import threading
from collections import OrderedDict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_core.messages.utils import convert_to_openai_messages
from langchain_core.prompt_values import PromptValue
from langchain_core.utils.function_calling import convert_to_openai_tool

from langchain_tiered._conversation import prefix_length
from langchain_tiered.tokens import openai as _tokens_openai
from langchain_tiered.tokens.encoding import get_encoding
from langchain_tiered.tokens.models import (
    ModelEncoding,
    encoding_for_model,
    normalize_model_name,
)
from langchain_tiered.tokens.openai import count_openai_messages

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage

__all__ = [
    "ModelEncoding",
    "TokenCounter",
    "TokenEstimate",
    "count_openai_messages",
    "count_tokens",
    "encoding_for_model",
    "get_encoding",
]

# Calibration: exponential moving average of actual/raw. 0.3 forgets a stale prior within ~10
# calls yet one outlier moves the factor by at most 30% of its error.
_EMA_ALPHA = 0.3
_MIN_FACTOR = 1.0  # never estimate below the raw count
_MAX_FACTOR = 3.0  # a wildly wrong observation (e.g. a mis-attributed usage) stays bounded
# float products such as 100 * 1.1 = 110.00000000000001 must not round up to 111
_ROUNDING_SLACK = 1e-9


@dataclass(frozen=True)
class TokenEstimate:
    """A prompt's token count before sending.

    Attributes:
        raw: tiktoken count with the family's message/reply/tool overheads.
        estimate: ``raw`` x the model's safety/calibration factor, rounded up, never below raw.
    """

    raw: int
    estimate: int


def _apply_factor(raw: int, factor: float) -> int:
    return max(raw, math.ceil(raw * factor - _ROUNDING_SLACK))


_cached_encoding_for_model = lru_cache(maxsize=1024)(encoding_for_model)


def _to_openai_tools(tools: Sequence[Any] | None) -> list[Mapping[str, Any]] | None:
    if not tools:
        return None
    converted: list[Mapping[str, Any]] = []
    for tool in tools:
        if isinstance(tool, Mapping) and ("function" in tool or "type" in tool):
            converted.append(tool)  # already OpenAI format (function or built-in tool)
        else:
            converted.append(convert_to_openai_tool(tool))
    return converted


def count_tokens(
    messages: str | Sequence[BaseMessage | tuple[str, str] | dict[str, Any] | str] | PromptValue,
    *,
    model: str | None = None,
    tools: Sequence[Any] | None = None,
) -> int:
    """Estimate the prompt tokens a chat model will bill for ``messages``.

    Example:
        >>> count_tokens("howdy", model="gpt-4o-mini")
        9

    Args:
        messages: A string, a prompt value, or a sequence of LangChain messages / message-like
            tuples, dicts or strings.
        model: Target model name; selects tokenizer, overheads and safety factor. ``None``
            counts as an unknown model (o200k x 1.5).
        tools: Tools as OpenAI dicts, pydantic models, functions or ``BaseTool`` objects.

    Returns:
        Raw count x the model family's safety factor, rounded up (exact for OpenAI models).
    """
    if isinstance(messages, PromptValue):
        messages = messages.to_messages()
    elif isinstance(messages, str):
        messages = [messages]
    openai_messages = convert_to_openai_messages(messages)
    raw = count_openai_messages(openai_messages, model=model, tools=_to_openai_tools(tools))
    return _apply_factor(raw, _cached_encoding_for_model(model).safety_factor)


_DICT_MARK = object()  # keeps {"a": 1} and [("a", 1)] from freezing to the same key


def _freeze(value: Any) -> Hashable:
    # Strings are kept as-is (not hashed into a digest): CPython caches a str's hash, so a
    # message resent every turn is looked up in O(1) instead of re-reading its text.
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, Mapping):
        return (_DICT_MARK, tuple((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    return repr(value)


def _key_bytes(value: Any) -> int:
    """Memory a memo key holds, estimated: its strings and containers (``sys.getsizeof``)."""
    if not isinstance(value, tuple):
        return sys.getsizeof(value)
    total = sys.getsizeof(value)
    for item in value:  # leaves (strings, None, numbers) without a recursive call each
        total += _key_bytes(item) if isinstance(item, tuple) else sys.getsizeof(item)
    return total


_PLAIN_ROLES = {HumanMessage: "user", SystemMessage: "system", AIMessage: "assistant"}


def _wire_messages(message: BaseMessage) -> list[dict[str, Any]]:
    """The OpenAI wire form of one message, as ``convert_to_openai_messages`` gives it.

    A plain text message (a human, system or AI message with string content and no name,
    extra kwargs or tool calls: most messages) is ``{"role", "content"}``, built here;
    anything else goes through LangChain's converter.
    """
    role = _PLAIN_ROLES.get(message.__class__)
    fields = message.__dict__
    content = fields.get("content")
    if (
        role is not None
        and content.__class__ is str
        and fields.get("name") is None
        and not fields.get("additional_kwargs")
        and not fields.get("tool_calls")
        and not fields.get("invalid_tool_calls")
    ):
        return [{"role": role, "content": content}]
    return convert_to_openai_messages([message])


def _message_key(message: BaseMessage) -> Hashable:
    # Read fields from __dict__: getattr() of a field a message type lacks (e.g. tool_calls on
    # a HumanMessage) goes through pydantic's slow __getattr__ and dominated the memo's cost.
    # This runs for every message of every turn, so plain text messages take a short path.
    fields = message.__dict__
    content = fields.get("content")
    key: tuple[Any, ...] = (
        fields.get("type"),
        content if content.__class__ is str else _freeze(content),
        fields.get("name"),
    )
    rest = (
        fields.get("role"),  # ChatMessage
        fields.get("tool_calls"),
        fields.get("invalid_tool_calls"),
        fields.get("tool_call_id"),
        fields.get("additional_kwargs"),
    )
    if any(rest):
        key += tuple(_freeze(value) for value in rest)
    return key


@dataclass(frozen=True)
class _Snapshot:
    """The last counted conversation, kept to skip key building for an unchanged prefix."""

    profile: int
    messages: tuple[BaseMessage, ...]
    contents: tuple[Any, ...]  # each message's content when counted
    counts: tuple[int, ...]
    conversation: Any = None  # the chat model's per-call record (``_conversation``), if any
    total: int = 0  # sum(counts): a resent history is not summed again


_EMPTY_SNAPSHOT = _Snapshot(profile=-1, messages=(), contents=(), counts=())
_CONTENT = operator.attrgetter("content")  # a declared field: plain __dict__ access, no getattr


class TokenCounter:
    """Memoizing, calibrating counter; one per ``TieredChatModel``. Thread-safe.

    Per-message counts are cached in an LRU keyed by (model family, message contents), so a
    conversation resent with one more message each turn tokenizes each message once. The
    correction factor per model starts at the family's safety factor and follows the
    provider's reported ``actual / raw`` ratios (see ``observe``).

    Args:
        max_cached_messages: LRU bound on the number of cached per-message counts.
        max_cached_bytes: LRU bound on the memory their keys (the message texts) hold,
            estimated with ``sys.getsizeof``; the default keeps the memo under ~64 MB
            whatever the message sizes (50,000 entries of 20k-character messages would
            otherwise hold ~1 GB).
    """

    def __init__(
        self, *, max_cached_messages: int = 50_000, max_cached_bytes: int = 64 * 2**20
    ) -> None:
        if max_cached_messages < 0 or max_cached_bytes < 0:
            msg = (
                f"max_cached_messages and max_cached_bytes must be >= 0, got "
                f"{max_cached_messages} and {max_cached_bytes}"
            )
            raise ValueError(msg)
        self._max = max_cached_messages
        self._max_bytes = max_cached_bytes
        self._bytes = 0
        self._sizes: dict[tuple[int, Hashable], int] = {}
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple[int, Hashable], int] = OrderedDict()
        self._profiles: dict[ModelEncoding, int] = {}
        self._factors: dict[str, float] = {}
        self._snapshot: _Snapshot | None = None

    def _profile_id(self, model_encoding: ModelEncoding) -> int:
        # A small int per family stands in for the dataclass in cache keys: cheaper to hash.
        with self._lock:
            return self._profiles.setdefault(model_encoding, len(self._profiles))

    def _lookup(self, keys: list[tuple[int, Hashable]]) -> list[int | None]:
        with self._lock:
            found = [self._cache.get(key) for key in keys]
            for key, value in zip(keys, found, strict=True):
                if value is not None:
                    self._cache.move_to_end(key)
        return found

    def _store(self, entries: list[tuple[tuple[int, Hashable], int]]) -> None:
        sized = [(key, value, _key_bytes(key)) for key, value in entries]  # outside the lock
        with self._lock:
            for key, value, size in sized:
                if key not in self._sizes:
                    self._sizes[key] = size
                    self._bytes += size
                self._cache[key] = value
                self._cache.move_to_end(key)
            while self._cache and (len(self._cache) > self._max or self._bytes > self._max_bytes):
                old, _ = self._cache.popitem(last=False)
                self._bytes -= self._sizes.pop(old, 0)

    @staticmethod
    def _reusable_prefix(messages: Sequence[BaseMessage], snapshot: _Snapshot) -> int:
        # Fast path for the agent-loop shape: the same message objects as last call, plus new
        # ones (identity and content equality compared in C, far cheaper than content keys).
        # A message whose content was reassigned is noticed; other in-place edits of a sent
        # message (e.g. its tool_calls) are not.
        return prefix_length(messages, snapshot.messages, snapshot.contents)

    def _counts_by_key(
        self, messages: Sequence[BaseMessage], profile: int, model_encoding: ModelEncoding
    ) -> list[int]:
        keys = [(profile, _message_key(message)) for message in messages]
        found = self._lookup(keys)
        misses: list[tuple[tuple[int, Hashable], int]] = []
        counts: list[int] = []
        for key, cached, message in zip(keys, found, messages, strict=True):
            if cached is None:
                # Tokenize outside the lock; one LangChain message may become several wire
                # messages (e.g. Anthropic-style tool_result blocks), all counted here.
                enc = get_encoding(model_encoding.encoding)
                cached = sum(  # noqa: PLW2901 - a miss fills the slot the lookup left empty
                    _tokens_openai.count_message(wire, model_encoding, enc)
                    for wire in _wire_messages(message)
                )
                misses.append((key, cached))
            counts.append(cached)
        if misses:
            self._store(misses)
        return counts

    def _count_messages(
        self, messages: Sequence[BaseMessage], model_encoding: ModelEncoding, conversation: Any
    ) -> int:
        profile = self._profile_id(model_encoding)
        # One read: concurrent calls may replace the snapshot, each works from its own copy.
        old = self._snapshot
        if old is None or old.profile != profile:
            old = _EMPTY_SNAPSHOT
        if conversation is not None and old.conversation is conversation:
            return old.total  # counted for this very call already
        if conversation is not None and old.conversation is conversation.previous is not None:
            reused = conversation.reused  # the chat model compared with what we counted
        else:
            reused = self._reusable_prefix(messages, old)
        if reused == len(messages) == len(old.messages) and conversation is None:
            return old.total  # the same conversation again: nothing new to remember
        new_messages = messages[reused:]
        new_counts = (
            self._counts_by_key(new_messages, profile, model_encoding) if new_messages else ()
        )
        counts = old.counts[:reused] + tuple(new_counts)
        total = old.total if reused == len(old.counts) else sum(old.counts[:reused])
        total += sum(new_counts)
        if conversation is not None:
            sent, contents = conversation.messages, conversation.contents
        else:
            sent = tuple(messages)
            contents = old.contents[:reused] + tuple(map(_CONTENT, new_messages))
        self._snapshot = _Snapshot(profile, sent, contents, counts, conversation, total)
        return total

    def _count_tools(self, tools: Sequence[Any], model_encoding: ModelEncoding) -> int:
        if not all(isinstance(tool, Mapping) for tool in tools):
            # Objects (BaseTool, pydantic classes) have no stable content key: no memo.
            enc = get_encoding(model_encoding.encoding)
            return _tokens_openai.count_tool_schemas(_to_openai_tools(tools), model_encoding, enc)
        key = (self._profile_id(model_encoding), ("tools", _freeze(list(tools))))
        (cached,) = self._lookup([key])
        if cached is None:
            enc = get_encoding(model_encoding.encoding)
            cached = _tokens_openai.count_tool_schemas(_to_openai_tools(tools), model_encoding, enc)
            self._store([(key, cached)])
        return cached

    def count(
        self,
        messages: Sequence[BaseMessage],
        *,
        model: str | None,
        tools: Sequence[Mapping[str, Any]] | None = None,
        conversation: Any = None,
    ) -> TokenEstimate:
        """Count a prompt for ``model``, reusing cached per-message counts.

        Args:
            messages: The LangChain messages about to be sent.
            model: Target model name (``None``: unknown family).
            tools: Tool definitions bound to the call, preferably in OpenAI format.
            conversation: The chat model's per-call ``_conversation.Conversation`` of
                ``messages`` (internal): its unchanged-prefix check is reused instead of
                comparing the history again.

        Returns:
            The raw count and the calibrated estimate.
        """
        model_encoding = _cached_encoding_for_model(model)
        raw = self._count_messages(messages, model_encoding, conversation)
        raw += model_encoding.reply_priming
        if tools:
            raw += self._count_tools(tools, model_encoding)
        return TokenEstimate(raw=raw, estimate=_apply_factor(raw, self.factor(model)))

    @staticmethod
    def _factor_key(model: str | None) -> str:
        return normalize_model_name(model) if model else ""

    def factor(self, model: str | None) -> float:
        """Current correction factor for ``model``.

        Args:
            model: Model name as passed to ``count``.

        Returns:
            The calibrated factor, or the family's prior safety factor before any observation.
        """
        with self._lock:
            learned = self._factors.get(self._factor_key(model))
        if learned is not None:
            return learned
        return _cached_encoding_for_model(model).safety_factor

    def observe(self, model: str | None, *, raw: int, actual_input_tokens: int) -> None:
        """Fold one reported usage into ``model``'s correction factor.

        The factor moves towards ``actual_input_tokens / raw`` by an exponential moving
        average and is clamped to [1.0, 3.0], so estimates never drop below the raw count.

        Args:
            model: Model name as passed to ``count``.
            raw: ``TokenEstimate.raw`` of the call.
            actual_input_tokens: Input tokens the provider billed (``usage_metadata``).
        """
        if raw <= 0 or actual_input_tokens <= 0:
            return  # nothing to learn from an empty prompt or missing usage
        ratio = actual_input_tokens / raw
        key = self._factor_key(model)
        prior = _cached_encoding_for_model(model).safety_factor
        with self._lock:
            current = self._factors.get(key, prior)
            updated = current + _EMA_ALPHA * (ratio - current)
            self._factors[key] = min(max(updated, _MIN_FACTOR), _MAX_FACTOR)
