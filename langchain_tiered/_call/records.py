"""Typed records of what happened to each tier during one call: attempts and skips.

The plan builds these; the metadata (``response_metadata["tiered"]``) and
``AllTiersFailedError`` get plain dicts converted at the boundary, so users keep
JSON-serialisable values while the engine decides on enums, never on message text.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from langchain_tiered.fallbacks import ErrorCause, ErrorInfo, ErrorKind
    from langchain_tiered.metadata import AttemptInfo, SkipInfo

__all__ = ["Attempt", "Skip", "SkipReason"]


class SkipReason(str, Enum):
    """Why a tier was passed over without being called."""

    NO_TOOLS = "no_tools"
    """The tier's model cannot bind the call's tools."""
    COOLING_DOWN = "cooling_down"
    """The tier's circuit breaker is open (repeated failures or a Retry-After hold)."""
    CONTEXT_WINDOW = "context_window"
    """The prompt does not fit the tier's window (or the window is no larger than one that
    overflowed)."""
    OVER_CALL_CAP = "max_cost_per_call"
    """The worst case is above ``max_cost_per_call``."""
    OVER_BUDGET = "budget"
    """A budget could not hold the worst case."""
    RATE_LIMITED = "rate_limited"
    """The tier's local rate limit would need a longer wait than allowed."""


@dataclass(frozen=True)
class Skip:
    """A tier the call passed over, and why (``detail`` is the human-readable reason)."""

    tier: str
    reason: SkipReason
    detail: str

    def to_dict(self) -> SkipInfo:
        """The metadata form: ``{"tier", "reason"}`` with the human-readable reason."""
        return {"tier": self.tier, "reason": self.detail}


@dataclass
class Attempt:
    """One request sent to a tier: its outcome (``kind is None`` means it answered)."""

    tier: str
    kind: ErrorKind | None = None
    error_type: str | None = None
    status: int | None = None
    message: str | None = None
    waited_s: float = 0.0
    error: BaseException | None = None
    cause: ErrorCause | None = None

    @classmethod
    def failed(cls, tier: str, info: ErrorInfo, error: BaseException, message: str) -> Attempt:
        """The record of a failed request (``message`` already redacted)."""
        return cls(tier, info.kind, info.error_type, info.status, message, 0.0, error, info.cause)

    @property
    def ok(self) -> bool:
        """Whether the tier answered."""
        return self.kind is None

    def to_dict(self) -> AttemptInfo:
        """The metadata form (JSON-serialisable; the exception object is left out)."""
        return {
            "tier": self.tier,
            "error_type": self.error_type,
            "status": self.status,
            "kind": "ok" if self.kind is None else self.kind.value,
            "message": self.message,
            "waited_s": self.waited_s,
            "cause": None if self.cause is None else self.cause.value,
        }

    def to_error_dict(self) -> dict[str, Any]:
        """The ``AllTiersFailedError.attempts`` form: the metadata form plus ``error``."""
        return {**self.to_dict(), "error": self.error}
