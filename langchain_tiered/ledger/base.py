"""The ledger contract: reservations, settled spend records and the :class:`Ledger` protocol.

A ledger admits a call by *reserving* its worst-case cost against one or more budget keys,
atomically and all-or-nothing, then *settles* the reservation with the real cost (or
*releases* it if the call never happened). Because admission happens before the call and
counts every in-flight reservation, concurrent callers can never push a budget past its limit.

Amounts are kept internally as integer nano-dollars: float sums drift, and a drift of one
ulp is enough to admit a call that the limit should have refused. Reservations round up,
settled actuals round to nearest and limits round down, so every rounding is conservative.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from typing import Any, Protocol, runtime_checkable

from langchain_tiered._redact import redact
from langchain_tiered.errors import BudgetExceededError, TieredError

# The unit helpers live in ._amounts; every ledger imports them from here.
from langchain_tiered.ledger._amounts import (
    actual_nanos,
    as_utc,
    expiry,
    limit_nanos,
    reserve_nanos,
    to_usd,
    wall_seconds,
)

__all__ = [
    "EXPIRED_GRACE_SECONDS",
    "Feedback",
    "FeedbackStore",
    "Ledger",
    "LedgerError",
    "LedgerReadOnlyError",
    "LedgerWriteWarning",
    "NotALedgerError",
    "Reservation",
    "SpendRecord",
    "actual_nanos",
    "as_utc",
    "expiry",
    "limit_nanos",
    "reserve_nanos",
    "to_usd",
    "wall_seconds",
]

# An expired reservation stops holding room at once, but is remembered this long so a
# holder that was merely slow (not crashed) can still settle and have its real cost counted.
EXPIRED_GRACE_SECONDS = 86_400.0


class LedgerError(TieredError):
    """A ledger store cannot be used as asked (see the subclasses)."""


class NotALedgerError(LedgerError, ValueError):
    """The file or database is not a langchain-tiered ledger (or is missing, or too new).

    Raised by read-only opens instead of touching a foreign file, and by write opens instead of
    adding ledger tables to another application's database.
    """


class LedgerReadOnlyError(LedgerError):
    """A write (reserve, settle, release, record) was attempted on a ledger opened read-only."""


class LedgerWriteWarning(RuntimeWarning):
    """A settlement could not be written to the ledger store and was journaled locally.

    The paid answer is kept; the spend is written when the store accepts writes again.
    """


@dataclass(frozen=True, init=False)
class Reservation:
    """Room held in a ledger for one in-flight call.

    Attributes:
        id: Unique id of the reservation; settling or releasing it twice is a no-op.
        limits: Budget key -> limit in USD that was checked when the room was reserved.
        amount_usd: The reserved (worst-case) amount in USD.
        expires_at: Epoch seconds (wall clock) after which the room is freed for others,
            so a crashed holder cannot block a budget forever.
    """

    id: str
    limits: Mapping[str, float] = field(hash=False)
    amount_usd: float
    expires_at: float

    # One __dict__ update instead of the generated object.__setattr__ per field (see
    # SpendRecord): a reservation is made on every budgeted call.
    def __init__(
        self, id: str, limits: Mapping[str, float], amount_usd: float, expires_at: float
    ) -> None:
        self.__dict__.update(id=id, limits=limits, amount_usd=amount_usd, expires_at=expires_at)


@dataclass(frozen=True, init=False)
class SpendRecord:
    """One settled (or merely recorded) call, as read back by reports.

    Attributes:
        time: When the call was settled, timezone-aware UTC (naive values are taken as UTC).
        tier: Name of the tier that answered.
        model: Model name of that tier.
        input_tokens: Prompt tokens billed.
        output_tokens: Completion tokens billed.
        cached_tokens: Prompt tokens served from the provider's cache.
        reasoning_tokens: Output tokens spent on reasoning.
        cost_usd: The actual cost in USD.
        estimated_cost_usd: The pre-flight worst-case estimate in USD.
        baseline_cost_usd: What the same usage would have cost on the top tier, if known.
        budget_keys: The ledger keys the cost was committed to.
        fallback: Whether a fallback tier answered.
        cached_response: Whether the answer came from a response cache (no provider call).
        run_id: The LangChain run id, if any.
        error: Why the call's outcome is unknown or failed (the attempt's error, credentials
            masked), if it did; ``None`` for an ordinary answer.
        cost_is_estimate: Whether ``cost_usd`` is an estimate (usage missing, or an unknown
            outcome charged at its reserved worst case) rather than the provider's own count.
    """

    time: datetime
    tier: str
    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float = 0.0
    estimated_cost_usd: float = 0.0
    baseline_cost_usd: float | None = None
    budget_keys: tuple[str, ...] = ()
    fallback: bool = False
    cached_response: bool = False
    run_id: str | None = None
    error: str | None = None
    cost_is_estimate: bool = False

    # Written out rather than generated: a frozen dataclass's own __init__ assigns each of
    # the 16 fields through object.__setattr__, which made building the record (once per
    # settled call) cost ~8 us; one __dict__ update costs ~1.5 us. A test pins this
    # signature to the fields (names, order, defaults), so the two cannot drift apart.
    def __init__(  # noqa: PLR0917 - one parameter per field, as the dataclass had
        self,
        time: datetime,
        tier: str,
        model: str,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cached_tokens: int = 0,
        reasoning_tokens: int = 0,
        cost_usd: float = 0.0,
        estimated_cost_usd: float = 0.0,
        baseline_cost_usd: float | None = None,
        budget_keys: tuple[str, ...] = (),
        fallback: bool = False,
        cached_response: bool = False,
        run_id: str | None = None,
        error: str | None = None,
        cost_is_estimate: bool = False,
    ) -> None:
        self.__dict__.update(
            # Normalised once here so every ledger stores and compares the same instant.
            time=as_utc(time),
            tier=tier,
            model=model,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cached_tokens=cached_tokens,
            reasoning_tokens=reasoning_tokens,
            cost_usd=cost_usd,
            estimated_cost_usd=estimated_cost_usd,
            baseline_cost_usd=baseline_cost_usd,
            budget_keys=tuple(budget_keys),
            fallback=fallback,
            cached_response=cached_response,
            run_id=run_id,
            # Provider error text can echo the API key; no ledger may store it.
            error=None if error is None else redact(error),
            cost_is_estimate=cost_is_estimate,
        )

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict (``time`` as ISO 8601, ``budget_keys`` as a list)."""
        data = asdict(self)
        data["time"] = self.time.isoformat()
        data["budget_keys"] = list(self.budget_keys)
        return data

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SpendRecord:
        """Build a record from :meth:`to_dict` output; unknown keys are ignored.

        Args:
            d: A mapping with at least ``time``, ``tier`` and ``model``.

        Returns:
            The record.
        """
        known = {f.name for f in fields(cls)}
        data = {k: v for k, v in d.items() if k in known}
        if isinstance(data.get("time"), str):
            data["time"] = datetime.fromisoformat(data["time"])
        data["budget_keys"] = tuple(data.get("budget_keys") or ())
        return cls(**data)


