"""What a call was billed for: one reading of LangChain usage plus the provider's raw usage.

LangChain's ``usage_metadata`` is the primary source. Where it lacks a detail the provider did
send, the raw usage that integrations keep in ``response_metadata`` fills it in:

* DeepSeek (and OpenAI-compatible hosts copying it, e.g. SiliconFlow): ``token_usage``
  ``prompt_cache_hit_tokens`` / ``prompt_cache_miss_tokens``;
* Moonshot/Kimi: a top-level ``cached_tokens``; OpenAI-style ``prompt_tokens_details``
  ``cached_tokens`` / ``cache_write_tokens`` / ``cache_creation_input_tokens`` (DashScope,
  OpenRouter, xAI, Fireworks) for integrations that do not map them;
* Anthropic: ``usage.cache_creation`` with its 5-minute / 1-hour split (langchain-anthropic
  files it under ``ephemeral_5m_input_tokens`` / ``ephemeral_1h_input_tokens`` and sets
  ``cache_creation`` to 0; older versions keep only the total);
* the service tier from ``response_metadata["service_tier"]`` or langchain-openai's
  tier-prefixed details (``flex_cache_read``, ``priority``).

A raw count is only used where LangChain's count is missing or zero, so nothing is counted twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["BilledUsage", "billed_usage", "tokens_of", "usage_tokens"]

# Service tiers that answer at the standard price.
_STANDARD_TIERS = frozenset({"", "default", "auto", "standard", "on_demand"})
# Tier names langchain-openai uses as detail-key prefixes ("flex_cache_read").
_DETAIL_TIERS = ("flex", "priority")


@dataclass(frozen=True)
class BilledUsage:
    """Token counts of one call as the provider billed them.

    Attributes:
        input_tokens: All prompt tokens, cache reads and writes included.
        output_tokens: All output tokens, reasoning included.
        cache_read: Prompt tokens read from the cache.
        cache_write: Prompt tokens written at the standard (5-minute) write price.
        cache_write_1h: Prompt tokens written with extended (1-hour) retention.
        reasoning: Output tokens spent on reasoning (part of ``output_tokens``).
        service_tier: ``"flex"``, ``"priority"``, ... or ``None`` for the standard tier.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read: int = 0
    cache_write: int = 0
    cache_write_1h: int = 0
    reasoning: int = 0
    service_tier: str | None = None


def _count(value: object) -> int:
    # Providers occasionally send None or omit a field; a missing count is zero tokens, and a
    # negative one is a provider bug that must not produce a negative cost.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0
    return max(0, int(value))


