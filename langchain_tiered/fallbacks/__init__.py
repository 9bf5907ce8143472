"""Failure handling: classify errors, pace retries, cool failing tiers down, order fallbacks.

Everything here is pure or owns only its own small, locked state, so the chat model
can wire it in without this module knowing about tiers' models:

* :func:`classify_error` maps any exception to an :class:`ErrorInfo` whose
  :class:`ErrorKind` says whether another attempt (same tier or another) can help.
  langchain-core's taxonomy (``ModelError.is_retryable``) decides first; raw SDK
  errors fall back to status codes and transport error types, duck-typed so the
  Anthropic SDK and both ``httpx`` and ``httpx2`` work without imports.
* :class:`RetryPolicy` computes full-jitter exponential backoff honouring Retry-After.
* :class:`CircuitBreaker` keeps a failing tier out of rotation for a cooldown, and backs a
  rate-limited tier off briefly instead (:func:`failure_effect` holds the rules).
* :func:`response_failure` finds failures reported as answers (refusals, ``finish_reason``
  ``"error"``); :mod:`~langchain_tiered.fallbacks.shapes` lists the provider codes trusted.
* :func:`fallback_order` lists the tiers to try after the routed one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from langchain_tiered.fallbacks.breaker import (
    CircuitBreaker,
    Cooldowns,
    FailureEffect,
    failure_effect,
)
from langchain_tiered.fallbacks.classify import (
    ErrorCause,
    ErrorInfo,
    ErrorKind,
    StreamError,
    classify_error,
    parse_retry_after,
    response_failure,
)
from langchain_tiered.fallbacks.retry import RetryPolicy

FallbackOn = frozenset[ErrorKind]
DEFAULT_FALLBACK_ON: FallbackOn = frozenset({ErrorKind.RETRYABLE, ErrorKind.CONTEXT_OVERFLOW})
"""Fall back on retryable errors and context overflows; refusals only when configured."""

__all__ = [
    "DEFAULT_FALLBACK_ON",
    "CircuitBreaker",
    "Cooldowns",
    "ErrorCause",
    "ErrorInfo",
    "ErrorKind",
    "FailureEffect",
    "FallbackOn",
    "RetryPolicy",
    "StreamError",
    "classify_error",
    "failure_effect",
    "fallback_order",
    "parse_retry_after",
    "response_failure",
]


def fallback_order(
    tier_names: Sequence[str],
    routed: str,
    *,
    allow_upgrade: bool = True,
    overrides: Mapping[str, Sequence[str]] | None = None,
) -> list[str]:
    """The tiers to try for one call, in order, starting with the routed one.

    By default the routed tier is followed by the cheaper tiers (later in ``tier_names``,
    nearest first), then, if ``allow_upgrade``, the more capable ones (earlier, nearest
    first): a cheaper model is usually the cheaper way around an outage.

    Args:
        tier_names: All tier names, most capable first.
        routed: The tier the router chose.
        allow_upgrade: Whether to fall back to more expensive tiers at all.
        overrides: ``overrides[routed]`` replaces the default order after the routed tier.
            It is explicit configuration, so ``allow_upgrade`` does not filter it.

    Returns:
        Distinct tier names, ``routed`` first.

    Raises:
        ValueError: If ``routed`` or an override names an unknown tier.
    """
    known = list(tier_names)
    _check_known(known, [routed], "routed tier")
    index = known.index(routed)
    if overrides is not None and routed in overrides:
        rest: Iterable[str] = overrides[routed]
        _check_known(known, rest, f"overrides[{routed!r}]")
    else:
        rest = known[index + 1 :] + (known[:index][::-1] if allow_upgrade else [])
    order = [routed]
    for name in rest:
        if name not in order:
            order.append(name)
    return order


def _check_known(known: Sequence[str], names: Iterable[str], where: str) -> None:
    unknown = [n for n in names if n not in known]
    if unknown:
        msg = f"{where} names unknown tier(s) {unknown}; known tiers: {list(known)}"
        raise ValueError(msg)
