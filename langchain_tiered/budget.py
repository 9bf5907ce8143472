"""Budgets: how much may be spent, over which period, and by whom.

A :class:`Budget` is a policy value. It turns a call's metadata and the current time into a
ledger key (one key per period and, for per-user budgets, per ``budget_key``); the ledger
does the counting. Several budgets may apply to one call (say, $100 a month overall and
$1 a day per user); a call is admitted only if it fits under all of them, which is why they
must share one ledger (see :func:`shared_ledger`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from typing_extensions import Self

from langchain_tiered.errors import BudgetKeyRequiredError
from langchain_tiered.ledger import InMemoryLedger, Ledger
from langchain_tiered.ledger.base import as_utc

__all__ = ["Budget", "BudgetKeyWarning", "budget_limits", "shared_ledger", "shortfall"]

_RESERVED_WHO = frozenset({"global", "run"})  # key parts the other scopes use


class BudgetKeyWarning(UserWarning):
    """A per-``budget_key`` budget saw a call without a key (warned once per budget)."""


_WARNED: set[int] = set()  # ids of budgets that warned about a missing key

_LIFETIME = "all"


class Budget(BaseModel):
    """A spending limit in USD, enforced by reserving each call's worst case in a ledger.

    Example:
        .. code-block:: python

            ledger = SQLiteLedger("spend.db")
            budgets = [
                Budget(limit_usd=100.0, period="month", ledger=ledger),
                Budget(limit_usd=1.0, period="day", scope="budget_key", name="user",
                       ledger=ledger),
            ]
            # config={"metadata": {"budget_key": "user-42"}} then counts against both.
    """

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    limit_usd: float = Field(ge=0, allow_inf_nan=False)
    """Most that may be spent (settled plus reserved) per period, in USD."""

    period: Literal["day", "month"] | None = None
    """When the spend resets, at UTC boundaries; ``None`` means never (a lifetime budget)."""

    scope: Literal["global", "budget_key", "run"] = "global"
    """``"global"``: one budget for every call. ``"budget_key"``: one budget per value of
    ``config["metadata"]["budget_key"]`` (e.g. per user); calls without that key are not
    limited by this budget. ``"run"``: one budget per top-level invocation (an agent run:
    the root LangChain run, or ``config["metadata"]["tiered_run"]``); it has no ``period``
    (one is refused at construction)."""

    ledger: Ledger = Field(default_factory=InMemoryLedger)
    """Where spend is reserved and settled. Budgets applied together must share one."""

    name: str = Field(default="budget", min_length=1)
    """Prefix of this budget's ledger keys; give budgets sharing a ledger distinct names."""

    require_key: bool = False
    """``scope="budget_key"`` only: refuse a call without a ``budget_key`` in its metadata
    (``BudgetKeyRequiredError``) instead of letting it through unlimited (with a warning)."""

    alert_at: tuple[float, ...] = Field(default=(0.5, 0.8, 1.0))
    """Fractions of ``limit_usd`` whose crossing raises a budget alert (once per period and
    key); ``()`` for none. See :mod:`langchain_tiered.alerts`."""

    on_alert: Callable[[Any], None] | None = Field(default=None, exclude=True)
    """Called with each :class:`~langchain_tiered.alerts.BudgetAlert` (in the caller's
    thread, after the call settled); the ``tiered.budget_alert`` event goes to callbacks."""

    @model_validator(mode="after")
    def _run_has_no_period(self) -> Self:
        if self.scope == "run" and self.period is not None:
            msg = (
                f"Budget(scope='run', period={self.period!r}): a run budget has no period - it "
                "bounds one top-level invocation (an agent run) and ends with it; drop period=, "
                "or add a second Budget(scope='global' or 'budget_key', period=...) for a "
                "per-day/month limit"
            )
            raise ValueError(msg)
        return self

    def key(self, metadata: Mapping[str, Any] | None, now: datetime) -> str | None:
        """The ledger key this budget charges a call to.

        Keys look like ``"budget:global:day:2026-11-28"``, ``"budget:user-42:month:2026-11"``
        or ``"budget:global:all"`` (no period). Days roll over at 00:00 UTC and months on
        the 1st at 00:00 UTC.

        Args:
            metadata: The call's ``config["metadata"]``, if any.
            now: The current time (naive values are taken as UTC).

        Returns:
            The key, or ``None`` when ``scope="budget_key"`` and the metadata carries no
            (or an empty) ``budget_key``: this budget then does not apply to the call.
        """
        if self.scope == "global":
            who = "global"
        elif self.scope == "run":
            run = (metadata or {}).get("tiered_run")
            return None if run is None or run == "" else f"{self.name}:run:{run}"
        else:
            value = (metadata or {}).get("budget_key")
            if value is None or value == "":
                return None
            who = str(value)
            if who in _RESERVED_WHO:
                # A user literally named "global" or "run" must not share the global budget's
                # (or a run budget's) ledger key when both budgets keep the default name.
                who = f"key={who}"
        return f"{self.name}:{who}:{self._period_part(as_utc(now))}"

    def remaining(self, metadata: Mapping[str, Any] | None, now: datetime) -> float | None:
        """USD left in the current period: limit minus settled minus reserved spend.

        Args:
            metadata: The call's ``config["metadata"]``, if any.
            now: The current time.

        Returns:
            The room left (negative if late settlements overshot), or ``None`` when the
            budget does not apply to the call (see :meth:`key`).
        """
        key = self.key(metadata, now)
        if key is None:
            return None
        return self.limit_usd - self.ledger.spent(key) - self.ledger.reserved(key)

    def _period_part(self, now: datetime) -> str:
        # Formatted field by field: f"{now:%Y-%m-%d}" goes through strftime, which cost
        # ~7 us of every budgeted call. Same text for years 1000-9999.
        if self.period == "day":
            return f"day:{now.year}-{now.month:02d}-{now.day:02d}"
        if self.period == "month":
            return f"month:{now.year}-{now.month:02d}"
        return _LIFETIME


