"""Model prices: what a call may cost before it is sent, and what it did cost afterwards.

``ModelPrice`` holds USD per million tokens (with long-context tiers, service tiers, off-peak
windows, 1-hour cache writes and per-request fees where a model has them) and turns
``usage_metadata`` into dollars. ``PriceBook`` maps model names to prices and context windows:
a built-in table of list prices (``PriceBook.default()``, see ``PRICES_AS_OF``), explicit
overrides (``with_prices``) and LiteLLM's community map (``PriceBook.from_litellm``). Lookups
fail closed: an unknown model is ``None`` from ``lookup`` and a ``PricingError`` from
``price_for``, never a silent $0.

Modules: ``names`` (the one model-name normaliser, shared with ``tokens``), ``usage`` (billed
tokens from usage and raw provider usage), ``schedule`` (time windows), ``price``
(``ModelPrice``), ``caching`` (which cache writes a call may cause), ``litellm`` (LiteLLM
entries), ``book`` (``PriceBook``), ``table`` (the built-in data). Imports nothing of the
package but ``errors``.
"""

from __future__ import annotations

from langchain_tiered.pricing.book import ModelInfo, PriceBook, PriceImportWarning
from langchain_tiered.pricing.caching import cache_writes_for
from langchain_tiered.pricing.litellm import ImportSummary
from langchain_tiered.pricing.names import normalize_model_name
from langchain_tiered.pricing.price import CacheWrites, ModelPrice
from langchain_tiered.pricing.schedule import TimeWindow
from langchain_tiered.pricing.table import PRICES_AS_OF, PRICES_SOURCE
from langchain_tiered.pricing.usage import BilledUsage, billed_usage, usage_tokens

__all__ = [
    "PRICES_AS_OF",
    "PRICES_SOURCE",
    "BilledUsage",
    "CacheWrites",
    "ImportSummary",
    "ModelInfo",
    "ModelPrice",
    "PriceBook",
    "PriceImportWarning",
    "TimeWindow",
    "billed_usage",
    "cache_writes_for",
    "normalize_model_name",
    "usage_tokens",
]
