"""Budgets: how much may be spent, over which period, and by whom.

A :class:`Budget` is a policy value. It turns a call's metadata and the current time into a
ledger key (one key per period and, for per-user budgets, per ``budget_key``); the ledger
does the counting. Several budgets may apply to one call (say, $100 a month overall and
$1 a day per user); a call is admitted only if it fits under all of them, which is why they
must share one ledger (see :func:`shared_ledger`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from langchain_tiered.ledger import InMemoryLedger, Ledger
from langchain_tiered.ledger.base import as_utc

__all__ = ["Budget", "budget_limits", "shared_ledger"]

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
    the root LangChain run, or ``config["metadata"]["tiered_run"]``); ``period`` is ignored."""

    ledger: Ledger = Field(default_factory=InMemoryLedger)
    """Where spend is reserved and settled. Budgets applied together must share one."""

    name: str = Field(default="budget", min_length=1)
    """Prefix of this budget's ledger keys; give budgets sharing a ledger distinct names."""

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
        if self.period == "day":
            return f"day:{now:%Y-%m-%d}"
        if self.period == "month":
            return f"month:{now:%Y-%m}"
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