@runtime_checkable
class Ledger(Protocol):
    """Where budgets are reserved, settled and recorded.

    Implementations must make :meth:`reserve` atomic across every key it is given, and
    :meth:`settle`/:meth:`release` idempotent.
    """

    def reserve(
        self,
        limits: Mapping[str, float],
        amount_usd: float,
        *,
        ttl_seconds: float = 600.0,
        tier: str | None = None,
    ) -> Reservation:
        """Hold ``amount_usd`` against every key in ``limits``, or nothing at all.

        Args:
            limits: Budget key -> limit in USD. Empty means "record only".
            amount_usd: Worst-case cost of the call.
            ttl_seconds: After this long the room is freed even if never settled.
            tier: Tier name, reported in the error on refusal.

        Returns:
            The reservation to settle or release.

        Raises:
            BudgetExceededError: A key has less room left than ``amount_usd``.
        """
        ...

    def settle(
        self, reservation: Reservation, actual_usd: float, record: SpendRecord | None = None
    ) -> None:
        """Drop the reservation, commit ``actual_usd`` to each of its keys, append ``record``."""
        ...

    def release(self, reservation: Reservation) -> None:
        """Drop the reservation without committing anything."""
        ...

    def record(self, record: SpendRecord) -> None:
        """Append a history row that involves no budget key."""
        ...

    def spent(self, key: str) -> float:
        """Committed spend under ``key`` in USD."""
        ...

    def reserved(self, key: str) -> float:
        """Room currently held by unexpired reservations under ``key`` in USD."""
        ...

    def records(self, since: datetime | None = None) -> list[SpendRecord]:
        """Spend records in insertion order, optionally only those at or after ``since``."""
        ...

    async def areserve(
        self,
        limits: Mapping[str, float],
        amount_usd: float,
        *,
        ttl_seconds: float = 600.0,
        tier: str | None = None,
    ) -> Reservation:
        """Async twin of :meth:`reserve`."""
        ...

    async def asettle(
        self, reservation: Reservation, actual_usd: float, record: SpendRecord | None = None
    ) -> None:
        """Async twin of :meth:`settle`."""
        ...

    async def arelease(self, reservation: Reservation) -> None:
        """Async twin of :meth:`release`."""
        ...

    async def arecord(self, record: SpendRecord) -> None:
        """Async twin of :meth:`record`."""
        ...


@dataclass(frozen=True)
class Feedback:
    """An outcome attached to a past call (for training routers, issue 14).

    Attributes:
        run_id: The call's LangChain run id (``SpendRecord.run_id``).
        score: How good the answer was, e.g. 0/1 or a judge grade in ``[0, 1]``.
        prompt: The request text, if the caller chose to keep it (ledgers store no prompts
            otherwise).
        time: When the feedback was recorded (UTC).
    """

    run_id: str
    score: float
    prompt: str | None = None
    time: datetime = field(default_factory=lambda: datetime.now(timezone.utc))


@runtime_checkable
class FeedbackStore(Protocol):
    """A ledger that keeps outcomes per run id next to its spend records (one per run id)."""

    def record_feedback(self, run_id: str, score: float, *, prompt: str | None = None) -> None:
        """Attach ``score`` (and optionally the prompt) to the call ``run_id``; last one wins."""
        ...

    def feedback(self) -> list[Feedback]:
        """Every recorded outcome, oldest first."""
        ...


def refusal(
    key: str, *, limit_usd: float, amount_usd: float, committed: int, held: int, tier: str | None
) -> BudgetExceededError:
    """Build the error for a reservation that does not fit under ``key``'s limit.

    ``committed`` and ``held`` are nano-dollars; the USD amounts are the caller's own values.
    """
    remaining = limit_usd - to_usd(committed + held)
    where = f" on tier {tier!r}" if tier else ""
    message = (
        f"Budget {key!r} cannot hold this call{where}: its worst case is ${amount_usd:.6f} "
        f"but only ${max(remaining, 0.0):.6f} of ${limit_usd:.6f} is left "
        f"(${to_usd(committed):.6f} spent, ${to_usd(held):.6f} reserved by calls in flight). "
        "Raise the budget's limit_usd, lower max_tokens, route to a cheaper tier, "
        "or wait for the period to roll over."
    )
    return BudgetExceededError(
        message,
        estimated_cost_usd=amount_usd,
        limit_usd=limit_usd,
        tier=tier,
        scope=key,
        remaining_usd=remaining,
    )
