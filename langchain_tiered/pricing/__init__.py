"""Model prices: what a call may cost before it is sent, and what it did cost afterwards.

``ModelPrice`` holds USD per million tokens and turns ``usage_metadata`` into dollars.
``PriceBook`` maps model names to prices and context windows: a built-in table of list prices
(``PriceBook.default()``, see ``PRICES_AS_OF``), explicit overrides (``with_prices``) and
LiteLLM's community map (``PriceBook.from_litellm``). Lookups fail closed: an unknown model is
``None`` from ``lookup`` and a ``PricingError`` from ``price_for``, never a silent $0.
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_core.messages.ai import UsageMetadata
from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

from langchain_tiered.errors import PricingError
from langchain_tiered.pricing.table import BUILTIN_PRICES, PRICES_AS_OF, PRICES_SOURCE

__all__ = [
    "PRICES_AS_OF",
    "PRICES_SOURCE",
    "ModelInfo",
    "ModelPrice",
    "PriceBook",
    "normalize_model_name",
    "usage_tokens",
]

_MTOK = 1_000_000

# Providers written as "provider:model" (init_chat_model style). Only these are stripped: a
# colon also separates Bedrock versions ("-v1:0") and fine-tune ids ("ft:gpt-4o:org::id"),
# and a fine-tune must not inherit the cheaper base-model price.
_COLON_PROVIDERS = frozenset(
    {
        "anthropic", "azure", "azure_ai", "azure_openai", "bedrock", "bedrock_converse",
        "deepseek", "gemini", "google", "google_anthropic_vertex", "google_genai",
        "google_vertexai", "litellm", "openai", "openrouter", "vertex_ai", "vertexai",
    }
)  # fmt: skip
# Bedrock ids: optional cross-region prefix, then the vendor ("us.anthropic.claude-...").
_BEDROCK_ANTHROPIC = re.compile(r"^(?:(?:us|eu|apac|au|jp|global|us-gov)\.)?anthropic\.")
# What may follow a known name and still mean "the same model": dated snapshots
# (-2024-08-06, -20241022, -0613, -preview-09-2025), -latest/-preview/-exp, Bedrock versions
# (-v1:0) and Vertex "@20240620"/"@default". Anything else (-mini, -pro, -audio) is a different
# model with a different price, so it does not match.
_SNAPSHOT_SUFFIX = re.compile(
    r"(?:-(?:\d{4}-\d{2}-\d{2}|\d{2}-\d{4}|\d{4,8}|latest|preview|exp|v\d+(?::\d+)?))*"
    r"(?:@[\w.:-]+)?"
)
_BOUNDARY = re.compile(r"[-@]")
_MEMO_LIMIT = 4096
# LiteLLM modes that are chat-style text generation priced per token. "responses" is kept
# because models such as gpt-5-pro exist only there; dropping them would let "gpt-5-pro"
# miss and a careless fallback price it like gpt-5.
_LITELLM_MODES = frozenset({"chat", "responses"})
_FIRST_PARTY = frozenset({"openai", "anthropic", "deepseek", "gemini", "google", "mistral", "xai"})


def normalize_model_name(name: str) -> str:
    """Reduce a model identifier to the bare, lowercase model name used as a price key.

    Strips path-style provider prefixes (``openai/``, ``azure/``, ``bedrock/us-east-1/``,
    ``models/``), ``provider:`` prefixes of known providers (``openai:gpt-4.1``) and Bedrock's
    ``[region.]anthropic.`` vendor prefix. Snapshot suffixes are kept; ``PriceBook.lookup``
    resolves them.

    Args:
        name: A model name as given to a chat model or reported by a provider.

    Returns:
        The normalized name, e.g. ``"gpt-4.1"`` for ``"OpenAI:GPT-4.1"``.
    """
    text = name.strip().lower().rsplit("/", 1)[-1]
    provider, sep, rest = text.partition(":")
    if sep and rest and provider in _COLON_PROVIDERS:
        text = rest
    return _BEDROCK_ANTHROPIC.sub("", text, count=1)


class ModelPrice(BaseModel):
    """List price of one model in USD per million tokens (frozen; validated on creation)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    input_per_mtok: float
    """USD per million uncached input (prompt) tokens."""
    output_per_mtok: float
    """USD per million output tokens, reasoning tokens included."""
    cached_input_per_mtok: float | None = None
    """USD per million input tokens read from the prompt cache; ``None`` bills them as input."""
    cache_write_per_mtok: float | None = None
    """USD per million input tokens written to the prompt cache; ``None`` bills them as input."""

    @field_validator("*")
    @classmethod
    def _finite_non_negative(cls, value: float | None, info: ValidationInfo) -> float | None:
        # A NaN or infinite price would poison every budget comparison downstream (NaN compares
        # False with everything), so it is rejected here rather than detected later.
        if value is not None and (not math.isfinite(value) or value < 0):
            msg = (
                f"{info.field_name} must be a finite, non-negative USD price per million "
                f"tokens; got {value!r}"
            )
            raise ValueError(msg)
        return value

    def cost(self, usage: UsageMetadata | Mapping[str, Any]) -> float:
        """Return the USD cost of one call from its LangChain ``usage_metadata``.

        Cache reads and writes are part of ``input_tokens`` in LangChain's convention, so only
        the remainder is billed at the input price (never below zero). Reasoning tokens are
        part of ``output_tokens`` and are not added again. Service-tier-prefixed details
        (``flex_cache_read``) count as cache reads; the tier's own discount is not modelled.

        Args:
            usage: A ``UsageMetadata`` dict (or any mapping with the same keys).

        Returns:
            The cost in USD.
        """
        input_tokens = _count(usage.get("input_tokens"))
        output_tokens = _count(usage.get("output_tokens"))
        details = usage.get("input_token_details") or {}
        cache_read = _detail_sum(details, "cache_read")
        cache_write = _detail_sum(details, "cache_creation")
        uncached = max(0, input_tokens - cache_read - cache_write)
        cached_price = self.cached_input_per_mtok
        cached_price = self.input_per_mtok if cached_price is None else cached_price
        write_price = self.cache_write_per_mtok
        write_price = self.input_per_mtok if write_price is None else write_price
        return (
            (uncached * self.input_per_mtok) / _MTOK
            + (cache_read * cached_price) / _MTOK
            + (cache_write * write_price) / _MTOK
            + (output_tokens * self.output_per_mtok) / _MTOK
        )

    def worst_case(self, input_tokens: int, max_output_tokens: int) -> float:
        """Return the most a call can cost in USD: all input uncached, all output used.

        Raises:
            ValueError: If a token count is negative.
        """
        if input_tokens < 0 or max_output_tokens < 0:
            msg = (
                "token counts must be non-negative; got "
                f"input_tokens={input_tokens}, max_output_tokens={max_output_tokens}"
            )
            raise ValueError(msg)
        return (input_tokens * self.input_per_mtok) / _MTOK + (
            max_output_tokens * self.output_per_mtok
        ) / _MTOK


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


