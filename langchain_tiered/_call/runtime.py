"""Resolving a ``TieredChatModel``'s configuration into the :class:`Runtime` its calls read.

Everything that can be checked at construction is checked here, so a bad configuration
fails when the model is built, not on the first call: unknown router tiers, missing
prices (fail closed), budgets on different ledgers. Settings are read from the model
itself; nothing is declared twice.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from langchain_core.language_models import BaseChatModel
from pydantic import SecretStr

from langchain_tiered._call.state import Runtime
from langchain_tiered.agents.runs import enable_root_tracking
from langchain_tiered.agents.threads import InMemoryThreadStore, ThreadStore
from langchain_tiered.budget import Budget, shared_ledger
from langchain_tiered.errors import PricingError
from langchain_tiered.fallbacks import DEFAULT_FALLBACK_ON, CircuitBreaker, ErrorKind, RetryPolicy
from langchain_tiered.fallbacks.breaker import Cooldowns
from langchain_tiered.preflight import (
    TierProfile,
    asks_stream_usage,
    max_tokens_kwarg,
    model_max_output,
    model_max_tokens,
    service_tier_of,
)
from langchain_tiered.pricing import ModelPrice, PriceBook
from langchain_tiered.ratelimit import RateLimiter, TierRateLimiter
from langchain_tiered.routing import ComplexityRouter, RouteDecision, RouteRequest
from langchain_tiered.tiers import Tier, validate_tier_names
from langchain_tiered.tokens import TokenCounter

if TYPE_CHECKING:
    from langchain_tiered._clock import Clock
    from langchain_tiered.chat_models import TieredChatModel
    from langchain_tiered.ledger import Ledger

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
        return tier.price
    try:
        return book.price_for(tier.model_name)
    except PricingError as exc:
        msg = f"tier {tier.name!r}: {exc}"
        raise PricingError(msg, model_name=tier.model_name) from None


def _max_output(tier: Tier, book: PriceBook) -> int | None:
    info = book.lookup(tier.model_name)
    return model_max_output(tier.model, info.max_output_tokens if info is not None else None)


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
            max_output_limit=_max_output(t, book),
            service_tier=service_tier_of(t.model),
        )
        for i, t in enumerate(tiers)
    )


def _budgets(model: TieredChatModel) -> tuple[tuple[Budget, ...], Ledger | None]:
    raw = model.budget
    budgets = () if raw is None else (raw,) if isinstance(raw, Budget) else tuple(raw)
    ledger = shared_ledger(budgets) if budgets else None
    if model.ledger is not None and ledger is not None and model.ledger is not ledger:
        msg = "ledger= differs from the budgets' ledger; pass the same ledger to both"
        raise ValueError(msg)
    return budgets, ledger if ledger is not None else model.ledger


def _retry(model: TieredChatModel) -> RetryPolicy:
    retry = model.retry if model.retry is not None else RetryPolicy()
    changes: dict[str, Any] = {}
    if model.max_retries is not None:
        changes["max_attempts"] = model.max_retries + 1
    if model.timeout is not None:
        changes["max_total_seconds"] = model.timeout
    return dataclasses.replace(retry, **changes) if changes else retry


def _fallback_on(model: TieredChatModel, names: tuple[str, ...]) -> frozenset[ErrorKind]:
    if model.refusal_tier is not None and model.refusal_tier not in names:
        msg = f"refusal_tier {model.refusal_tier!r} is not a tier; valid: {', '.join(names)}"
        raise ValueError(msg)
    if model.fallback_on is None:
        return DEFAULT_FALLBACK_ON
    return frozenset(ErrorKind(k) for k in model.fallback_on)


def _limiters(tiers: Sequence[Tier], clock: Clock, shared: Any) -> dict[str, RateLimiter]:
    limited = [t for t in tiers if t.requests_per_minute or t.tokens_per_minute]
    if shared is not None:  # a RedisState: one limit per tier name across every replica
        return {
            t.name: shared.limiter(
                t.name,
                requests_per_minute=t.requests_per_minute,
                tokens_per_minute=t.tokens_per_minute,
            )
            for t in limited
        }
    return {
        t.name: TierRateLimiter(
            requests_per_minute=t.requests_per_minute,
            tokens_per_minute=t.tokens_per_minute,
            clock=clock,
        )
        for t in limited
    }


def _breaker(model: TieredChatModel, retry: RetryPolicy) -> Cooldowns:
    options: dict[str, Any] = {
        "failure_threshold": model.cooldown_failures,
        "cooldown_seconds": model.cooldown_seconds,
        "rate_limit_backoff": retry.rate_limit_backoff,
        "rate_limit_max_backoff": retry.rate_limit_max_backoff,
    }
    if model.shared_state is not None:  # cooldowns seen by every replica
        breaker: Cooldowns = model.shared_state.breaker(**options)
        return breaker
    return CircuitBreaker(**options, clock=model.clock)


def _models(model: TieredChatModel) -> dict[str, BaseChatModel]:
    """Tier models; ``Deployments`` without state of their own share ``shared_state``."""
    out: dict[str, BaseChatModel] = {}
    for t in model.tiers:
        share = getattr(t.model, "with_shared_state", None)
        own = getattr(t.model, "shared_state", None)
        shared = model.shared_state is not None and callable(share) and own is None
        out[t.name] = share(model.shared_state) if shared else t.model  # type: ignore[misc]
    return out


def _router(
    model: TieredChatModel, names: tuple[str, ...]
) -> Callable[[RouteRequest], RouteDecision]:
    router = model.router if model.router is not None else ComplexityRouter()
    if not callable(router):
        msg = f"router must be callable (RouteRequest -> RouteDecision), got {router!r}"
        raise TypeError(msg)
    validate = getattr(router, "validate_tiers", None)
    if callable(validate):
        validate(names)
    return router


def _secrets(models: Sequence[BaseChatModel]) -> tuple[str, ...]:
    """The API keys the tier models hold (``SecretStr`` fields), to mask in error text."""
    found = {
        value.get_secret_value()
        for model in models
        for _, value in model
        if isinstance(value, SecretStr)
    }
    return tuple(sorted(s for s in found if s))


def _threads(model: TieredChatModel, budgets: Sequence[Budget]) -> ThreadStore | None:
    """The thread store; threads and run budgets need each call's root run, so track it."""
    if model.sticky != "never" or any(b.scope == "run" for b in budgets):
        enable_root_tracking()
    if model.sticky == "never":
        return None
    return model.threads if model.threads is not None else InMemoryThreadStore(clock=model.clock)