def _detail_sum(details: Mapping[str, Any], kind: str) -> int:
    # langchain-openai prefixes details with the service tier ("flex_cache_read").
    suffix = "_" + kind
    return sum(_count(v) for k, v in details.items() if k == kind or k.endswith(suffix))


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _raw_usages(metadata: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Raw usage dicts integrations keep: ``token_usage`` (OpenAI-compatible), ``usage``."""
    return [
        m for m in (_mapping(metadata.get("token_usage")), _mapping(metadata.get("usage"))) if m
    ]


def _raw_cache_read(raw: Mapping[str, Any]) -> int:
    details = _mapping(raw.get("prompt_tokens_details"))
    return max(
        _count(raw.get("prompt_cache_hit_tokens")),  # DeepSeek
        _count(raw.get("cached_tokens")),  # Moonshot / Kimi
        _count(details.get("cached_tokens")),  # OpenAI-style
        _count(raw.get("cache_read_input_tokens")),  # Anthropic-style proxies
    )


def _raw_cache_write(raw: Mapping[str, Any]) -> int:
    details = _mapping(raw.get("prompt_tokens_details"))
    return max(
        _count(details.get("cache_write_tokens")),  # OpenRouter
        _count(details.get("cache_creation_input_tokens")),  # DashScope
        _count(raw.get("cache_creation_input_tokens")),  # Anthropic-style proxies
    )


def _write_split(details: Mapping[str, Any], raw: list[Mapping[str, Any]]) -> tuple[int, int]:
    """Cache writes as (standard/5-minute, 1-hour), never counting a token twice."""
    total = _detail_sum(details, "cache_creation")
    five = _count(details.get("ephemeral_5m_input_tokens"))
    hour = _count(details.get("ephemeral_1h_input_tokens"))
    if not five and not hour:
        for usage in raw:  # langchain-anthropic before the split, or a raw-only integration
            split = _mapping(usage.get("cache_creation"))
            five = five or _count(split.get("ephemeral_5m_input_tokens"))
            hour = hour or _count(split.get("ephemeral_1h_input_tokens"))
        total = total or max((_raw_cache_write(u) for u in raw), default=0)
    # The generic total, where present, includes the split; what it adds beyond the split has
    # no TTL and is billed at the standard write price.
    return five + max(0, total - five - hour), hour


def _service_tier(
    details: Mapping[str, Any], out_details: Mapping[str, Any], metadata: Mapping[str, Any]
) -> str | None:
    tier = metadata.get("service_tier")
    if isinstance(tier, str):
        tier = tier.strip().lower()
        return None if tier in _STANDARD_TIERS else tier
    for name in _DETAIL_TIERS:
        prefix = name + "_"
        if any(k == name or k.startswith(prefix) for k in (*details, *out_details)):
            return name
    return None


def billed_usage(
    usage: Mapping[str, Any] | None, response_metadata: Mapping[str, Any] | None = None
) -> BilledUsage:
    """Read a call's billed tokens from ``usage_metadata`` and, where it is silent, raw usage.

    Args:
        usage: The message's ``usage_metadata`` (or any mapping with the same keys).
        response_metadata: The message's ``response_metadata``, whose raw provider usage
            supplies cache hits, write TTLs and the service tier LangChain did not map.

    Returns:
        The billed counts.
    """
    usage = usage or {}
    metadata = response_metadata or {}
    if not (
        usage.get("input_token_details")
        or usage.get("output_token_details")
        or metadata.get("token_usage")
        or metadata.get("usage")
        or metadata.get("service_tier")
    ):
        # Nothing but the two counts (the common case of a plain answer): no detail to read.
        return BilledUsage(
            input_tokens=_count(usage.get("input_tokens")),
            output_tokens=_count(usage.get("output_tokens")),
        )
    details = _mapping(usage.get("input_token_details"))
    out_details = _mapping(usage.get("output_token_details"))
    raw = _raw_usages(metadata)
    cache_read = _detail_sum(details, "cache_read") or max(
        (_raw_cache_read(u) for u in raw), default=0
    )
    write, write_1h = _write_split(details, raw)
    return BilledUsage(
        input_tokens=_count(usage.get("input_tokens")),
        output_tokens=_count(usage.get("output_tokens")),
        cache_read=cache_read,
        cache_write=write,
        cache_write_1h=write_1h,
        reasoning=_detail_sum(out_details, "reasoning"),
        service_tier=_service_tier(details, out_details, metadata),
    )


def usage_tokens(
    usage: Mapping[str, Any] | None, response_metadata: Mapping[str, Any] | None = None
) -> dict[str, int]:
    """Billed token counts of a ``UsageMetadata``: input, output, cache reads, reasoning.

    The one reading of usage shared by settlement, spend records and the cost callback.

    Args:
        usage: The message's ``usage_metadata``.
        response_metadata: The message's ``response_metadata`` (raw provider usage), optional.

    Returns:
        ``input_tokens``, ``output_tokens``, ``cached_tokens`` and ``reasoning_tokens``.
    """
    return tokens_of(billed_usage(usage, response_metadata))


def tokens_of(billed: BilledUsage) -> dict[str, int]:
    """``usage_tokens`` of usage already read by ``billed_usage``."""
    return {
        "input_tokens": billed.input_tokens,
        "output_tokens": billed.output_tokens,
        "cached_tokens": billed.cache_read,
        "reasoning_tokens": billed.reasoning,
    }