def usage_tokens(usage: Mapping[str, Any] | None) -> dict[str, int]:
    """Billed token counts of a ``UsageMetadata``: input, output, cache reads, reasoning.

    The one reading of usage shared by settlement, spend records and the cost callback.
    """
    usage = usage or {}
    return {
        "input_tokens": _count(usage.get("input_tokens")),
        "output_tokens": _count(usage.get("output_tokens")),
        "cached_tokens": _detail_sum(usage.get("input_token_details") or {}, "cache_read"),
        "reasoning_tokens": _detail_sum(usage.get("output_token_details") or {}, "reasoning"),
    }


@dataclass(frozen=True)
class ModelInfo:
    """What the price book knows about one model.

    Attributes:
        price: The model's list price.
        context_window: Maximum input tokens, if known.
        max_output_tokens: Maximum output tokens per call, if known.
    """

    price: ModelPrice
    context_window: int | None = None
    max_output_tokens: int | None = None

    def __post_init__(self) -> None:
        for field in ("context_window", "max_output_tokens"):
            value = getattr(self, field)
            if value is not None and value <= 0:
                msg = f"{field} must be a positive token count or None; got {value!r}"
                raise ValueError(msg)


Entries = Mapping[str, ModelInfo | ModelPrice]


class PriceBook:
    """An immutable mapping from model names to prices and context windows.

    Lookup order for a name: the exact key (lowercased, provider prefix kept, so
    ``"azure/gpt-4o"`` can carry its own price), then the normalized name, then the longest
    known name that the rest of the string only qualifies as a snapshot
    (``gpt-4o-mini-2024-07-18`` -> ``gpt-4o-mini``; ``gpt-4.1-nano`` never -> ``gpt-4.1``).
    Results, misses included, are memoized per book.

    Args:
        entries: Model name -> ``ModelInfo`` or ``ModelPrice``.
    """

    def __init__(self, entries: Entries | None = None) -> None:
        exact = {key.strip().lower(): _as_info(value) for key, value in (entries or {}).items()}
        self._exact: dict[str, ModelInfo] = exact
        self._names: dict[str, ModelInfo] = _index_by_name(exact, {})
        self._memo: dict[str, ModelInfo | None] = {}

    @classmethod
    def _from_maps(cls, exact: dict[str, ModelInfo], names: dict[str, ModelInfo]) -> PriceBook:
        book = cls.__new__(cls)
        book._exact, book._names, book._memo = exact, names, {}
        return book

    @classmethod
    def default(cls) -> PriceBook:
        """Return the built-in book of list prices (one shared instance, see ``PRICES_AS_OF``)."""
        return _default_book()

    @classmethod
    def from_litellm(cls, path: str | os.PathLike[str]) -> PriceBook:
        """Import LiteLLM's ``model_prices_and_context_window.json``.

        Imports entries whose ``mode`` is ``"chat"`` or ``"responses"`` and whose input and
        output costs are finite non-negative numbers. Skipped: ``sample_spec``, entries without
        a mode (moving aliases such as ``claude-opus-latest``), other modes, and entries priced
        at exactly $0 in and out (placeholders more often than free models; price those
        explicitly). A cache price of 0 is read as "not given" and billed as input. When
        several keys normalize to one name, a bare key wins, then a first-party provider key,
        then the most expensive, so estimates err high.

        Args:
            path: Path to the JSON file.

        Returns:
            A new book.

        Raises:
            PricingError: If the file is not a JSON object.
        """
        data = json.loads(Path(path).read_bytes())
        if not isinstance(data, dict):
            msg = f"{os.fspath(path)!r} is not a LiteLLM price map (expected a JSON object)"
            raise PricingError(msg)
        exact: dict[str, ModelInfo] = {}
        providers: dict[str, str] = {}
        for key, spec in data.items():
            info = _litellm_info(key, spec)
            if info is not None:
                exact[key.strip().lower()] = info
                providers[key.strip().lower()] = str(spec.get("litellm_provider", ""))
        return cls._from_maps(exact, _index_by_name(exact, providers))

    def lookup(self, model: str | None) -> ModelInfo | None:
        """Find a model's price and limits, tolerating provider prefixes and snapshot suffixes.

        Args:
            model: A model name, e.g. ``"openai:gpt-4.1"`` or ``"claude-sonnet-4-5-20250929"``.

        Returns:
            The model's info, or ``None`` if the book does not know it.
        """
        if not model:
            return None
        try:
            return self._memo[model]
        except KeyError:
            pass
        found = self._resolve(model)
        if len(self._memo) >= _MEMO_LIMIT:
            # Model names are few in practice; a flood of distinct names just restarts the memo.
            self._memo.clear()
        self._memo[model] = found
        return found

    def _resolve(self, model: str) -> ModelInfo | None:
        raw = model.strip().lower()
        if raw in self._exact:
            return self._exact[raw]
        name = normalize_model_name(raw)
        if name in self._names:
            return self._names[name]
        # Boundaries from the right, so the longest known prefix is tried first.
        for match in reversed(list(_BOUNDARY.finditer(name))):
            prefix, rest = name[: match.start()], name[match.start() :]
            if prefix in self._names and _SNAPSHOT_SUFFIX.fullmatch(rest):
                return self._names[prefix]
        return None

    def price_for(self, model: str | None) -> ModelPrice:
        """Return a model's price; an unknown model is refused, never treated as free.

        Raises:
            PricingError: If the book has no price for ``model``; the message says how to fix it.
        """
        info = self.lookup(model)
        if info is not None:
            return info.price
        what = f"model {model!r}" if model else "a model without a name"
        msg = (
            f"No price known for {what}; refusing to treat it as free. Fix: pass "
            "Tier(price=ModelPrice(input_per_mtok=..., output_per_mtok=...)), or use "
            "PriceBook.from_litellm(path) / PriceBook.default().with_prices({"
            f"{(model or 'model-name')!r}: ModelPrice(...)}})."
        )
        raise PricingError(msg, model_name=model)

    def with_prices(self, entries: Entries) -> PriceBook:
        """Return a new book with ``entries`` added; they win over existing prices."""
        return self.merged(PriceBook(entries))

    def merged(self, other: PriceBook) -> PriceBook:
        """Return a new book holding both books' entries; ``other`` wins on conflicts."""
        # Drop this book's keys for every name `other` prices, so that a lookup by an exact key
        # ("gpt-4o", "azure/gpt-4o") cannot bypass the override through the exact-key step.
        kept = {k: v for k, v in self._exact.items() if normalize_model_name(k) not in other._names}
        return PriceBook._from_maps({**kept, **other._exact}, {**self._names, **other._names})

    def __contains__(self, model: object) -> bool:
        return isinstance(model, str) and self.lookup(model) is not None

    def __len__(self) -> int:
        return len(self._exact)

    def __iter__(self) -> Iterator[str]:
        return iter(self._exact)

    def __repr__(self) -> str:
        return f"PriceBook({len(self)} models)"


