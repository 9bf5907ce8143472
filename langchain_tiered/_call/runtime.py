"""Resolving a ``TieredChatModel``'s configuration into the :class:`Runtime` its calls read.

Everything that can be checked at construction is checked here, so a bad configuration
fails when the model is built, not on the first call: unknown router tiers, missing
prices (fail closed), budgets on different ledgers.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from langchain_tiered._call.state import Runtime
from langchain_tiered.preflight import (
    TierProfile,
    asks_stream_usage,
    max_tokens_kwarg,
    model_max_tokens,
)
from langchain_tiered.tiers import Tier, validate_tier_names

if TYPE_CHECKING:
    from langchain_tiered.pricing import ModelPrice, PriceBook

__all__ = ["build_runtime"]


def _context_window(tier: Tier, book: PriceBook) -> int | None:
    if tier.context_window is not None:
        return tier.context_window
    profile = getattr(tier.model, "profile", None) or {}
    window = profile.get("max_input_tokens") if isinstance(profile, dict) else None
    if isinstance(window, int) and window > 0:
        return window
    info = book.lookup(tier.model_name)
    return info.context_window if info is not None else None


def _price(tier: Tier, book: PriceBook) -> ModelPrice:
    if tier.price is not None:
        return tier.price  # type: ignore[no-any-return]
    from langchain_tiered.errors import PricingError  # noqa: PLC0415

    try:
        return book.price_for(tier.model_name)
    except PricingError as exc:
        msg = f"tier {tier.name!r}: {exc}"
        raise PricingError(msg, model_name=tier.model_name) from None


def _profiles(tiers: Sequence[Tier], book: PriceBook) -> tuple[TierProfile, ...]:
    return tuple(
        TierProfile(
            name=t.name,
            index=i,
            model_name=t.model_name,
            price=_price(t, book),
            context_window=_context_window(t, book),
            model_max_tokens=model_max_tokens(t.model),
            tier_max_output_tokens=t.max_output_tokens,
            ask_stream_usage=asks_stream_usage(t.model),
            max_tokens_kwarg=max_tokens_kwarg(t.model),
        )
        for i, t in enumerate(tiers)
    )


def _budgets(model: Any) -> tuple[tuple[Any, ...], Any]:
    from langchain_tiered.budget import Budget, shared_ledger  # noqa: PLC0415

    raw = model.budget
    budgets = () if raw is None else (raw,) if isinstance(raw, Budget) else tuple(raw)
    for b in budgets:
        if not isinstance(b, Budget):
            msg = f"budget must be a Budget or a list of Budget, got {type(b).__name__}"
            raise TypeError(msg)
    ledger = shared_ledger(budgets) if budgets else None
    if model.ledger is not None and ledger is not None and model.ledger is not ledger:
        msg = "ledger= differs from the budgets' ledger; pass the same ledger to both"
        raise ValueError(msg)
    return budgets, ledger if ledger is not None else model.ledger


def _policies(model: Any, names: tuple[str, ...]) -> dict[str, Any]:
    from langchain_tiered.fallbacks import (  # noqa: PLC0415
        DEFAULT_FALLBACK_ON,
        CircuitBreaker,
        ErrorKind,
        RetryPolicy,
    )

    if model.refusal_tier is not None and model.refusal_tier not in names:
        msg = f"refusal_tier {model.refusal_tier!r} is not a tier; valid: {', '.join(names)}"
        raise ValueError(msg)
    fallback_on = (
        DEFAULT_FALLBACK_ON
        if model.fallback_on is None
        else frozenset(ErrorKind(k) for k in model.fallback_on)
    )
    retry = model.retry if model.retry is not None else RetryPolicy()
    changes: dict[str, Any] = {}
    if model.max_retries is not None:
        changes["max_attempts"] = model.max_retries + 1
    if model.timeout is not None:
        changes["max_total_seconds"] = model.timeout
    if changes:
        retry = dataclasses.replace(retry, **changes)
    return {
        "retry": retry,
        "fallback_on": fallback_on,
        "breaker": CircuitBreaker(
            failure_threshold=model.cooldown_failures,
            cooldown_seconds=model.cooldown_seconds,
            clock=model.clock,
        ),
    }


def _limiters(tiers: Sequence[Tier], clock: Any) -> dict[str, Any]:
    limited = [t for t in tiers if t.requests_per_minute or t.tokens_per_minute]
    if not limited:
        return {}
    from langchain_tiered.ratelimit import TierRateLimiter  # noqa: PLC0415

    return {
        t.name: TierRateLimiter(
            requests_per_minute=t.requests_per_minute,
            tokens_per_minute=t.tokens_per_minute,
            clock=clock,
        )
        for t in limited
    }


def _router(model: Any, names: tuple[str, ...]) -> Any:
    from langchain_tiered.routing import ComplexityRouter  # noqa: PLC0415

    router = model.router if model.router is not None else ComplexityRouter()
    if not callable(router):
        msg = f"router must be callable (RouteRequest -> RouteDecision), got {router!r}"
        raise TypeError(msg)
    validate = getattr(router, "validate_tiers", None)
    if callable(validate):
        validate(names)
    return router


def build_runtime(model: Any, *, rng: random.Random) -> Runtime:
    """Validate a ``TieredChatModel``'s fields and resolve them into a :class:`Runtime`."""
    from langchain_tiered.pricing import PriceBook  # noqa: PLC0415
    from langchain_tiered.tokens import TokenCounter  # noqa: PLC0415

    names = validate_tier_names(model.tiers)
    book = model.price_book if model.price_book is not None else PriceBook.default()
    budgets, ledger = _budgets(model)
    overrides = {t.name: t.fallbacks for t in model.tiers if t.fallbacks is not None}
    router = _router(model, names)
    identity = {
        "tiers": [{"name": t.name, "model": t.model_name} for t in model.tiers],
        "router": type(router).__name__,
        "max_cost_per_call": model.max_cost_per_call,
        "on_budget_exceeded": model.on_budget_exceeded,
    }
    return Runtime(
        profiles=_profiles(model.tiers, book),
        models={t.name: t.model for t in model.tiers},
        router=router,
        identity=identity,
        counter=TokenCounter(),
        clock=model.clock,
        limiters=_limiters(model.tiers, model.clock),
        budgets=budgets,
        ledger=ledger,
        max_cost_per_call=model.max_cost_per_call,
        on_budget_exceeded=model.on_budget_exceeded,
        cap_output_to_budget=model.cap_output_to_budget,
        min_output_tokens=model.min_output_tokens,
        refusal_tier=model.refusal_tier,
        allow_upgrade=model.allow_upgrade,
        fallback_overrides=overrides,
        rate_limit_max_wait=model.rate_limit_max_wait,
        reservation_ttl=model.reservation_ttl_seconds,
        rng=rng,
        **_policies(model, names),
    )
