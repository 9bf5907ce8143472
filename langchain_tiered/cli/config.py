"""The CLI's TOML configuration: parsing and validation into plain, immutable values.

Every problem is reported as ``<file>: <key path>: <what is wrong>`` (for example
``tiers.toml: tiers[1].price.input_per_mtok: must be >= 0``), so a user knows what to change
without reading a traceback. Building chat models from these values lives in
:mod:`langchain_tiered.cli.models`.
"""

from __future__ import annotations

import importlib
import itertools
import math
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_tiered._redact import redact
from langchain_tiered.cli.common import CliError, read_text

__all__ = ["BudgetSpec", "Config", "TierSpec", "load_config", "parse_config"]

_PRICE_KEYS = ("input_per_mtok", "output_per_mtok", "cached_input_per_mtok", "cache_write_per_mtok")
_TIER_KEYS = frozenset({
    "name", "model", "provider", "base_url", "api_key_env", "price", "context_window",
    "requests_per_minute", "tokens_per_minute", "max_output_tokens", "fallbacks", "options",
})  # fmt: skip
_TOP_KEYS = frozenset({
    "tiers", "router", "budget", "ledger", "prices", "retry", "max_cost_per_call",
    "on_budget_exceeded", "refusal_tier", "max_tokens",
})  # fmt: skip
_BUDGET_KEYS = frozenset({"limit_usd", "period", "scope", "name"})
_RETRY_KEYS = frozenset({"max_attempts", "base_delay", "max_delay", "max_total_seconds"})
# Key names that hold credentials (api_key, openai_api_key, secret_key, auth_token, ...);
# "max_tokens" and friends end in "tokens", so they never match.
_SECRET_NAME = re.compile(
    r"(?:^|_)(?:api_?key|secret(?:_key)?|password|(?:access_|auth_)?token)$", re.IGNORECASE
)


@dataclass(frozen=True)
class TierSpec:
    """One ``[[tiers]]`` entry, validated; the API key is only ever named, never read here."""

    name: str
    model: str
    provider: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    price: Mapping[str, float] | None = None
    context_window: int | None = None
    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None
    max_output_tokens: int | None = None
    fallbacks: tuple[str, ...] | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BudgetSpec:
    """One ``[budget]`` (or ``[[budget]]``) entry."""

    limit_usd: float
    period: str | None = "day"
    scope: str = "global"
    name: str = "budget"


@dataclass(frozen=True)
class Config:
    """A whole configuration file, validated."""

    source: str
    tiers: tuple[TierSpec, ...] = ()
    thresholds: tuple[float, ...] | None = None
    budgets: tuple[BudgetSpec, ...] = ()
    ledger_path: Path | None = None
    prices: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    retry: Mapping[str, float] = field(default_factory=dict)
    max_cost_per_call: float | None = None
    on_budget_exceeded: str = "downgrade"
    refusal_tier: str | None = None
    max_tokens: int | None = None

    def error(self, key: str, problem: str) -> CliError:
        """A ``CliError`` naming this file and ``key``."""
        return CliError(f"{self.source}: {key}: {problem}")


def _toml_loads(text: str) -> dict[str, Any]:
    # tomllib is in the standard library from 3.11; 3.10 needs the tomli backport.
    name = "tomllib" if sys.version_info >= (3, 11) else "tomli"
    try:
        toml = importlib.import_module(name)
    except ImportError:
        msg = "reading TOML on Python 3.10 needs the 'tomli' package: pip install tomli"
        raise CliError(msg) from None
    try:
        data: dict[str, Any] = toml.loads(text)
    except toml.TOMLDecodeError as exc:
        msg = f"invalid TOML: {exc}"
        raise ValueError(msg) from None
    return data


def load_config(path: Path) -> Config:
    """Read and validate a TOML config file.

    Relative paths inside it (``[ledger] path``) are taken relative to the file's directory,
    so a config means the same thing whatever directory the command runs from.

    Raises:
        CliError: The file is missing, not TOML, or fails validation.
    """
    text = read_text(path, "config")
    try:
        data = _toml_loads(text)
    except ValueError as exc:
        msg = f"{path.name}: {exc}"
        raise CliError(msg) from None
    return parse_config(data, source=path.name, base_dir=path.parent)


