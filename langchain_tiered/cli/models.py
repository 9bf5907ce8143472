"""Building a ``TieredChatModel`` from a validated :class:`~langchain_tiered.cli.config.Config`.

Providers: ``openai:<model>`` (or no prefix) is ``langchain_openai.ChatOpenAI``; a dotted
``provider = "package.module.Class"`` imports that class; any other ``<provider>:<model>`` goes
through ``langchain.chat_models.init_chat_model``. API keys are read from the environment
variable a tier names, wrapped in ``SecretStr`` at once, and never printed.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

from langchain_tiered._redact import redact
from langchain_tiered.cli.common import CliError

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from langchain_tiered.chat_models import TieredChatModel
    from langchain_tiered.cli.config import Config, TierSpec
    from langchain_tiered.ledger import Ledger

__all__ = ["EMULATOR_KEY", "OFFLINE_KEY", "bare_model_name", "build_model", "make_ledger"]

EMULATOR_KEY = "sk-emulator"
OFFLINE_KEY = "sk-offline-estimate-never-sent"


def bare_model_name(model: str) -> str:
    """``"openai:gpt-4.1"`` -> ``"gpt-4.1"``; names without a provider prefix are unchanged."""
    provider, sep, rest = model.partition(":")
    return rest if sep and rest and "/" not in provider else model


def _provider(model: str) -> str:
    provider, sep, rest = model.partition(":")
    return provider.lower() if sep and rest else "openai"


def _api_key(cfg: Config, spec: TierSpec, where: str, *, offline: bool) -> Any:
    from pydantic import SecretStr  # noqa: PLC0415

    if spec.api_key_env is None:
        return SecretStr(OFFLINE_KEY) if offline else None
    value = os.environ.get(spec.api_key_env)
    if value:
        return SecretStr(value)
    if offline:  # estimate sends nothing, so a missing key must not stop the plan
        return SecretStr(OFFLINE_KEY)
    problem = f"environment variable {spec.api_key_env} is not set (it holds this tier's API key)"
    raise cfg.error(f"{where}.api_key_env", problem)


def _chat_model(cfg: Config, spec: TierSpec, where: str, *, offline: bool) -> BaseChatModel:
    """The tier's chat model, from its provider; construction errors name the tier."""
    key = _api_key(cfg, spec, where, offline=offline)
    kwargs: dict[str, Any] = dict(spec.options)
    if spec.base_url is not None:
        kwargs["base_url"] = spec.base_url
    if key is not None:
        kwargs["api_key"] = key
    try:
        if spec.provider is not None:
            return _from_class(cfg, spec, where, kwargs)
        if _provider(spec.model) == "openai":
            from langchain_openai import ChatOpenAI  # noqa: PLC0415

            return ChatOpenAI(model=bare_model_name(spec.model), **kwargs)
        return _from_init_chat_model(cfg, spec, where, kwargs)
    except CliError:
        raise
    except Exception as exc:  # a provider's own validation error, shown as one line
        raise cfg.error(where, f"cannot build the chat model: {_one_line(exc)}") from None


def _from_class(cfg: Config, spec: TierSpec, where: str, kwargs: dict[str, Any]) -> BaseChatModel:
    module_name, _, class_name = str(spec.provider).rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError, ValueError):
        problem = f"cannot import {spec.provider!r}; install its package or fix the dotted path"
        raise cfg.error(f"{where}.provider", problem) from None
    model: BaseChatModel = cls(model=bare_model_name(spec.model), **kwargs)
    return model


def _from_init_chat_model(
    cfg: Config, spec: TierSpec, where: str, kwargs: dict[str, Any]
) -> BaseChatModel:
    try:
        from langchain.chat_models import init_chat_model  # noqa: PLC0415
    except ImportError:
        problem = (
            f"provider {_provider(spec.model)!r} needs the 'langchain' package "
            "(pip install langchain), or set provider = 'package.Class'"
        )
        raise cfg.error(f"{where}.model", problem) from None
    model: BaseChatModel = init_chat_model(spec.model, **kwargs)
    return model


def _emulated(spec: TierSpec, base_url: str) -> BaseChatModel:
    from langchain_openai import ChatOpenAI  # noqa: PLC0415

    # max_retries=0: retries are the tiered model's job; the client's own would hide faults.
    return ChatOpenAI(
        model=bare_model_name(spec.model),
        base_url=base_url,
        api_key=EMULATOR_KEY,
        max_retries=0,
    )


