"""Errors raised by langchain-tiered.

The hierarchy, rooted in LangChain's own exception type so a caller's existing
``except LangChainException`` keeps working::

    LangChainException                       (langchain_core.exceptions)
    ├── TieredError
    │   ├── BudgetExceededError             worst-case cost above a cap or a budget, pre-flight
    │   │   └── RunBudgetExceededError      an agent run's budget is spent (agents.errors)
    │   ├── NoTierFitsError                 prompt larger than every usable context window
    │   │                                   (also a langchain_core ContextOverflowError)
    │   ├── AllTiersFailedError             every tier tried failed; keeps each attempt
    │   ├── PricingError                    a tier's model has no known price (fail closed)
    │   ├── RateLimitExceededError          a local rate limit would need a longer wait than allowed
    │   ├── InvalidRequestError             the call cannot be sent as given (also a ValueError)
    │   │   └── BudgetKeyRequiredError      a require_key budget met a call without budget_key
    │   ├── RouterError                     the router returned no RouteDecision (also a TypeError)
    │   ├── LedgerError                     a ledger file or store cannot be used (ledger.base)
    │   │   ├── NotALedgerError             not a langchain-tiered ledger (also a ValueError)
    │   │   └── LedgerReadOnlyError         a write to a ledger opened read-only
    │   ├── SharedStateUnavailableError     Redis/PostgreSQL unreachable, nothing spent
    │   │                                   (shared.errors)
    │   ├── CascadeRejectedError            every cascade step rejected, on_rejected="raise"
    │   │                                   (cascade.base)
    │   ├── BatchOutputError                a batch's output file cannot be used (batch.errors)
    │   │   └── BatchWriteError             writing the output failed mid-batch
    │   └── OutcomeUnknownError             a batch item sent by an earlier run, answer unrecorded
    └── ModelError                           (langchain_core.exceptions)
        └── StreamError                     a failure sent as an answer: finish_reason "error"
                                            inside a stream (fallbacks.info; classified and
                                            retried like the HTTP error it stands for)

Everything named here is importable from ``langchain_tiered``. Every error says what to
change in its message.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.exceptions import ContextOverflowError, LangChainException

__all__ = [
    "AllTiersFailedError",
    "BudgetExceededError",
    "BudgetKeyRequiredError",
    "InvalidRequestError",
    "NoTierFitsError",
    "PricingError",
    "RateLimitExceededError",
    "RouterError",
    "TieredError",
]


class TieredError(LangChainException):
    """Root of every error raised by langchain-tiered."""


class BudgetExceededError(TieredError):
    """The worst-case cost of a call exceeds a per-call cap or a budget's remaining room.

    Raised before any network call, so nothing was spent.

    Attributes:
        estimated_cost_usd: The worst-case cost of the refused call.
        limit_usd: The cap or budget limit that would have been exceeded.
        tier: The tier that was considered last, if any.
        scope: Which limit refused the call (``"max_cost_per_call"`` or a budget key).
        remaining_usd: What was left under the limit when the call was refused, if known.
    """

    def __init__(
        self,
        message: str,
        *,
        estimated_cost_usd: float,
        limit_usd: float,
        tier: str | None = None,
        scope: str = "max_cost_per_call",
        remaining_usd: float | None = None,
    ) -> None:
        super().__init__(message)
        self.estimated_cost_usd = estimated_cost_usd
        self.limit_usd = limit_usd
        self.tier = tier
        self.scope = scope
        self.remaining_usd = remaining_usd


class NoTierFitsError(TieredError, ContextOverflowError):
    """The prompt is larger than the context window of every usable tier.

    Raised before any network call. It is also a
    :class:`langchain_core.exceptions.ContextOverflowError`, so code that already
    handles provider context overflows handles this one too.

    Attributes:
        token_count: The counted prompt tokens (plus the reserved output, if any).
        largest_window: The largest context window among the tiers considered.
    """

    def __init__(self, message: str, *, token_count: int, largest_window: int | None) -> None:
        super().__init__(message)
        self.token_count = token_count
        self.largest_window = largest_window


class AllTiersFailedError(TieredError):
    """Every tier that was tried failed.

    Attributes:
        attempts: One entry per attempt, in order, each a mapping with at least
            ``tier``, ``error_type`` and ``error`` (the exception object).
    """

    def __init__(self, message: str, *, attempts: Sequence[dict[str, Any]]) -> None:
        super().__init__(message)
        self.attempts = list(attempts)

    @property
    def errors(self) -> list[BaseException]:
        """The exceptions of all attempts, in order."""
        return [a["error"] for a in self.attempts if isinstance(a.get("error"), BaseException)]


class PricingError(TieredError):
    """A model has no known price; the package refuses to treat it as free.

    Attributes:
        model_name: The model whose price is missing.
    """

    def __init__(self, message: str, *, model_name: str | None = None) -> None:
        super().__init__(message)
        self.model_name = model_name


class RateLimitExceededError(TieredError):
    """A tier's local rate limit would require waiting longer than allowed.

    Attributes:
        tier: The rate-limited tier.
        wait_seconds: How long the call would have had to wait.
    """

    def __init__(self, message: str, *, tier: str | None, wait_seconds: float) -> None:
        super().__init__(message)
        self.tier = tier
        self.wait_seconds = wait_seconds


class InvalidRequestError(TieredError, ValueError):
    """The call cannot be sent as given (no messages, or only tool results).

    Raised before any network call, so nothing was spent. Also a ``ValueError``.
    """


class BudgetKeyRequiredError(InvalidRequestError):
    """A ``Budget(scope="budget_key", require_key=True)`` met a call without a ``budget_key``.

    Raised before any network call, so nothing was spent.
    """


class RouterError(TieredError, TypeError):
    """The router returned something other than a ``RouteDecision``.

    Raised before any network call. Also a ``TypeError``.
    """
