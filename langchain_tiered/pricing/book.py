"""``PriceBook``: model names -> prices and limits, with fail-closed lookups."""

from __future__ import annotations

import functools
import json
import os
import re
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from langchain_tiered.errors import PricingError
from langchain_tiered.pricing.litellm import ImportSummary, litellm_entry
from langchain_tiered.pricing.names import normalize_model_name
from langchain_tiered.pricing.price import ModelPrice
from langchain_tiered.pricing.table import BUILTIN_PRICES

__all__ = ["ModelInfo", "PriceBook", "PriceImportWarning"]

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
_FIRST_PARTY = frozenset({"openai", "anthropic", "deepseek", "gemini", "google", "mistral", "xai"})


class PriceImportWarning(UserWarning):
    """Some imported models have prices the book cannot fully express (see ``import_summary``)."""


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
        self.import_summary: ImportSummary | None = None
        """What ``from_litellm`` imported and could not express; ``None`` for other books."""

    @classmethod
    def _from_maps(cls, exact: dict[str, ModelInfo], names: dict[str, ModelInfo]) -> PriceBook:
        book = cls.__new__(cls)
        book._exact, book._names, book._memo = exact, names, {}
        book.import_summary = None
        return book

    @classmethod
    def default(cls) -> PriceBook:
        """Return the built-in book of list prices (one shared instance, see ``PRICES_AS_OF``)."""
        return _default_book()

    @classmethod
    def from_litellm(
        cls, path: str | os.PathLike[str], *, region: str | None = None, warn: bool = True
    ) -> PriceBook:
        """Import LiteLLM's ``model_prices_and_context_window.json``.

        Imports entries whose ``mode`` is ``"chat"`` or ``"responses"`` and whose input and
        output costs are finite non-negative numbers, with everything a ``ModelPrice`` can
        express: cache reads, 5-minute and 1-hour (12-hour) cache writes, long-context tiers
        (``*_above_<N>k_tokens``, ``tiered_pricing``), service tiers (``*_flex``,
        ``*_priority``, ...), reasoning rates, off-peak windows and per-request fees. Batch
        API prices are ignored (a chat-model call is never a batch job). Skipped: ``sample_spec``,
        entries without a mode (moving aliases such as ``claude-opus-latest``), other modes,
        and entries priced at exactly $0 in and out (placeholders more often than free
        models; price those explicitly). A cache price of 0 is read as "not given" and billed
        as input. When several keys normalize to one name, a bare key wins, then a
        first-party provider key, then the most expensive, so estimates err high.

        What an imported entry prices but a ``ModelPrice`` cannot (audio, image and video
        rates, web-search and other per-use fees) is listed per model in
        ``book.import_summary`` and, unless ``warn=False``, in a ``PriceImportWarning``.

        Args:
            path: Path to the JSON file.
            region: Apply the entries' regional uplift for this processing region
                (``"eu"``, ``"us"``, ``"fedramp"``; e.g. gpt-5.4 and Claude Opus 4.7 cost
                1.1x with data residency). ``None``: standard (global) processing.
            warn: Emit a ``PriceImportWarning`` naming the models whose price is incomplete.

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
        summary = ImportSummary()
        for key, spec in data.items():
            entry = litellm_entry(key, spec, region)
            if entry is None:
                summary.skipped += 1
                continue
            price, missing, limits = entry
            name = key.strip().lower()
            exact[name] = ModelInfo(price, limits["context_window"], limits["max_output_tokens"])
            providers[name] = str(spec.get("litellm_provider", ""))
            summary.imported += 1
            if missing:
                summary.incomplete[key] = missing
        book = cls._from_maps(exact, _index_by_name(exact, providers))
        book.import_summary = summary
        if warn and summary.incomplete:
            warnings.warn(PriceImportWarning(summary.describe()), stacklevel=2)
        return book

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


@functools.cache
def _default_book() -> PriceBook:
    return PriceBook({name: ModelInfo(*row) for name, row in BUILTIN_PRICES.items()})
