"""``ModelPrice``: a model's list price, and the arithmetic of cost and worst case.

A price is flat (per-token rates) plus optional structure that providers bill by:

* ``long_context``: whole-call rates once the prompt exceeds a threshold (gpt-5.4 above 272k,
  Gemini Pro above 200k input tokens). The tier is chosen by the call's total input tokens.
* ``service_tiers``: rates of OpenAI-style service tiers (``"flex"``, ``"priority"``), chosen
  by the tier the response reports.
* ``off_peak`` with ``off_peak_windows``: time-of-day rates (DeepSeek), chosen by the clock at
  settlement.
* ``per_request_usd``: a fee per call (Perplexity's online models).

The worst case of a call is an upper bound for every usage with at most the counted prompt
tokens, at most the output cap, any split of the prompt into uncached, cache-read and
cache-written tokens that the call allows, any long-context tier at or below the prompt's, and
any time of day.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator, model_validator

from langchain_tiered.pricing.schedule import TimeWindow
from langchain_tiered.pricing.usage import BilledUsage, billed_usage

__all__ = ["CacheWrites", "ModelPrice"]

_MTOK = 1_000_000
CacheWrites = Literal["none", "5m", "1h", "any"]
"""Which cache writes a call may cause: none, standard (5-minute) writes, 1-hour writes, any."""
_RATES = (
    "input_per_mtok",
    "output_per_mtok",
    "cached_input_per_mtok",
    "cache_write_per_mtok",
    "cache_write_1h_per_mtok",
    "reasoning_per_mtok",
    "per_request_usd",
)


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
    """USD per million input tokens written to the prompt cache (Anthropic's 5-minute TTL);
    ``None`` bills them as input."""
    cache_write_1h_per_mtok: float | None = None
    """USD per million input tokens written with extended retention (Anthropic's 1-hour TTL,
    OpenAI's 12-hour); ``None`` bills them like standard writes."""
    reasoning_per_mtok: float | None = None
    """USD per million reasoning tokens where they cost more than other output (some Gemini
    previews); ``None`` bills them as output."""
    per_request_usd: float = 0.0
    """USD charged per call on top of tokens."""
    long_context: Mapping[int, ModelPrice] = {}
    """Input-token threshold -> the price of a whole call whose prompt has more input tokens."""
    service_tiers: Mapping[str, ModelPrice] = {}
    """Service tier name (``"flex"``, ``"priority"``) -> the price on that tier."""
    off_peak: ModelPrice | None = None
    """The price while one of ``off_peak_windows`` is open."""
    off_peak_windows: tuple[TimeWindow, ...] = ()
    """When ``off_peak`` applies."""

    @field_validator(*_RATES)
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

    @field_validator("long_context")
    @classmethod
    def _check_long_context(cls, value: Mapping[int, ModelPrice]) -> dict[int, ModelPrice]:
        for threshold, price in value.items():
            if threshold <= 0:
                msg = f"long_context thresholds must be positive token counts; got {threshold}"
                raise ValueError(msg)
            if price.long_context or price.service_tiers or price.off_peak is not None:
                msg = "a long_context price must be flat (no long_context/service_tiers/off_peak)"
                raise ValueError(msg)
        return dict(sorted(value.items()))

    @field_validator("service_tiers")
    @classmethod
    def _check_tiers(cls, value: Mapping[str, ModelPrice]) -> dict[str, ModelPrice]:
        for name, price in value.items():
            if price.service_tiers or price.off_peak is not None:
                msg = f"service tier {name!r} price must not nest service_tiers or off_peak"
                raise ValueError(msg)
        return {name.strip().lower(): price for name, price in value.items()}

    @model_validator(mode="after")
    def _check_off_peak(self) -> ModelPrice:
        if (self.off_peak is None) != (not self.off_peak_windows):
            msg = "off_peak and off_peak_windows must be given together"
            raise ValueError(msg)
        if self.off_peak is not None and not self.off_peak.is_flat:
            msg = "an off_peak price must be flat (no long_context/service_tiers/off_peak)"
            raise ValueError(msg)
        return self

    def __hash__(self) -> int:
        # Mapping fields are not hashable; the JSON form is canonical (keys are sorted above).
        return hash(self.model_dump_json())

    @property
    def is_flat(self) -> bool:
        """Whether the price has no tiers, service tiers or time windows."""
        return not (self.long_context or self.service_tiers or self.off_peak is not None)

    # ------------------------------------------------------------------ choosing a flat price

    def _for_tier(self, service_tier: str | None) -> ModelPrice:
        if service_tier:
            return self.service_tiers.get(service_tier.strip().lower(), self)
        return self

    def _by_size(self, input_tokens: int) -> ModelPrice:
        chosen = self
        for threshold, price in self.long_context.items():  # sorted ascending
            if input_tokens > threshold:
                chosen = price
        return chosen

    def resolve(
        self, input_tokens: int, *, service_tier: str | None = None, at: datetime | None = None
    ) -> ModelPrice:
        """The flat price that bills one call.

        Args:
            input_tokens: The call's total input tokens (cache reads and writes included).
            service_tier: The tier that served the call; unknown tiers bill at the base price.
            at: When the call was made; ``None`` never applies off-peak prices.

        Returns:
            A flat ``ModelPrice`` (the service tier's, else off-peak, then the long-context
            tier the prompt falls in).
        """
        price = self._for_tier(service_tier)
        off_peak = self.off_peak
        if price is self and at is not None and off_peak is not None and self._is_off_peak(at):
            return off_peak
        return price._by_size(input_tokens)

    def _is_off_peak(self, at: datetime) -> bool:
        return any(window.covers(at) for window in self.off_peak_windows)

    # ------------------------------------------------------------------ cost

    def cost(
        self,
        usage: Mapping[str, Any],
        *,
        response_metadata: Mapping[str, Any] | None = None,
        at: datetime | None = None,
        service_tier: str | None = None,
    ) -> float:
        """Return the USD cost of one call from its LangChain ``usage_metadata``.

        Cache reads and writes are part of ``input_tokens`` in LangChain's convention, so only
        the remainder is billed at the input price (never below zero). Reasoning tokens are
        part of ``output_tokens`` and are not added again.

        Args:
            usage: A ``UsageMetadata`` dict (or any mapping with the same keys).
            response_metadata: The message's ``response_metadata``: raw provider usage fills
                details LangChain did not map (DeepSeek cache hits, Anthropic write TTLs) and
                ``service_tier`` selects flex/priority prices.
            at: When the call ran, for time-of-day prices (``None``: standard hours).
            service_tier: Overrides the tier read from the response.

        Returns:
            The cost in USD.
        """
        return self.billed_cost(
            billed_usage(usage, response_metadata), at=at, service_tier=service_tier
        )

    def billed_cost(
        self, billed: BilledUsage, *, at: datetime | None = None, service_tier: str | None = None
    ) -> float:
        """Return the USD cost of usage already read by ``billed_usage`` (see ``cost``).

        The call engine reads a call's usage once and prices it on several tiers with this.
        """
        tier = service_tier or billed.service_tier
        return self.resolve(billed.input_tokens, service_tier=tier, at=at)._flat_cost(billed)

    def _flat_cost(self, billed: BilledUsage) -> float:
        read_rate = _or(self.cached_input_per_mtok, self.input_per_mtok)
        write_rate = _or(self.cache_write_per_mtok, self.input_per_mtok)
        hour_rate = _or(self.cache_write_1h_per_mtok, write_rate)
        reasoning_rate = _or(self.reasoning_per_mtok, self.output_per_mtok)
        cached = billed.cache_read + billed.cache_write + billed.cache_write_1h
        uncached = max(0, billed.input_tokens - cached)
        reasoning = min(billed.reasoning, billed.output_tokens)
        return (
            (uncached * self.input_per_mtok) / _MTOK
            + (billed.cache_read * read_rate) / _MTOK
            + (billed.cache_write * write_rate) / _MTOK
            + (billed.cache_write_1h * hour_rate) / _MTOK
            + ((billed.output_tokens - reasoning) * self.output_per_mtok) / _MTOK
            + (reasoning * reasoning_rate) / _MTOK
            + self.per_request_usd
        )

    # ------------------------------------------------------------------ worst case

    def worst_case_price(
        self,
        input_tokens: int,
        *,
        service_tier: str | None = None,
        cache_writes: CacheWrites = "none",
    ) -> ModelPrice:
        """A flat price whose linear cost bounds every call with at most ``input_tokens``.

        Its input rate is the highest rate any prompt token may be billed at (input, cache
        read, and the cache-write rates ``cache_writes`` allows), its output rate the highest
        output or reasoning rate, over every long-context tier the prompt may fall in (at or
        below its own) and off-peak hours.

        Args:
            input_tokens: The counted prompt (an upper bound of the billed input tokens).
            service_tier: The tier the call requests (``None``: standard).
            cache_writes: Which cache writes the call may cause (``cache_writes_for``):
                ``"none"`` (the default) adds no write premium, ``"any"`` bounds every write.

        Returns:
            A flat ``ModelPrice`` with only input, output and per-request prices set.
        """
        rate_in, rate_out, per_request = self._worst_rates(input_tokens, service_tier, cache_writes)
        return ModelPrice(
            input_per_mtok=rate_in, output_per_mtok=rate_out, per_request_usd=per_request
        )

    def _worst_rates(
        self, input_tokens: int, service_tier: str | None, cache_writes: CacheWrites
    ) -> tuple[float, float, float]:
        # The rates of ``worst_case_price`` without building a (validated) ModelPrice: the
        # pre-flight runs this on every call, so they are remembered per price, service tier,
        # write kind and long-context tiers reached (a few keys per price). The memo sits in
        # the instance dict (pydantic ignores it in dumps, equality and hashes) tagged with
        # its owner, so a ``model_copy(update=...)``, which shares the dict, never reads it.
        memo: tuple[int, dict[tuple[Any, ...], tuple[float, float, float]]] | None
        memo = self.__dict__.get("_worst_rates_memo")
        if memo is None or memo[0] != id(self):
            memo = (id(self), {})
            self.__dict__["_worst_rates_memo"] = memo
        base = self._for_tier(service_tier)
        reached = (
            tuple(t for t in base.long_context if input_tokens > t) if base.long_context else ()
        )
        key = (id(base), cache_writes, reached)  # base: self or one of its own prices
        rates: tuple[float, float, float] | None = memo[1].get(key)
        if rates is None:
            candidates = [base, *(base.long_context[t] for t in reached)]
            if base is self and self.off_peak is not None:
                candidates.append(self.off_peak)
            rates = (
                max(p._worst_input_rate(cache_writes) for p in candidates),
                max(max(p.output_per_mtok, _or(p.reasoning_per_mtok, 0.0)) for p in candidates),
                max(p.per_request_usd for p in candidates),
            )
            memo[1][key] = rates
        return rates

    def _worst_input_rate(self, cache_writes: CacheWrites) -> float:
        rates = [self.input_per_mtok, _or(self.cached_input_per_mtok, 0.0)]
        write = _or(self.cache_write_per_mtok, self.input_per_mtok)
        if cache_writes in ("5m", "any"):
            rates.append(write)
        if cache_writes in ("1h", "any"):
            rates.append(_or(self.cache_write_1h_per_mtok, write))
        return max(rates)

    def worst_case(
        self,
        input_tokens: int,
        max_output_tokens: int,
        *,
        service_tier: str | None = None,
        cache_writes: CacheWrites = "none",
    ) -> float:
        """Return the most a call can cost in USD (see ``worst_case_price``).

        Args:
            input_tokens: Counted prompt tokens.
            max_output_tokens: The call's output cap.
            service_tier: The service tier the call requests, if any.
            cache_writes: Which prompt-cache writes the call may cause (``cache_writes_for``,
                as the call engine passes it); ``"none"`` (the default) prices written tokens
                like input, ``"any"`` bounds every write whatever the call.

        Raises:
            ValueError: If a token count is negative.
        """
        if input_tokens < 0 or max_output_tokens < 0:
            msg = (
                "token counts must be non-negative; got "
                f"input_tokens={input_tokens}, max_output_tokens={max_output_tokens}"
            )
            raise ValueError(msg)
        rate_in, rate_out, per_request = self._worst_rates(input_tokens, service_tier, cache_writes)
        return (
            (input_tokens * rate_in) / _MTOK + (max_output_tokens * rate_out) / _MTOK + per_request
        )

    def output_rate(self, input_tokens: int, *, service_tier: str | None = None) -> float:
        """USD per million output tokens a call with this prompt may pay (worst case)."""
        return self.worst_case_price(input_tokens, service_tier=service_tier).output_per_mtok

    def scaled(self, factor: float) -> ModelPrice:
        """This price with every rate multiplied by ``factor`` (regional uplifts)."""
        changes: dict[str, Any] = {
            name: None if getattr(self, name) is None else getattr(self, name) * factor
            for name in _RATES
        }
        changes["long_context"] = {t: p.scaled(factor) for t, p in self.long_context.items()}
        changes["service_tiers"] = {n: p.scaled(factor) for n, p in self.service_tiers.items()}
        changes["off_peak"] = None if self.off_peak is None else self.off_peak.scaled(factor)
        return self.model_copy(update=changes)


def _or(value: float | None, default: float) -> float:
    return default if value is None else value
