"""Routing: pick a tier for a request. Pure functions over immutable values.

A router is any callable ``RouteRequest -> RouteDecision``. Two are built in:

* :class:`ComplexityRouter` scores the request from explainable, additive signals (word groups
  in English and German, code blocks, multi-part questions, tools, prompt length) and maps the
  score in ``[0, 1]`` to a tier through descending thresholds.
* :class:`RuleRouter` applies explicit :class:`Rule` objects, first match wins, and otherwise
  defers to a default tier or another router.

Which text each signal reads:

* ``RouteRequest.text`` -- the *last* human message, i.e. what the user asks now: every word
  group, code blocks, multi-part questions and rule keywords. Earlier turns and the system prompt
  describe the context, not the task, so they must not pull an agent loop's routing around.
* ``RouteRequest.full_text`` -- all system and human text: only the length fallback
  (``approx_tokens``) when the chat model did not fill ``token_count``, so the estimate covers
  the same prompt ``token_count`` would.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import Any, ClassVar, Generic, TypeAlias, TypeVar, overload

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from langchain_tiered.routing.signals import DEFAULT_SIGNALS, SignalGroup, SignalMatcher, SignalSet

__all__ = [
    "DEFAULT_SIGNALS",
    "DEFAULT_TASK_OUTPUT_CAPS",
    "ComplexityRouter",
    "RouteDecision",
    "RouteRequest",
    "Router",
    "Rule",
    "RuleRouter",
    "SignalGroup",
    "SignalSet",
    "default_thresholds",
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
    def approx_tokens(self) -> int:
        """``token_count`` if known, else ``len(full_text) / 4`` rounded up."""
        if self.token_count is not None:
            return self.token_count
        return -(-len(self.full_text) // _CHARS_PER_TOKEN)


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


def _check_thresholds(thresholds: tuple[float, ...]) -> None:
    if any(not 0.0 <= t <= 1.0 for t in thresholds):
        msg = f"thresholds must lie in [0, 1] (scores do), got {thresholds}"
        raise ValueError(msg)
    if any(a <= b for a, b in itertools.pairwise(thresholds)):
        msg = (
            f"thresholds must be strictly descending (one cut-off per tier boundary, most "
            f"capable tier first), got {thresholds}"
        )
        raise ValueError(msg)


@dataclass(frozen=True)
class ComplexityRouter:
    """Route by an explainable complexity score.

    The score is the sum of the contributions of every signal that fired (see
    :class:`SignalSet` for the weights), clamped to ``[0, 1]``: 0 means a trivial lookup, about
    0.4 a plain explanation, 0.7 and above multi-step analysis or code generation. Tier ``i`` is
    chosen for the first threshold ``thresholds[i]`` the score reaches; below all, the cheapest.
    With 2 tiers (default cut-off 0.5) explanations stay on the cheap tier and a single
    analysis/code signal already reaches the capable one.

    Example:
        ``ComplexityRouter(signals=DEFAULT_SIGNALS.extend(complex=["durchleuchte"]))``
    """

    signals: SignalSet = DEFAULT_SIGNALS
    """Word groups and structural weights."""
    thresholds: tuple[float, ...] | None = None
    """Descending score cut-offs, one fewer than the tiers; ``None`` spreads them evenly."""
    task_output_caps: Mapping[str, int] = field(default_factory=lambda: DEFAULT_TASK_OUTPUT_CAPS)
    """Output-token cap per task kind, used for ``RouteDecision.max_output_tokens``."""
    needs_token_count: ClassVar[bool] = False
    """The length signal works from characters, so the model need not count tokens to route
    (any router without this attribute gets ``RouteRequest.token_count`` filled in)."""
    max_scan_chars: int | None = 1000
    """Scan at most this many characters of a long request: the first two thirds and the last
    third, where instructions sit ("Summarize: <document>", "<document> Translate this").
    Keeps routing cost flat for pasted documents, whose own words are noise anyway.
    ``None`` scans everything."""

    def __post_init__(self) -> None:
        if self.max_scan_chars is not None and self.max_scan_chars < 1:
            msg = f"max_scan_chars must be positive or None, got {self.max_scan_chars}"
            raise ValueError(msg)
        if self.thresholds is not None:
            thresholds = tuple(float(t) for t in self.thresholds)
            _check_thresholds(thresholds)
            object.__setattr__(self, "thresholds", thresholds)
        bad = {k: v for k, v in self.task_output_caps.items() if v <= 0}
        if bad:
            msg = f"task_output_caps must be positive token counts, got {bad}"
            raise ValueError(msg)
        object.__setattr__(self, "task_output_caps", MappingProxyType(dict(self.task_output_caps)))

    @_memo
    def _matcher(self) -> SignalMatcher:
        # Compiled once per router instance, on first use; routing then never compiles.
        return SignalMatcher(self.signals)

    def validate_tiers(self, tiers: Sequence[str]) -> None:
        """Check the thresholds fit ``tiers``.

        Raises:
            ValueError: No tiers, thresholds not strictly descending, or not exactly one fewer
                threshold than tiers.
        """
        if not tiers:
            msg = "ComplexityRouter needs at least one tier"
            raise ValueError(msg)
        if self.thresholds is None:
            return
        _check_thresholds(self.thresholds)
        if len(self.thresholds) != len(tiers) - 1:
            msg = (
                f"ComplexityRouter has {len(self.thresholds)} threshold(s) {self.thresholds} but "
                f"{len(tiers)} tiers {list(tiers)} need {len(tiers) - 1}: one cut-off between "
                "each pair of neighbouring tiers (or thresholds=None for even defaults)"
            )
            raise ValueError(msg)

    def __call__(self, request: RouteRequest) -> RouteDecision:
        """Score ``request`` and pick its tier."""
        tiers = request.tiers
        cuts = default_thresholds(len(tiers)) if self.thresholds is None else self.thresholds
        if len(cuts) != len(tiers) - 1:
            self.validate_tiers(tiers)
        matcher = self._matcher
        text = _window(request.text, self.max_scan_chars).lower()  # patterns are lower-case
        hits = matcher.find(text)
        parts = matcher.words(hits) + matcher.structure(
            text,
            n_tools=len(request.tools),
            structured_output=request.structured_output,
            tokens=request.approx_tokens,
        )
        score = min(1.0, max(0.0, sum(p.value for p in parts)))
        index = sum(1 for cut in cuts if score < cut)  # cuts descend: those above are a prefix
        fired = sorted((p for p in parts if p.value), key=lambda p: -abs(p.value))
        labels = [p.label for p in fired]
        if not any(p.name == "length" for p in fired):  # always show the length for context
            labels.append(f"length {request.approx_tokens} tok")
        task = matcher.task(hits)
        return RouteDecision(
            tier=tiers[index],
            reason=(
                f"score {score:.2f} -> tier {tiers[index]!r} ({_bound(cuts, index)}): "
                + ", ".join(labels)
            ),
            score=score,
            max_output_tokens=self.task_output_caps.get(task) if task else None,
            signals=tuple(p.name for p in fired),
        )


def _window(text: str, limit: int | None) -> str:
    if limit is None or len(text) <= limit:
        return text
    head = limit * 2 // 3
    return f"{text[:head]}\n{text[len(text) - (limit - head) :]}"


def _bound(cuts: tuple[float, ...], index: int) -> str:
    if index < len(cuts):
        return f">= {cuts[index]:.2f}"
    return f"< {cuts[-1]:.2f}" if cuts else "only tier"


@dataclass(frozen=True)
class Rule:
    """Send matching requests to ``tier``. Every condition given must hold.

    Example:
        ``Rule(tier="critical", keywords=("contract", "Vertrag"), name="legal")``
    """

    tier: str
    """Tier to route to when the rule matches."""
    when: Callable[[RouteRequest], bool] | None = None
    """Arbitrary predicate over the request."""
    keywords: tuple[str, ...] = ()
    """Any of these words or phrases in ``request.text`` (case-insensitive, whole words)."""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    """Every key/value pair must equal the one in ``request.metadata``."""
    min_tokens: int | None = None
    """Prompt must have at least this many tokens (``request.approx_tokens``)."""
    max_tokens: int | None = None
    """Prompt must have at most this many tokens."""
    has_tools: bool | None = None
    """Tools must (``True``) or must not (``False``) be bound."""
    name: str | None = None
    """Shown in the decision's reason instead of the rule's index."""
    max_output_tokens: int | None = None
    """Passed on as ``RouteDecision.max_output_tokens``."""
    _pattern: re.Pattern[str] | None = field(init=False, repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        object.__setattr__(self, "keywords", tuple(self.keywords))
        object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))
        conditions = (self.when, self.min_tokens, self.max_tokens, self.has_tools)
        if not self.keywords and not self.metadata and all(c is None for c in conditions):
            msg = (
                f"Rule for tier {self.tier!r} has no condition and would match everything; "
                "use RuleRouter(default=...) for the fallback tier"
            )
            raise ValueError(msg)
        if (self.min_tokens or 0) > (self.max_tokens if self.max_tokens is not None else math.inf):
            msg = f"Rule min_tokens={self.min_tokens} exceeds max_tokens={self.max_tokens}"
            raise ValueError(msg)
        if self.keywords:
            # Longest first so a phrase wins over a keyword that is its prefix.
            words = sorted((re.escape(k.strip()) for k in self.keywords), key=len, reverse=True)
            pattern = re.compile(rf"(?<!\w)(?:{'|'.join(words)})(?!\w)", re.IGNORECASE)
            object.__setattr__(self, "_pattern", pattern)

    def match(self, request: RouteRequest) -> tuple[str, ...] | None:
        """Return what matched, for the reason, or ``None`` if any condition fails."""
        matched: list[str] = []
        # Cheap checks first; the predicate runs last as it is user code of unknown cost.
        checks = (self._tools, self._metadata, self._tokens, self._keywords, self._when)
        for check in checks:
            outcome = check(request)
            if outcome is None:
                return None
            if outcome:
                matched.append(outcome)
        return tuple(matched)

    # Each check returns None if its condition fails, "" if it sets none, else a label.
    def _tools(self, request: RouteRequest) -> str | None:
        if self.has_tools is None:
            return ""
        return f"has_tools={self.has_tools}" if bool(request.tools) == self.has_tools else None

    def _metadata(self, request: RouteRequest) -> str | None:
        if not self.metadata:
            return ""
        if any(request.metadata.get(k, _MISSING) != v for k, v in self.metadata.items()):
            return None
        return "metadata[" + ", ".join(f"{k}={v!r}" for k, v in self.metadata.items()) + "]"

    def _tokens(self, request: RouteRequest) -> str | None:
        if self.min_tokens is None and self.max_tokens is None:
            return ""
        low, high = self.min_tokens or 0, self.max_tokens
        tokens = request.approx_tokens
        if tokens < low or (high is not None and tokens > high):
            return None
        return f"tokens {tokens} in [{low}, {'inf' if high is None else high}]"

    def _keywords(self, request: RouteRequest) -> str | None:
        if self._pattern is None:
            return ""
        found = self._pattern.search(request.text)
        return f"keywords[{found.group(0).lower()}]" if found else None

    def _when(self, request: RouteRequest) -> str | None:
        if self.when is None:
            return ""
        return (
            f"when[{getattr(self.when, '__name__', 'predicate')}]" if self.when(request) else None
        )


_MISSING = object()


@dataclass(frozen=True)
class RuleRouter:
    """Apply ``rules`` in order; the first that matches picks the tier, else ``default`` does.

    ``default`` is a tier name or another router, e.g. a :class:`ComplexityRouter`.

    Example:
        ``RuleRouter([Rule(tier="budget", metadata={"plan": "free"})], ComplexityRouter())``
    """

    rules: Sequence[Rule]
    """Rules, tried in order."""
    default: str | Router
    """Tier name or router used when no rule matches."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "rules", tuple(self.rules))
        if not all(isinstance(r, Rule) for r in self.rules):
            msg = "RuleRouter rules must be Rule instances"
            raise TypeError(msg)
        if not (isinstance(self.default, str) and self.default) and not callable(self.default):
            msg = f"RuleRouter default must be a tier name or a router, got {self.default!r}"
            raise TypeError(msg)

    def __call__(self, request: RouteRequest) -> RouteDecision:
        """Route ``request`` by the first matching rule, else by ``default``."""
        for index, rule in enumerate(self.rules):
            matched = rule.match(request)
            if matched is not None:
                label = repr(rule.name) if rule.name else f"#{index}"
                return RouteDecision(
                    tier=rule.tier,
                    reason=f"rule {label} matched: {', '.join(matched)}",
                    max_output_tokens=rule.max_output_tokens,
                    signals=(f"rule:{rule.name if rule.name else index}",),
                )
        if isinstance(self.default, str):
            return RouteDecision(
                tier=self.default,
                reason=f"no rule matched -> default tier {self.default!r}",
                signals=("default",),
            )
        decision = self.default(request)
        return dataclasses.replace(decision, reason=f"no rule matched; {decision.reason}")

    def validate_tiers(self, tiers: Sequence[str]) -> None:
        """Check every tier named by a rule or the default exists.

        Raises:
            ValueError: Listing the unknown names and the valid ones.
        """
        named = [r.tier for r in self.rules]
        if isinstance(self.default, str):
            named.append(self.default)
        unknown = [t for t in dict.fromkeys(named) if t not in tiers]
        if unknown:
            msg = (
                f"RuleRouter refers to unknown tier(s) {', '.join(map(repr, unknown))}; "
                f"valid tier names: {', '.join(map(repr, tiers))}"
            )
            raise ValueError(msg)
        validate = getattr(self.default, "validate_tiers", None)
        if callable(validate):
            validate(tiers)
