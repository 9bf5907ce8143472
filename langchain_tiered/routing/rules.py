"""Explicit routing rules: :class:`Rule` conditions, first match wins in :class:`RuleRouter`."""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from langchain_tiered.routing.base import RouteDecision, Router, RouteRequest

__all__ = ["Rule", "RuleRouter"]


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