def make_ledger(cfg: Config) -> Ledger:
    """The config's SQLite ledger, else an in-memory one."""
    from langchain_tiered.ledger import InMemoryLedger, SQLiteLedger  # noqa: PLC0415

    if cfg.ledger_path is None:
        return InMemoryLedger()
    try:
        return SQLiteLedger(cfg.ledger_path)
    except Exception as exc:  # sqlite3 errors: unwritable directory, not a database
        raise cfg.error("ledger.path", f"cannot open {cfg.ledger_path}: {_one_line(exc)}") from None


def build_model(
    cfg: Config,
    *,
    emulator_url: str | None = None,
    offline: bool = False,
    ledger: Ledger | None = None,
    **overrides: Any,
) -> TieredChatModel:
    """The ``TieredChatModel`` a config describes.

    Args:
        cfg: The validated config.
        emulator_url: Point every tier at this emulator instead of its provider.
        offline: Nothing will be sent (``estimate``): missing API keys are not an error.
        ledger: Use this ledger instead of the config's (a test, the demo).
        **overrides: Further ``TieredChatModel`` fields (``retry``, ``max_cost_per_call``).

    Raises:
        CliError: No tiers, a missing key, an unknown provider, or the model rejects the config
            (an unpriced model, thresholds not matching the tiers).
    """
    if not cfg.tiers:
        raise cfg.error("tiers", "at least one [[tiers]] entry is required")
    from langchain_tiered import Budget, ComplexityRouter, PriceBook  # noqa: PLC0415
    from langchain_tiered.chat_models import TieredChatModel  # noqa: PLC0415
    from langchain_tiered.fallbacks import RetryPolicy  # noqa: PLC0415
    from langchain_tiered.ledger import InMemoryLedger  # noqa: PLC0415

    tiers = _tiers(cfg, emulator_url=emulator_url, offline=offline)
    if ledger is None and (cfg.budgets or cfg.ledger_path is not None):
        # Offline plans record nothing, so they must not create or lock the ledger file.
        ledger = InMemoryLedger() if offline else make_ledger(cfg)
    budgets = [
        Budget(limit_usd=b.limit_usd, period=b.period, scope=b.scope, name=b.name, ledger=ledger)
        for b in cfg.budgets
    ]
    fields: dict[str, Any] = {
        "tiers": tiers,
        "router": ComplexityRouter(thresholds=cfg.thresholds),
        "price_book": PriceBook.default().with_prices(_prices(cfg)),
        "max_cost_per_call": cfg.max_cost_per_call,
        "on_budget_exceeded": cfg.on_budget_exceeded,
        "refusal_tier": cfg.refusal_tier,
        "max_tokens": cfg.max_tokens,
        "budget": budgets or None,
        "ledger": ledger,
        "retry": _retry(cfg, RetryPolicy),
        **overrides,
    }
    try:
        return TieredChatModel(**fields)
    except Exception as exc:  # PricingError, ValueError, ValidationError: all config problems
        raise cfg.error("tiers", _one_line(exc)) from None


def _retry(cfg: Config, policy: Any) -> Any:
    if not cfg.retry:
        return None
    values = {k: int(v) if k == "max_attempts" else v for k, v in cfg.retry.items()}
    return policy(**values)


def _tiers(cfg: Config, *, emulator_url: str | None, offline: bool) -> list[Any]:
    from langchain_tiered import Tier  # noqa: PLC0415

    tiers = []
    for i, spec in enumerate(cfg.tiers):
        where = f"tiers[{i}]"
        model = (
            _emulated(spec, emulator_url)
            if emulator_url
            else _chat_model(cfg, spec, where, offline=offline)
        )
        try:
            tiers.append(
                Tier(
                    name=spec.name,
                    model=model,
                    price=spec.price,
                    context_window=spec.context_window,
                    requests_per_minute=spec.requests_per_minute,
                    tokens_per_minute=spec.tokens_per_minute,
                    max_output_tokens=spec.max_output_tokens,
                    fallbacks=spec.fallbacks,
                )
            )
        except Exception as exc:  # pydantic ValidationError: one line naming the tier
            raise cfg.error(where, _one_line(exc)) from None
    return tiers


def _prices(cfg: Config) -> dict[str, Any]:
    from langchain_tiered.pricing import ModelPrice  # noqa: PLC0415

    return {name: ModelPrice(**price) for name, price in cfg.prices.items()}


def _one_line(exc: BaseException) -> str:
    # A provider's validation error may echo the key it was given: mask before printing.
    text = redact(" ".join(str(exc).split()))
    return text or type(exc).__name__
