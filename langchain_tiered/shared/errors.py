"""The error raised when shared state (Redis, PostgreSQL) cannot be reached."""

from __future__ import annotations

from langchain_tiered.errors import TieredError

__all__ = ["SharedStateUnavailableError"]


class SharedStateUnavailableError(TieredError):
    """A shared ledger, limiter or breaker could not reach its server, so nothing was spent.

    Budgeted calls fail closed by default: refusing a call is recoverable, overspending a
    budget shared by many replicas is not. Pass ``on_unavailable="local"`` (with a
    ``local_share`` of each limit) to keep serving from a local allowance instead.

    Attributes:
        backend: ``"redis"`` or ``"postgres"``.
        operation: What was attempted (``"reserve"``, ``"acquire"``, ...).
    """

    def __init__(self, message: str, *, backend: str, operation: str) -> None:
        super().__init__(message)
        self.backend = backend
        self.operation = operation


def unavailable(backend: str, operation: str, exc: BaseException) -> SharedStateUnavailableError:
    """Build the error for a failed round-trip, saying what to check and what to change."""
    message = (
        f"{backend} is unreachable or too slow during {operation} ({type(exc).__name__}: "
        f"{exc}); the call was refused so no shared budget or limit can be overspent. Check "
        f"that {backend} is running and reachable, raise socket_timeout, or construct the "
        "ledger with on_unavailable='local' to serve from a local share of each budget."
    )
    return SharedStateUnavailableError(message, backend=backend, operation=operation)
