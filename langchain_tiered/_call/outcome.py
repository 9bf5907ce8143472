"""Money that must not get lost: spend records, unknown outcomes, and ledger failures.

* A request that failed *after it was sent* (client timeout, dropped connection, truncated
  body, stream cut) may still be billed by the provider. With ``unknown_outcome="charge"``
  (the default) its reserved worst case is charged at once, marked as an estimate, with a
  spend record carrying the attempt's error; ``"release"`` frees it instead.
* A ledger that fails while the engine records money already spent (settle, record) must
  not cost the caller the paid answer: the failure is warned about once per model and
  reported in the metadata, and the call goes on. The reservation it could not settle
  stays held until it expires, so the budget errs on the safe side meanwhile.
"""

from __future__ import annotations

import warnings
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from langchain_tiered._call.actions import Action, Emit, Record, Settle
from langchain_tiered._redact import redact
from langchain_tiered.alerts import note_charge
from langchain_tiered.fallbacks import ErrorCause
from langchain_tiered.ledger import LedgerWriteWarning, SpendRecord

if TYPE_CHECKING:
    from datetime import datetime

    from langchain_tiered._call.records import Attempt
    from langchain_tiered._call.state import Runtime
    from langchain_tiered.fallbacks import ErrorInfo
    from langchain_tiered.ledger import Reservation
    from langchain_tiered.preflight import Preflight, TierProfile

__all__ = ["Hold", "charge_unknown", "commit", "ledger_failed", "outcome_unknown", "spend_record"]

# Failures that leave it open whether the provider ran (and billed) the request: nothing
# came back, or the answer was cut. An HTTP error status is a known outcome (not billed).
_UNKNOWN_CAUSES = frozenset({ErrorCause.TIMEOUT, ErrorCause.CONNECTION})


def outcome_unknown(info: ErrorInfo) -> bool:
    """Whether a failed request may have been billed anyway (it was sent, no verdict came)."""
    return info.cause in _UNKNOWN_CAUSES


@dataclass
class Hold:
    """The reservation a tier's attempts run under (``None`` once settled or never taken)."""

    reservation: Reservation | None


def spend_record(
    rt: Runtime,
    profile: TierProfile,
    pre: Preflight,
    *,
    tokens: Mapping[str, int],
    cost: float,
    budget_keys: tuple[str, ...],
    fallback: bool,
    run_id: str | None,
    baseline: float | None = None,
    estimate: bool = False,
    error: str | None = None,
    at: datetime | None = None,
) -> SpendRecord:
    """The ledger row of one charge (an answer, or an unknown outcome), made ``at`` (now)."""
    return SpendRecord(
        time=rt.clock.now() if at is None else at,
        tier=profile.name,
        model=profile.model_name or "",
        input_tokens=tokens.get("input_tokens", 0),
        output_tokens=tokens.get("output_tokens", 0),
        cached_tokens=tokens.get("cached_tokens", 0),
        reasoning_tokens=tokens.get("reasoning_tokens", 0),
        cost_usd=cost,
        estimated_cost_usd=pre.worst_case_usd,
        baseline_cost_usd=baseline,
        budget_keys=budget_keys,
        fallback=fallback,
        run_id=run_id,
        error=error,
        cost_is_estimate=estimate,
    )


def commit(
    rt: Runtime, reservation: Reservation | None, cost: float, record: SpendRecord
) -> Generator[Action, Any, str | None]:
    """Settle ``reservation`` (or just record, without one); never raise a ledger failure.

    Returns:
        ``None``, or the (masked) ledger error when the write failed.
    """
    note_charge(record.budget_keys, cost)  # for the budget alerts checked after this
    try:
        if reservation is not None:
            yield Settle(reservation, cost, record)
        elif rt.ledger is not None:
            yield Record(record)
    except Exception as exc:
        return ledger_failed(rt, exc)
    return None


def ledger_failed(rt: Runtime, exc: Exception) -> str:
    """Warn (once per model) that the ledger failed; return the masked error text."""
    text = redact(f"{type(exc).__name__}: {exc}", rt.secrets)
    if not rt.ledger_warned:
        rt.ledger_warned = True
        warnings.warn(
            f"the ledger failed to record spend that was already paid ({text}); the answer "
            "is returned and response_metadata['tiered']['ledger_error'] says so. Further "
            "ledger failures of this model are reported only in the metadata.",
            LedgerWriteWarning,
            stacklevel=2,
        )
    return text


def charge_unknown(
    rt: Runtime,
    profile: TierProfile,
    pre: Preflight,
    hold: Hold,
    attempt: Attempt,
    *,
    budget_keys: tuple[str, ...],
    fallback: bool,
    run_id: str | None,
) -> Generator[Action, Any, float]:
    """Charge the worst case of an attempt whose outcome is unknown; return the amount."""
    cost = pre.worst_case_usd
    tokens = {"input_tokens": pre.prompt_tokens, "output_tokens": pre.max_output_tokens}
    record = spend_record(
        rt,
        profile,
        pre,
        tokens=tokens,
        cost=cost,
        budget_keys=budget_keys,
        fallback=fallback,
        run_id=run_id,
        estimate=True,
        error=f"{attempt.error_type}: {attempt.message}",
    )
    yield from commit(rt, hold.reservation, cost, record)
    hold.reservation = None
    data = {
        "tier": profile.name,
        "cost_usd": cost,
        "error_type": attempt.error_type,
        "message": attempt.message,
    }
    yield Emit("tiered.unknown_outcome", data)
    return cost
