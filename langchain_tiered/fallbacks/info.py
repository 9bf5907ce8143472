"""The values classification produces: kinds, causes, the error summary, in-answer failures."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from langchain_core.exceptions import ModelError

__all__ = ["KIND_OF", "ErrorCause", "ErrorInfo", "ErrorKind", "StreamError"]


class ErrorKind(str, Enum):
    """What a failure means for the next attempt."""

    RETRYABLE = "retryable"
    """Transient (rate limit, overload, 5xx, timeout, connection): retry or try another tier."""
    CONTEXT_OVERFLOW = "context_overflow"
    """The prompt is too long for this model: only a tier with a larger window can help."""
    REFUSAL = "refusal"
    """The model or its content filter declined: another model may answer."""
    FATAL = "fatal"
    """Auth, permission, unknown model, invalid request or a bug: no attempt will help."""


class ErrorCause(str, Enum):
    """Why a call failed, finer than :class:`ErrorKind`; decides retry and cooldown."""

    RATE_LIMIT = "rate_limit"
    """Too many requests: back the tier off briefly (or for its Retry-After)."""
    QUOTA = "quota"
    """Credit or quota used up: will not pass with time, so fall back without retrying."""
    OVERLOADED = "overloaded"
    """The provider is overloaded (Anthropic 529, HTTP 503, Google ``UNAVAILABLE``)."""
    SERVER_ERROR = "server_error"
    """A 5xx or a provider ``server_error``/``api_error`` (also inside a 200 stream)."""
    TIMEOUT = "timeout"
    """The request or the body timed out."""
    CONNECTION = "connection"
    """The connection failed or was reset, before or during the body."""
    TRANSIENT = "transient"
    """Retryable by the taxonomy's ``is_retryable`` with no finer evidence."""
    CONTEXT_OVERFLOW = "context_overflow"
    """The prompt does not fit the model's context window."""
    REFUSAL = "refusal"
    """The model or a content/safety filter declined."""
    REJECTED = "rejected"
    """Auth, permission, unknown model, invalid request, or an error we cannot place."""


KIND_OF: dict[ErrorCause, ErrorKind] = {
    ErrorCause.CONTEXT_OVERFLOW: ErrorKind.CONTEXT_OVERFLOW,
    ErrorCause.REFUSAL: ErrorKind.REFUSAL,
    ErrorCause.REJECTED: ErrorKind.FATAL,
}


@dataclass(frozen=True)
class ErrorInfo:
    """A secret-free summary of one failure, safe to log and to put in response metadata."""

    kind: ErrorKind
    """How the failure should be handled."""
    error_type: str
    """The exception's class name, e.g. ``"ModelRateLimitError"``."""
    status: int | None
    """The HTTP status, if the error carries one (200 for errors sent inside a stream)."""
    retry_after: float | None
    """Seconds the provider asked to wait (Retry-After / retry-after-ms), if it said."""
    message: str
    """The error text, redacted and truncated."""
    cause: ErrorCause = ErrorCause.REJECTED
    """Why it failed; :attr:`kind` is derived from it by :func:`classify_error`."""

    @property
    def retry_same_tier(self) -> bool:
        """Whether retrying the same tier can help (transient, and not an exhausted quota)."""
        return self.kind is ErrorKind.RETRYABLE and self.cause is not ErrorCause.QUOTA

    @property
    def rate_limited(self) -> bool:
        """Whether the provider said "too many requests" (as opposed to an outage)."""
        return self.cause is ErrorCause.RATE_LIMIT


class StreamError(ModelError):
    """A failure a provider reported as a successful answer (finish/stop reason).

    Raised for a stream that ends with ``finish_reason="error"`` (OpenRouter and other
    OpenAI-compatible servers) and carried by :func:`response_failure`. ``cause`` says which
    failure it was, so :func:`classify_error` treats it like the HTTP error it stands for.
    """

    is_retryable = True

    def __init__(
        self,
        message: str = "the provider reported a failure inside the answer",
        *,
        cause: ErrorCause = ErrorCause.SERVER_ERROR,
        finish_reason: str | None = None,
    ) -> None:
        super().__init__(message)
        self.cause = cause
        self.finish_reason = finish_reason
        self.is_retryable = KIND_OF.get(cause, ErrorKind.RETRYABLE) is ErrorKind.RETRYABLE