def parse_config(data: Mapping[str, Any], *, source: str, base_dir: Path | None = None) -> Config:
    """Validate an already-parsed config mapping (what :func:`load_config` reads from TOML).

    Raises:
        CliError: A key is unknown, missing, of the wrong type or out of range, or an API key
            is written in the file.
    """
    v = _Validator(source)
    v.no_inline_secrets(data, "")
    v.known(data, _TOP_KEYS, "")
    tiers = tuple(v.tier(t, f"tiers[{i}]") for i, t in enumerate(v.list_of(data, "tiers")))
    names = [t.name for t in tiers]
    _check_names(v, tiers, names, data.get("refusal_tier"))
    return Config(
        source=source,
        tiers=tiers,
        thresholds=v.thresholds(data.get("router"), len(tiers)),
        budgets=v.budgets(data.get("budget")),
        ledger_path=v.ledger(data.get("ledger"), base_dir),
        prices={k: v.price(p, f"prices.{k}") for k, p in v.table(data, "prices").items()},
        retry=v.retry(data.get("retry")),
        max_cost_per_call=v.number(data, "max_cost_per_call", "max_cost_per_call", gt=0),
        on_budget_exceeded=v.choice(
            data, "on_budget_exceeded", ("downgrade", "raise"), default="downgrade"
        ),
        refusal_tier=v.string(data, "refusal_tier", "refusal_tier"),
        max_tokens=v.integer(data, "max_tokens", "max_tokens"),
    )


def _check_names(
    v: _Validator, tiers: tuple[TierSpec, ...], names: list[str], refusal: Any
) -> None:
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name in seen:
            raise v.fail(f"tiers[{i}].name", f"duplicate tier name {name!r}")
        seen.add(name)
    for i, tier in enumerate(tiers):
        for j, other in enumerate(tier.fallbacks or ()):
            if other not in seen:
                raise v.fail(f"tiers[{i}].fallbacks[{j}]", v.unknown_tier(other, names))
    if refusal is not None and refusal not in seen:
        raise v.fail("refusal_tier", v.unknown_tier(refusal, names))


_INLINE_KEY_ADVICE = (
    "looks like an API key written in the config; keys never go in the file: set "
    'api_key_env = "OPENAI_API_KEY" (any variable name) on the tier and export that variable'
)