def _as_info(value: ModelInfo | ModelPrice) -> ModelInfo:
    if isinstance(value, ModelInfo):
        return value
    if isinstance(value, ModelPrice):
        return ModelInfo(price=value)
    msg = f"price book entries must be ModelInfo or ModelPrice, got {type(value).__name__}"
    raise TypeError(msg)


def _index_by_name(
    exact: Mapping[str, ModelInfo], providers: Mapping[str, str]
) -> dict[str, ModelInfo]:
    """Index entries by normalized name, choosing one entry when several keys collide."""

    def rank(key: str) -> tuple[bool, bool, float]:
        price = exact[key].price
        bare = key == normalize_model_name(key)
        first_party = providers.get(key, key.partition("/")[0]) in _FIRST_PARTY
        return (bare, first_party, price.input_per_mtok + price.output_per_mtok)

    best: dict[str, str] = {}
    for key in exact:
        name = normalize_model_name(key)
        if name not in best or rank(key) > rank(best[name]):
            best[name] = key
    return {name: exact[key] for name, key in best.items()}


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        return None
    return float(value) if math.isfinite(value) else None


def _per_mtok(per_token: float) -> float:
    # 12 significant digits strip the binary noise of per-token * 1e6 (1.1e-06 -> 1.1).
    return float(f"{per_token * _MTOK:.12g}")