def budget_limits(
    budgets: Sequence[Budget], metadata: Mapping[str, Any] | None, now: datetime
) -> dict[str, float]:
    """Ledger keys and limits of the budgets that apply to a call, ready for ``reserve``.

    Args:
        budgets: The budgets configured on the model.
        metadata: The call's ``config["metadata"]``, if any.
        now: The current time.

    Returns:
        Ledger key -> limit in USD; budgets that do not apply to the call are left out.

    Raises:
        ValueError: Two budgets map the call to the same ledger key (they would silently
            share one pot of money).
    """
    limits: dict[str, float] = {}
    for budget in budgets:
        key = budget.key(metadata, now)
        if key is None:
            if budget.scope == "budget_key":
                _missing_key(budget)
            continue
        if key in limits:
            msg = (
                f"Two budgets charge this call to the same ledger key {key!r}; give each "
                "Budget a distinct name= (or a different period/scope) so they count "
                "separately."
            )
            raise ValueError(msg)
        limits[key] = budget.limit_usd
    return limits


def _usd(amount: float) -> str:
    return f"${amount:.4f}" if abs(amount) >= 0.001 else f"${amount:.6f}"  # noqa: PLR2004


def shortfall(
    what: str,
    needed_usd: float,
    left_usd: float,
    limit_usd: float,
    *,
    capping: bool,
    min_output_tokens: int,
    left_label: str = "left",
) -> str:
    """Why a tier was skipped for money: what it needed, what was left, and what to change.

    A worst case above the whole limit can never fit, however little was spent: that
    suggests ``cap_output_to_budget`` (or a lower ``max_tokens``), or says capping already
    hit its floor.

    Args:
        what: The limit, e.g. ``"budget 'user:u1:day:2026-11-30'"`` or ``"max_cost_per_call"``.
        needed_usd: The tier's worst-case cost.
        left_usd: Room left under the limit.
        limit_usd: The limit itself.
        capping: Whether ``cap_output_to_budget`` is on.
        min_output_tokens: Its floor.
        left_label: How to call the room (``"allowed"`` for a per-call cap).
    """
    text = f"{what}: needs {_usd(needed_usd)} worst case, {_usd(left_usd)} {left_label}"
    if needed_usd <= limit_usd:
        return text
    if capping:
        return f"{text}; does not fit {_usd(limit_usd)} even at {min_output_tokens} output tokens"
    return (
        f"{text}; can never fit the {_usd(limit_usd)} limit: set cap_output_to_budget=True "
        "or lower max_tokens"
    )


def _missing_key(budget: Budget) -> None:
    """A per-key budget met a call without a key: refuse it, or warn once that it is free."""
    if budget.require_key:
        msg = (
            f"Budget {budget.name!r} (scope='budget_key', require_key=True) refuses a call "
            "without a key: pass config={'metadata': {'budget_key': ...}}"
        )
        raise BudgetKeyRequiredError(msg)
    if id(budget) in _WARNED:
        return
    _WARNED.add(id(budget))
    msg = (
        f"Budget {budget.name!r} (scope='budget_key') does not limit calls without "
        "config['metadata']['budget_key']; pass a key, or set require_key=True to refuse them"
    )
    warnings.warn(msg, BudgetKeyWarning, stacklevel=2)


def shared_ledger(budgets: Sequence[Budget]) -> Ledger | None:
    """The one ledger every budget uses, or ``None`` when there are no budgets.

    A call is reserved against all of its budgets in one all-or-nothing step, which only
    one ledger can do atomically.

    Args:
        budgets: The budgets configured on the model.

    Returns:
        The shared ledger, or ``None`` for no budgets.

    Raises:
        ValueError: The budgets use different ledger objects.
    """
    if not budgets:
        return None
    ledger = budgets[0].ledger
    others = [b.name for b in budgets[1:] if b.ledger is not ledger]
    if others:
        msg = (
            f"Budgets {[budgets[0].name, *others]} use different ledgers, but a call is "
            "reserved against all its budgets atomically, which needs one ledger. Create one "
            "ledger (e.g. ledger = InMemoryLedger() or SQLiteLedger('spend.db')) and pass "
            "ledger=ledger to every Budget."
        )
        raise ValueError(msg)
    return ledger
