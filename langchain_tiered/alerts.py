"""Budget alerts: a budget crossing 50 %, 80 %, 100 % of its limit, told once per period.

After a call settles, each budget it was charged to is compared with its ``alert_at``
fractions (``Budget(alert_at=(0.5, 0.8, 1.0))`` by default). A fraction crossed by this
call's spend fires one :class:`BudgetAlert`, once per ledger key (a key names the period,
so a new day or month alerts afresh) and per process: to ``Budget.on_alert`` if set, and
as the LangChain custom event ``tiered.budget_alert`` to the call's callback handlers.
Nothing is read from the ledger unless someone listens.

Example:
    ```python
    def to_slack(alert: BudgetAlert) -> None:
        post(f"{alert.budget} at {alert.fraction:.0%}: ${alert.spent_usd:.2f} "
             f"of ${alert.limit_usd:.2f} ({alert.period})")

    Budget(limit_usd=50, period="month", on_alert=to_slack)
    ```
"""

from __future__ import annotations

import threading
import warnings
from collections import OrderedDict
from collections.abc import Generator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from langchain_tiered._call.actions import Action, Emit

if TYPE_CHECKING:
    from langchain_tiered.budget import Budget

__all__ = ["BudgetAlert", "alerts_after_settle", "crossed", "note_charge"]

_REMEMBERED_KEYS = 10_000  # keys whose fired fractions are kept; oldest forgotten first


@dataclass(frozen=True)
class BudgetAlert:
    """A budget crossed one of its alert fractions.

    Attributes:
        budget: The budget's ``name``.
        key: The ledger key (budget, who, period), e.g. ``"user:user-42:day:2026-11-30"``.
        budget_key: The call's ``budget_key`` for a per-key budget, else ``None``.
        period: ``"day"``, ``"month"`` or ``None`` (a lifetime or per-run budget).
        fraction: The fraction crossed (``0.8`` for 80 %).
        spent_usd: Spend settled under the key after the call that crossed it.
        limit_usd: The budget's limit.
    """

    budget: str
    key: str
    budget_key: str | None
    period: str | None
    fraction: float
    spent_usd: float
    limit_usd: float

    def to_dict(self) -> dict[str, Any]:
        """The alert as plain JSON types (the ``tiered.budget_alert`` event's data)."""
        return asdict(self)


def crossed(before: float, after: float, limit: float, fractions: Sequence[float]) -> list[float]:
    """Fractions of ``limit`` that spend passed going from ``before`` to ``after`` (pure)."""
    if limit <= 0:
        return [f for f in fractions if before <= 0 < after]
    return [f for f in sorted(fractions) if before < f * limit <= after]


class _Fired:
    """Which fractions already fired per ledger key (bounded, thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: OrderedDict[str, set[float]] = OrderedDict()

    def first_time(self, key: str, fraction: float) -> bool:
        with self._lock:
            seen = self._keys.setdefault(key, set())
            self._keys.move_to_end(key)
            if len(self._keys) > _REMEMBERED_KEYS:
                self._keys.popitem(last=False)
            if fraction in seen:
                return False
            seen.add(fraction)
            return True


_FIRED: dict[int, _Fired] = {}
_FIRED_LOCK = threading.Lock()


def _fired(budget: Budget) -> _Fired:
    with _FIRED_LOCK:  # per budget object: its name, limit and fractions are fixed
        return _FIRED.setdefault(id(budget), _Fired())


# This process's charges per ledger key (a running total), and where the current call's own
# charge started in it: spend another call of this process settled between this call's
# charge and its alert check is already in the ledger's total when this call reads it.
_CHARGED: OrderedDict[str, float] = OrderedDict()
_CHARGED_LOCK = threading.Lock()
_MARKS: ContextVar[tuple[Mapping[str, float], float]] = ContextVar("tiered_alert_marks")


def note_charge(keys: Sequence[str], cost_usd: float) -> None:
    """Note a charge about to be settled on ``keys`` (called before the ledger write)."""
    marks: dict[str, float] = {}
    with _CHARGED_LOCK:
        for key in keys:
            marks[key] = _CHARGED.get(key, 0.0)
            _CHARGED[key] = marks[key] + cost_usd
            _CHARGED.move_to_end(key)
        while len(_CHARGED) > _REMEMBERED_KEYS:
            _CHARGED.popitem(last=False)
    _MARKS.set((marks, cost_usd))


def _spent_before(key: str, after: float, cost_usd: float) -> float:
    """Spend on ``key`` before this call's charges (``cost_usd``), given ``after`` read since.

    Charges this process made after this call's own (another thread or task settled in
    between) are taken off too; without that, a fraction crossed by this charge would fall
    outside every call's window and never fire.
    """
    marks, noted = _MARKS.get(({}, 0.0))
    mark = marks.get(key)
    if mark is None or noted > cost_usd:  # not this call's last charge
        return after - cost_usd
    with _CHARGED_LOCK:
        later = _CHARGED.get(key, mark + noted) - mark - noted
    return after - cost_usd - max(0.0, later)


def alerts_after_settle(
    budgets: Sequence[Budget],
    budget_keys: Sequence[str],
    metadata: Mapping[str, Any],
    now: datetime,
    cost_usd: float,
    *,
    listening: bool,
) -> Generator[Action, Any, list[BudgetAlert]]:
    """Check the budgets a settled call was charged to; emit and hand out new alerts.

    ``listening``: whether the call has callback handlers (the event is then emitted).
    Budgets with no ``on_alert`` are only read when someone listens.
    """
    alerts: list[BudgetAlert] = []
    if cost_usd <= 0 or not budget_keys:
        return alerts
    charged = set(budget_keys)
    for budget in budgets:
        if not budget.alert_at or not (listening or budget.on_alert is not None):
            continue
        key = budget.key(metadata, now)
        if key is None or key not in charged:
            continue
        try:
            after = budget.ledger.spent(key)
        except Exception as exc:  # the call was paid: its answer must still reach the caller
            _alert_failed(budget, "reading the spend", exc)
            continue
        before = _spent_before(key, after, cost_usd)
        for fraction in crossed(before, after, budget.limit_usd, budget.alert_at):
            if not _fired(budget).first_time(key, fraction):
                continue
            who = metadata.get("budget_key") if budget.scope == "budget_key" else None
            alert = BudgetAlert(
                budget=budget.name,
                key=key,
                budget_key=None if who is None else str(who),
                period=budget.period if budget.scope != "run" else None,
                fraction=fraction,
                spent_usd=after,
                limit_usd=budget.limit_usd,
            )
            alerts.append(alert)
            if budget.on_alert is not None:
                try:
                    budget.on_alert(alert)
                except Exception as exc:
                    _alert_failed(budget, "its on_alert callback", exc)
            yield Emit("tiered.budget_alert", alert.to_dict())
    return alerts


def _alert_failed(budget: Budget, step: str, exc: Exception) -> None:
    """Warn that a budget alert check failed after the call was settled (the answer is kept).

    Only the error's type is shown: a ledger's error text may carry its connection URL.
    """
    warnings.warn(
        f"budget alert of {budget.name!r} failed in {step} ({type(exc).__name__}); the call "
        "was settled and its answer is returned. Fix the ledger or the on_alert callback.",
        RuntimeWarning,
        stacklevel=2,
    )
