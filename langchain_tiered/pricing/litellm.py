"""Converting LiteLLM's ``model_prices_and_context_window.json`` entries to ``ModelInfo``.

A LiteLLM field name reads ``<rate>[_above_1hr|_above_12hr][_above_<N>k_tokens][_<tier>]``:
``cache_creation_input_token_cost_above_1hr`` is Anthropic's 1-hour write,
``input_cost_per_token_above_272k_tokens_priority`` the priority tier's long-context input.
Everything a ``ModelPrice`` can express is imported; what it cannot (audio/image/video rates,
web-search and other per-use fees, batch prices) is named per model in ``ImportSummary``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from langchain_tiered.pricing.price import ModelPrice
from langchain_tiered.pricing.schedule import TimeWindow

__all__ = ["ImportSummary", "litellm_entry"]

_MTOK = 1_000_000
# LiteLLM modes that are chat-style text generation priced per token. "responses" is kept
# because models such as gpt-5-pro exist only there; dropping them would let "gpt-5-pro"
# miss and a careless fallback price it like gpt-5.
_MODES = frozenset({"chat", "responses"})
# LiteLLM rate name -> ModelPrice field.
_RATE_FIELDS = {
    "input_cost_per_token": "input_per_mtok",
    "output_cost_per_token": "output_per_mtok",
    "cache_read_input_token_cost": "cached_input_per_mtok",
    "cache_creation_input_token_cost": "cache_write_per_mtok",
    "cache_creation_input_token_cost_above_1hr": "cache_write_1h_per_mtok",
    # OpenAI's extended (12-hour) retention write is the same kind of premium write.
    "cache_creation_input_token_cost_above_12hr": "cache_write_1h_per_mtok",
    "output_cost_per_reasoning_token": "reasoning_per_mtok",
}
_FIELD = re.compile(
    r"^(?P<rate>"
    + "|".join(sorted(map(re.escape, _RATE_FIELDS), key=len, reverse=True))
    + r")(?:_above_(?P<k>\d+)k_tokens)?(?:_(?P<tier>[a-z]+))?$"
)
# Priced elsewhere or deliberately out of scope, so never reported as missing.
_HANDLED = frozenset(
    {
        "input_cost_per_request",  # per_request_usd
        "input_cost_per_token_cache_hit",  # DeepSeek's alias of cache_read_input_token_cost
        "tiered_pricing",
        "off_peak_pricing",
        "regional_processing_uplift_multiplier_eu",  # applied by from_litellm(region=...)
        "regional_processing_uplift_multiplier_us",
        "fedramp_uplift_multiplier",
        "provider_specific_entry",
    }
)
_BATCH_TIER = "batches"  # the Batch API is not a chat-model call


@dataclass
class ImportSummary:
    """What ``PriceBook.from_litellm`` imported and what it could not express.

    Attributes:
        imported: Number of imported entries.
        skipped: Number of entries that are not chat prices (other modes, placeholders).
        incomplete: Imported key -> LiteLLM fields with a price the book cannot express
            (e.g. ``input_cost_per_audio_token``, ``search_context_cost_per_query``).
    """

    imported: int = 0
    skipped: int = 0
    incomplete: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def by_field(self) -> dict[str, list[str]]:
        """Field -> the imported keys whose price lacks it, most common field first."""
        grouped: dict[str, list[str]] = {}
        for key, fields in self.incomplete.items():
            for name in fields:
                grouped.setdefault(name, []).append(key)
        return dict(sorted(grouped.items(), key=lambda item: (-len(item[1]), item[0])))

    def describe(self, examples: int = 5) -> str:
        """A short text: counts, then each missing field with its number of models and examples."""
        lines = [
            f"{self.imported} LiteLLM entries imported, {self.skipped} skipped, "
            f"{len(self.incomplete)} imported with prices this book cannot express:"
        ]
        for name, keys in self.by_field().items():
            shown = ", ".join(keys[:examples]) + (", ..." if len(keys) > examples else "")
            lines.append(f"  {name}: {len(keys)} models ({shown})")
        return "\n".join(lines)


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        return None
    return float(value) if math.isfinite(value) else None


def _per_mtok(per_token: float) -> float:
    # 12 significant digits strip the binary noise of per-token * 1e6 (1.1e-06 -> 1.1).
    return float(f"{per_token * _MTOK:.12g}")


def _positive_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


Rates = dict[str, float]


def _group_rates(spec: Mapping[str, Any]) -> dict[tuple[str | None, int], Rates]:
    """(service tier, threshold) -> ModelPrice field -> USD/Mtok, from the flat field names."""
    groups: dict[tuple[str | None, int], Rates] = {}
    for name, value in spec.items():
        match = _FIELD.fullmatch(name)
        number = _number(value)
        if match is None or number is None or match["tier"] == _BATCH_TIER:
            continue
        threshold = int(match["k"]) * 1000 if match["k"] else 0
        target = _RATE_FIELDS[match["rate"]]
        rates = groups.setdefault((match["tier"], threshold), {})
        if target == "cache_write_1h_per_mtok" and target in rates:
            continue  # a 1-hour price wins over the 12-hour one
        rates[target] = _per_mtok(number)
    return groups


def _flat(rates: Rates, fallback: Rates) -> ModelPrice | None:
    merged = {**fallback, **rates}
    # A cache price of 0 is read as "not given" (the map's placeholder), billed as input.
    merged = {
        k: v for k, v in merged.items() if v > 0 or k in ("input_per_mtok", "output_per_mtok")
    }
    if "input_per_mtok" not in merged or "output_per_mtok" not in merged:
        return None
    return ModelPrice(**merged)


def _with_tiers(groups: dict[tuple[str | None, int], Rates], tier: str | None) -> Rates | None:
    base = groups.get((tier, 0))
    if tier is not None and base is None:
        return None
    return {**groups.get((None, 0), {}), **(base or {})}


def _priced(groups: dict[tuple[str | None, int], Rates], tier: str | None) -> ModelPrice | None:
    """The price on one service tier (``None``: standard), with its long-context tiers."""
    rates = _with_tiers(groups, tier)
    if rates is None:
        return None
    base = _flat(rates, {})
    if base is None:
        return None
    long_context = {}
    for (name, threshold), above in sorted(groups.items(), key=lambda i: i[0][1]):
        if name == tier and threshold:
            # Rates the tier above leaves out (often the cache-write price) stay the base's.
            price = _flat(above, rates)
            if price is not None:
                long_context[threshold] = price
    return base.model_copy(update={"long_context": long_context}) if long_context else base


def _tiered_pricing(spec: Mapping[str, Any]) -> dict[tuple[str | None, int], Rates]:
    """LiteLLM's ``tiered_pricing`` list (DashScope) as (None, range start) groups."""
    groups: dict[tuple[str | None, int], Rates] = {}
    for entry in spec.get("tiered_pricing") or ():
        if not isinstance(entry, Mapping):
            continue
        span = entry.get("range")
        start = _number(span[0]) if isinstance(span, list) and span else None
        if start is None:
            continue
        rates = _group_rates(entry).get((None, 0), {})
        if rates:
            groups[(None, int(start))] = rates
    return groups