def _positive_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _litellm_info(key: str, spec: object) -> ModelInfo | None:
    """Convert one LiteLLM entry, or return ``None`` if it is not an importable chat price."""
    if key == "sample_spec" or not isinstance(spec, dict):
        return None
    if spec.get("mode") not in _LITELLM_MODES:
        return None
    input_cost = _number(spec.get("input_cost_per_token"))
    output_cost = _number(spec.get("output_cost_per_token"))
    if input_cost is None or output_cost is None or input_cost == output_cost == 0:
        return None
    cached = _number(spec.get("cache_read_input_token_cost")) or None
    write = _number(spec.get("cache_creation_input_token_cost")) or None
    price = ModelPrice(
        input_per_mtok=_per_mtok(input_cost),
        output_per_mtok=_per_mtok(output_cost),
        cached_input_per_mtok=None if cached is None else _per_mtok(cached),
        cache_write_per_mtok=None if write is None else _per_mtok(write),
    )
    return ModelInfo(
        price=price,
        context_window=_positive_int(spec.get("max_input_tokens")),
        max_output_tokens=_positive_int(spec.get("max_output_tokens")),
    )


@functools.cache
def _default_book() -> PriceBook:
    fields = ("input_per_mtok", "output_per_mtok", "cached_input_per_mtok", "cache_write_per_mtok")
    return PriceBook(
        {
            name: ModelInfo(ModelPrice(**dict(zip(fields, row[:4], strict=True))), row[4], row[5])
            for name, row in BUILTIN_PRICES.items()
        }
    )