class _Validator:
    """Typed getters that raise ``CliError`` naming the file and the key path."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, problem: str) -> CliError:
        return CliError(f"{self.source}: {key}: {problem}")

    @staticmethod
    def unknown_tier(name: Any, names: list[str]) -> str:
        return f"unknown tier {name!r}; tiers are: {', '.join(names) or '(none)'}"

    def no_inline_secrets(self, value: Any, where: str) -> None:
        """Refuse credentials written in the file: by key name, or by a key-shaped value."""
        if isinstance(value, Mapping):
            for key, item in value.items():
                path = f"{where}.{key}" if where else str(key)
                if _SECRET_NAME.search(str(key)) and item not in (None, ""):
                    raise self.fail(path, _INLINE_KEY_ADVICE)
                self.no_inline_secrets(item, path)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                self.no_inline_secrets(item, f"{where}[{i}]")
        elif isinstance(value, str) and redact(value) != value:
            raise self.fail(where, _INLINE_KEY_ADVICE)

    def known(self, table: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
        for key in table:
            if key not in allowed:
                path = f"{where}.{key}" if where else key
                raise self.fail(path, f"unknown key; valid keys: {', '.join(sorted(allowed))}")

    def table(self, data: Mapping[str, Any], key: str, where: str = "") -> Mapping[str, Any]:
        value = data.get(key, {})
        if not isinstance(value, Mapping):
            raise self.fail(where or key, "must be a table")
        return value

    def list_of(self, data: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            raise self.fail(key, "must be an array of tables ([[tiers]])")
        return value

    def number(
        self,
        data: Mapping[str, Any],
        key: str,
        where: str,
        *,
        ge: float | None = None,
        gt: float | None = None,
        required: bool = False,
    ) -> float | None:
        value = data.get(key)
        if value is None:
            if required:
                raise self.fail(where, "is required")
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
            raise self.fail(where, f"must be a number, got {value!r}")
        if math.isinf(value):
            raise self.fail(where, f"must be a finite number, got {value!r}")
        if ge is not None and value < ge:
            raise self.fail(where, f"must be >= {ge:g}")
        if gt is not None and value <= gt:
            raise self.fail(where, f"must be > {gt:g}")
        return float(value)

    def integer(self, data: Mapping[str, Any], key: str, where: str) -> int | None:
        value = data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise self.fail(where, f"must be a positive integer, got {value!r}")
        return value

    def string(
        self, data: Mapping[str, Any], key: str, where: str, *, required: bool = False
    ) -> str | None:
        value = data.get(key)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.fail(where, "is required" if value is None else "must be a non-empty string")
        return value

    def choice(
        self, data: Mapping[str, Any], key: str, options: tuple[str | None, ...], default: Any
    ) -> Any:
        value = data.get(key, default)
        if value not in options:
            shown = ", ".join(repr(o) for o in options if o is not None)
            raise self.fail(key, f"must be one of {shown}, got {value!r}")
        return value

    def price(self, value: Any, where: str) -> Mapping[str, float]:
        if not isinstance(value, Mapping):
            raise self.fail(where, "must be a table {input_per_mtok = ..., output_per_mtok = ...}")
        self.known(value, frozenset(_PRICE_KEYS), where)
        out: dict[str, float] = {}
        for key in _PRICE_KEYS:
            required = key in ("input_per_mtok", "output_per_mtok")
            number = self.number(value, key, f"{where}.{key}", ge=0, required=required)
            if number is not None:
                out[key] = number
        return out

    def tier(self, data: Mapping[str, Any], where: str) -> TierSpec:
        self.known(data, _TIER_KEYS, where)
        fallbacks = data.get("fallbacks")
        if fallbacks is not None and not (
            isinstance(fallbacks, list) and all(isinstance(f, str) for f in fallbacks)
        ):
            raise self.fail(f"{where}.fallbacks", "must be a list of tier names")
        price = data.get("price")
        return TierSpec(
            name=str(self.string(data, "name", f"{where}.name", required=True)),
            model=str(self.string(data, "model", f"{where}.model", required=True)),
            provider=self.string(data, "provider", f"{where}.provider"),
            base_url=self.string(data, "base_url", f"{where}.base_url"),
            api_key_env=self.string(data, "api_key_env", f"{where}.api_key_env"),
            price=None if price is None else self.price(price, f"{where}.price"),
            context_window=self.integer(data, "context_window", f"{where}.context_window"),
            requests_per_minute=self.number(
                data, "requests_per_minute", f"{where}.requests_per_minute", gt=0
            ),
            tokens_per_minute=self.number(
                data, "tokens_per_minute", f"{where}.tokens_per_minute", gt=0
            ),
            max_output_tokens=self.integer(data, "max_output_tokens", f"{where}.max_output_tokens"),
            fallbacks=None if fallbacks is None else tuple(fallbacks),
            options=dict(self.table(data, "options", f"{where}.options")),
        )

    def thresholds(self, router: Any, n_tiers: int) -> tuple[float, ...] | None:
        if router is None:
            return None
        if not isinstance(router, Mapping):
            raise self.fail("router", "must be a table")
        self.known(router, frozenset({"thresholds"}), "router")
        raw = router.get("thresholds")
        if raw is None:
            return None
        if not isinstance(raw, list):
            raise self.fail("router.thresholds", "must be a list of numbers")
        cuts = tuple(
            float(self.number({"t": t}, "t", f"router.thresholds[{i}]", ge=0) or 0.0)
            for i, t in enumerate(raw)
        )
        if any(c > 1 for c in cuts) or any(a <= b for a, b in itertools.pairwise(cuts)):
            raise self.fail("router.thresholds", "must be strictly descending values in [0, 1]")
        if n_tiers and len(cuts) != n_tiers - 1:
            problem = f"needs {n_tiers - 1} values (one per tier boundary), got {len(cuts)}"
            raise self.fail("router.thresholds", problem)
        return cuts

    def budgets(self, raw: Any) -> tuple[BudgetSpec, ...]:
        if raw is None:
            return ()
        entries = [raw] if isinstance(raw, Mapping) else raw
        if not isinstance(entries, list) or not all(isinstance(e, Mapping) for e in entries):
            raise self.fail("budget", "must be a table ([budget]) or an array of tables")
        return tuple(
            self._budget(
                e, "budget" if len(entries) == 1 and isinstance(raw, Mapping) else f"budget[{i}]"
            )
            for i, e in enumerate(entries)
        )

    def _budget(self, data: Mapping[str, Any], where: str) -> BudgetSpec:
        self.known(data, _BUDGET_KEYS, where)
        limit = self.number(data, "limit_usd", f"{where}.limit_usd", ge=0, required=True)
        period = data.get("period", "day")
        if period not in ("day", "month", "none"):
            raise self.fail(f"{where}.period", f"must be 'day', 'month' or 'none', got {period!r}")
        scope = data.get("scope", "global")
        if scope not in ("global", "budget_key"):
            raise self.fail(f"{where}.scope", f"must be 'global' or 'budget_key', got {scope!r}")
        name = self.string(data, "name", f"{where}.name") or "budget"
        return BudgetSpec(float(limit or 0.0), None if period == "none" else period, scope, name)

    def ledger(self, raw: Any, base_dir: Path | None) -> Path | None:
        if raw is None:
            return None
        if not isinstance(raw, Mapping):
            raise self.fail("ledger", "must be a table with a 'path'")
        self.known(raw, frozenset({"path"}), "ledger")
        path = Path(str(self.string(raw, "path", "ledger.path", required=True)))
        return path if path.is_absolute() or base_dir is None else base_dir / path

    def retry(self, raw: Any) -> Mapping[str, float]:
        if raw is None:
            return {}
        if not isinstance(raw, Mapping):
            raise self.fail("retry", "must be a table")
        self.known(raw, _RETRY_KEYS, "retry")
        out = {k: self.number(raw, k, f"retry.{k}", ge=0) for k in _RETRY_KEYS}
        if out.get("max_attempts") is not None and (out["max_attempts"] or 0) < 1:
            raise self.fail("retry.max_attempts", "must be >= 1")
        return {k: val for k, val in out.items() if val is not None}