def build_runtime(model: TieredChatModel) -> Runtime:
    """Validate a ``TieredChatModel``'s fields and resolve them into a :class:`Runtime`."""
    names = validate_tier_names(model.tiers)
    book = model.price_book if model.price_book is not None else PriceBook.default()
    budgets, ledger = _budgets(model)
    router = _router(model, names)
    retry = _retry(model)
    identity = {
        "tiers": [{"name": t.name, "model": t.model_name} for t in model.tiers],
        "router": type(router).__name__,
        "max_cost_per_call": model.max_cost_per_call,
        "on_budget_exceeded": model.on_budget_exceeded,
    }
    return Runtime(
        settings=model,
        profiles=_profiles(model.tiers, book),
        models=_models(model),
        router=router,
        counter=TokenCounter(),
        breaker=_breaker(model, retry),
        limiters=_limiters(model.tiers, model.clock, model.shared_state),
        budgets=budgets,
        ledger=ledger,
        retry=retry,
        fallback_on=_fallback_on(model, names),
        fallback_overrides={t.name: t.fallbacks for t in model.tiers if t.fallbacks is not None},
        rng=random.Random(model.seed),  # noqa: S311 - retry jitter, not cryptography
        identity=identity,
        secrets=_secrets([t.model for t in model.tiers]),
        threads=_threads(model, budgets),
    )
