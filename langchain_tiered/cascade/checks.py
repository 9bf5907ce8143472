"""Validators that read only the answer: empty, refused, cut off, pattern, predicate, logprobs."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from langchain_tiered.cascade.base import CascadeRequest, Verdict

if TYPE_CHECKING:
    from langchain_core.messages import AIMessage

__all__ = [
    "LogprobConfidence",
    "Matches",
    "NotEmpty",
    "NotRefusal",
    "NotTruncated",
    "Predicate",
]

# Openings of refusals in English and German; matched at the start of the answer only, so an
# answer that merely quotes such a sentence later on is not taken for a refusal.
_REFUSALS = (
    r"i(?:'m| am) sorry,? but i (?:can(?:not|'t)|won't|am unable)",
    r"i (?:can(?:not|'t)|won't|am unable to|am not able to) (?:help|assist|comply|provide)",
    r"sorry,? (?:but )?i can(?:not|'t) (?:help|assist)",
    r"as an ai(?: language model)?,? i (?:can(?:not|'t)|am unable)",
    r"es tut mir leid,? (?:aber )?ich kann",
    r"ich kann (?:dir |ihnen )?(?:dabei |damit |hierbei )?nicht (?:helfen|behilflich)",
    r"leider kann ich (?:dir |ihnen )?(?:dabei |damit |hierbei )?nicht",
)
# finish/stop reasons that mean "cut off by the output cap", per provider.
_TRUNCATED = frozenset({"length", "max_tokens", "MAX_TOKENS", "model_length"})
_FILTERED = frozenset({"content_filter", "refusal", "SAFETY"})


def _text(message: AIMessage) -> str:
    return message.text.strip()


@dataclass(frozen=True)
class NotEmpty:
    """Rejects an answer with neither text nor tool calls."""

    def __call__(self, request: CascadeRequest, message: AIMessage) -> Verdict:
        """Judge ``message``."""
        if _text(message) or message.tool_calls:
            return Verdict.accept("not empty")
        return Verdict.reject("empty answer")


@dataclass(frozen=True)
class NotRefusal:
    """Rejects refusals: a provider refusal field or filter, or a refusing first sentence.

    Args:
        patterns: Extra regular expressions (case-insensitive) matched at the answer's start.
    """

    patterns: Sequence[str] = ()
    _compiled: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        joined = "|".join(f"(?:{p})" for p in (*_REFUSALS, *self.patterns))
        object.__setattr__(self, "_compiled", re.compile(rf"^\W*(?:{joined})", re.IGNORECASE))

    def __call__(self, request: CascadeRequest, message: AIMessage) -> Verdict:
        """Judge ``message``."""
        if message.additional_kwargs.get("refusal"):
            return Verdict.reject("provider reported a refusal")
        meta = message.response_metadata
        reason = meta.get("finish_reason") or meta.get("stop_reason")
        if reason in _FILTERED:
            return Verdict.reject(f"refused (stop reason {reason!r})")
        if self._compiled.search(_text(message).replace("\u2019", "'")):
            return Verdict.reject("the answer is a refusal")
        return Verdict.accept("not a refusal")


@dataclass(frozen=True)
class NotTruncated:
    """Rejects an answer cut off by the output cap (``finish_reason`` length, ``max_tokens``)."""

    def __call__(self, request: CascadeRequest, message: AIMessage) -> Verdict:
        """Judge ``message``."""
        meta = message.response_metadata
        for key in ("finish_reason", "stop_reason"):
            if meta.get(key) in _TRUNCATED:
                return Verdict.reject(f"cut off by the output cap ({key}={meta[key]!r})")
        if meta.get("status") == "incomplete":  # OpenAI Responses API
            return Verdict.reject("cut off (status 'incomplete')")
        return Verdict.accept("complete")


@dataclass(frozen=True)
class Matches:
    r"""Accepts when the answer's text matches a regular expression (``re.search``).

    Args:
        pattern: The expression, e.g. ``r"####\s*-?[\d,.]+"`` for "states a final number".
        flags: ``re`` flags.
        reason: What a rejection says (default names the pattern).
    """

    pattern: str
    flags: int = 0
    reason: str | None = None
    _compiled: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_compiled", re.compile(self.pattern, self.flags))

    def __call__(self, request: CascadeRequest, message: AIMessage) -> Verdict:
        """Judge ``message``."""
        if self._compiled.search(message.text):
            return Verdict.accept(f"matches /{self.pattern}/")
        return Verdict.reject(self.reason or f"does not match /{self.pattern}/")


@dataclass(frozen=True)
class Predicate:
    """Wraps a plain test ``fn(text) -> bool`` (or ``fn(request, message) -> bool``).

    Args:
        fn: The test. With ``on_message=True`` it receives ``(request, message)``.
        reason: What a rejection says.
        on_message: Pass the request and the whole message instead of the text.
    """

    fn: Callable[..., Any]
    reason: str = "predicate failed"
    on_message: bool = False

    def __call__(self, request: CascadeRequest, message: AIMessage) -> Verdict:
        """Judge ``message``."""
        ok = self.fn(request, message) if self.on_message else self.fn(message.text)
        return Verdict.accept("predicate holds") if ok else Verdict.reject(self.reason)


@dataclass(frozen=True)
class LogprobConfidence:
    """Rejects answers whose mean token log-probability is below ``min_mean_logprob``.

    Needs a provider that returns logprobs (bind ``logprobs=True`` on OpenAI-compatible
    tiers); answers without them are accepted unless ``require=True``.

    Args:
        min_mean_logprob: Threshold, e.g. ``-0.3`` (about 74% mean token probability).
        require: Reject answers that carry no logprobs.
    """

    min_mean_logprob: float
    require: bool = False

    def __call__(self, request: CascadeRequest, message: AIMessage) -> Verdict:
        """Judge ``message``."""
        values = token_logprobs(message)
        if not values:
            if self.require:
                return Verdict.reject("no logprobs in the answer")
            return Verdict.accept("no logprobs to judge")
        mean = math.fsum(values) / len(values)
        if mean >= self.min_mean_logprob:
            return Verdict.accept(f"mean logprob {mean:.3f}", score=mean)
        return Verdict.reject(f"mean logprob {mean:.3f} < {self.min_mean_logprob:.3f}", score=mean)


def token_logprobs(message: AIMessage) -> list[float]:
    """The per-token logprobs of an answer (OpenAI ``logprobs.content`` shape), if present."""
    raw = message.response_metadata.get("logprobs")
    content = raw.get("content") if isinstance(raw, dict) else raw
    if not isinstance(content, list):
        return []
    return [float(t["logprob"]) for t in content if isinstance(t, dict) and "logprob" in t]