def _off_peak(spec: Mapping[str, Any], base: Rates) -> dict[str, Any]:
    data = spec.get("off_peak_pricing")
    if not isinstance(data, Mapping):
        return {}
    zone = str(data.get("weekday_timezone") or "UTC")
    windows = []
    try:
        for window in data.get("windows") or ():
            hours = window.get("hours_utc")
            hours = (hours,) if isinstance(hours, str) else tuple(hours or ())
            weekdays = tuple(window.get("weekdays") or ())
            windows.append(TimeWindow(weekdays=weekdays, hours_utc=hours, weekday_timezone=zone))
    except (ValueError, TypeError, AttributeError):
        return {}  # malformed or an unknown zone: reported by _unexpressed, priced at peak
    price = _flat(_group_rates(data).get((None, 0), {}), base)
    if price is None or not windows:
        return {}
    return {"off_peak": price, "off_peak_windows": tuple(windows)}


def _unexpressed(spec: Mapping[str, Any]) -> tuple[str, ...]:
    missing = []
    for name, value in spec.items():
        if name in _HANDLED or not ("cost" in name or "price" in name):
            continue
        if _FIELD.fullmatch(name) is not None or name.endswith("_batches"):
            continue  # imported, or a Batch API price (not a chat-model call)
        if _number(value) == 0 or (isinstance(value, Mapping) and not any(value.values())):
            continue
        missing.append(name)
    return tuple(sorted(missing))


def litellm_entry(
    key: str, spec: object, region: str | None = None
) -> tuple[ModelPrice, tuple[str, ...], dict[str, int | None]] | None:
    """Convert one LiteLLM entry, or return ``None`` if it is not an importable chat price.

    Returns:
        The price, the fields it could not express, and the entry's ``context_window`` and
        ``max_output_tokens``.
    """
    if key == "sample_spec" or not isinstance(spec, Mapping) or spec.get("mode") not in _MODES:
        return None
    input_cost = _number(spec.get("input_cost_per_token"))
    output_cost = _number(spec.get("output_cost_per_token"))
    per_request = _number(spec.get("input_cost_per_request")) or 0.0
    if input_cost is None or output_cost is None:
        return None
    if input_cost == output_cost == 0 and not per_request and "tiered_pricing" not in spec:
        return None  # $0 in and out: a placeholder more often than a free model
    groups = _group_rates(spec)
    groups.update({k: v for k, v in _tiered_pricing(spec).items() if k not in groups})
    if "cached_input_per_mtok" not in groups[(None, 0)]:
        hit = _number(spec.get("input_cost_per_token_cache_hit"))
        if hit:
            groups[(None, 0)]["cached_input_per_mtok"] = _per_mtok(hit)
    price = _priced(groups, None)
    if price is None:
        return None
    tiers = {t: p for t in {t for t, _ in groups if t} if (p := _priced(groups, t)) is not None}
    extra: dict[str, Any] = {"per_request_usd": per_request, **_off_peak(spec, groups[(None, 0)])}
    if tiers:
        extra["service_tiers"] = tiers
    price = ModelPrice(**{**price.model_dump(exclude_defaults=True), **extra})
    uplift = _uplift(spec, region)
    if uplift is not None:
        price = price.scaled(uplift)
    limits = {
        "context_window": _positive_int(spec.get("max_input_tokens")),
        "max_output_tokens": _positive_int(spec.get("max_output_tokens")),
    }
    missing = _unexpressed(spec)
    if "off_peak_pricing" in spec and price.off_peak is None:
        missing = (*missing, "off_peak_pricing")
    return price, missing, limits


def _uplift(spec: Mapping[str, Any], region: str | None) -> float | None:
    if region is None:
        return None
    region = region.strip().lower()
    candidates: dict[str, Any] = {
        "eu": spec.get("regional_processing_uplift_multiplier_eu"),
        "us": spec.get("regional_processing_uplift_multiplier_us"),
        "fedramp": spec.get("fedramp_uplift_multiplier"),
    }
    specific = spec.get("provider_specific_entry")
    if isinstance(specific, Mapping):
        candidates.update({str(k).lower(): v for k, v in specific.items()})
    factor = _number(candidates.get(region))
    return factor if factor else None
