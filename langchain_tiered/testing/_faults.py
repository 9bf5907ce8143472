"""Fault injection for the emulator: which request fails, how, and with which wire body.

Faults are values (:class:`Fault`); :class:`FaultBook` holds them with their counters and picks,
under a lock, what happens to each request. Error bodies copy what OpenAI sends so clients
classify them exactly as they classify the real API's errors.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, get_args

__all__ = [
    "BODY_KINDS",
    "IN_STREAM_KINDS",
    "Fault",
    "FaultBook",
    "FaultKind",
    "Verdict",
    "error_body",
    "fault_error",
    "in_stream_error",
]

FaultKind = Literal[
    "rate_limit",
    "server_error",
    "overloaded",
    "context_length",
    "content_filter",
    "auth",
    "latency",
    "stream_break",
    "disconnect",
    "insufficient_quota",
    "server_busy",
    "server_error_on_200",
    "overloaded_in_stream",
    "rate_limit_in_stream",
    "api_error_in_stream",
    "finish_error_in_stream",
    "finish_error_bare",
    "refusal",
    "stall",
]

FAULT_KINDS: frozenset[str] = frozenset(get_args(FaultKind))
IN_STREAM_KINDS: frozenset[str] = frozenset(
    {"overloaded_in_stream", "rate_limit_in_stream", "api_error_in_stream"}
    | {"finish_error_in_stream", "finish_error_bare", "server_error_on_200"}
)
"""Faults sent inside an HTTP 200 answer (an SSE error event, or an error body on 200)."""
BODY_KINDS: frozenset[str] = IN_STREAM_KINDS | {"stream_break", "latency", "refusal", "stall"}
"""Faults that need the reply (or at least a 200 response) rather than an HTTP error."""


@dataclass(frozen=True)
class Fault:
    """A failure to inject into matching requests.

    Attributes:
        kind: What goes wrong (see :data:`FaultKind`).
        model: Only requests for this model name; ``None`` matches every model.
        times: Fire at most this many times; ``None`` fires on every eligible request.
        after: Let the first ``after`` matching requests through untouched.
        probability: Fire on each eligible request with this probability (seeded, so runs repeat).
        seed: Seed of this fault's random generator, used with ``probability``.
        retry_after: Seconds sent in the ``Retry-After`` header of a ``"rate_limit"`` (default 1).
        send_retry_after: Whether a ``"rate_limit"`` carries ``Retry-After`` at all.
        latency: Seconds the server sleeps before responding (``"latency"``), before failing,
            or, for ``"stall"``, in the middle of the body (default 30: the client times out).
        break_after_chunks: SSE events sent before a ``"stream_break"`` cuts the connection, an
            ``"..._in_stream"`` fault sends its error event, or a ``"stall"`` stops sending.
        message: Replaces the error message of the body.

    The kinds, and what each sends (OpenAI wire / Anthropic ``/v1/messages`` wire):

    * ``rate_limit``: 429 with Retry-After (unless ``send_retry_after=False``).
    * ``insufficient_quota``: OpenAI's 429 ``insufficient_quota`` / Anthropic's 402
      ``billing_error``; no Retry-After.
    * ``server_error`` (500), ``overloaded`` (503 / Anthropic 529), ``server_busy``
      (DeepSeek's 503 "Server busy").
    * ``context_length`` (400, OpenAI / Anthropic wording; ``message`` for other servers'),
      ``content_filter`` (400 prompt rejected), ``auth`` (401).
    * ``server_error_on_200``: an error object with HTTP 200 (a JSON body, or the first SSE
      event of a stream), as OpenAI-compatible proxies send it.
    * ``overloaded_in_stream``, ``rate_limit_in_stream``, ``api_error_in_stream``: the stream
      opens with 200, then an error event (Anthropic ``event: error`` with
      ``overloaded_error``/``rate_limit_error``/``api_error``; an ``error`` object on the
      OpenAI wire). Without streaming, the equivalent HTTP error.
    * ``finish_error_in_stream``: OpenRouter's mid-stream failure, a chunk with an ``error``
      object and ``finish_reason: "error"``.
    * ``finish_error_bare``: a chunk with ``finish_reason: "error"`` and no error object (the
      SDK raises nothing; the stream just ends). Without streaming, a 500.
    * ``refusal``: a 200 answer withheld (OpenAI ``finish_reason: "content_filter"``,
      Anthropic ``stop_reason: "refusal"``).
    * ``stream_break`` (cut after ``break_after_chunks`` events, or half a JSON body),
      ``disconnect`` (no response), ``stall`` (body stops mid-way: a read timeout),
      ``latency`` (delay only).
    """

    kind: FaultKind
    model: str | None = None
    times: int | None = None
    after: int = 0
    probability: float | None = None
    seed: int = 0
    retry_after: float | None = None
    send_retry_after: bool = True
    latency: float | None = None
    break_after_chunks: int | None = None
    message: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            msg = f"unknown fault kind {self.kind!r}; use one of {sorted(FAULT_KINDS)}"
            raise ValueError(msg)
        if self.after < 0 or (self.times is not None and self.times < 0):
            msg = "Fault.after and Fault.times must be >= 0"
            raise ValueError(msg)
        if self.probability is not None and not 0.0 <= self.probability <= 1.0:
            msg = f"Fault.probability must be within [0, 1], got {self.probability}"
            raise ValueError(msg)


@dataclass
class _Slot:
    """A fault with its mutable counters; only touched under the book's lock."""

    fault: Fault
    rng: random.Random
    seen: int = 0
    fired: int = 0


@dataclass(frozen=True)
class Verdict:
    """What to do with one request: the failing fault (if any) and the delay before it."""

    fault: Fault | None = None
    delay: float = 0.0
    delayed: bool = False

    @property
    def outcome(self) -> str:
        """The log outcome: the failing fault's kind, ``"latency"`` if only delayed, else ok."""
        if self.fault is not None:
            return self.fault.kind
        return "latency" if self.delayed else "ok"


class FaultBook:
    """Thread-safe set of faults with per-fault counters (the test thread mutates while serving)."""

    def __init__(self, faults: Iterable[Fault] = ()) -> None:
        self._lock = threading.Lock()
        self._slots: list[_Slot] = []
        for fault in faults:
            self.add(fault)

    def add(self, fault: Fault) -> None:
        """Add a fault; it counts requests from now on."""
        with self._lock:
            self._slots.append(_Slot(fault, random.Random(fault.seed)))  # noqa: S311 - not crypto

    def clear(self) -> None:
        """Remove every fault."""
        with self._lock:
            self._slots.clear()

    def judge(self, model: str) -> Verdict:
        """Decide the fate of a request for ``model``.

        Every fault matching the model counts the request (so ``after`` means "the first N
        requests to this model", independent of other faults). Latency faults add up; of the
        other faults the first eligible one in insertion order fires.
        """
        chosen: Fault | None = None
        delays: list[Fault] = []
        with self._lock:
            for slot in self._slots:
                if not self._eligible(slot, model):
                    continue
                if slot.fault.kind == "latency":
                    slot.fired += 1
                    delays.append(slot.fault)
                elif chosen is None:
                    slot.fired += 1
                    chosen = slot.fault
        delay = sum(f.latency or 0.0 for f in delays)
        if chosen is not None:
            delay += chosen.latency or 0.0
        return Verdict(fault=chosen, delay=delay, delayed=bool(delays))

    @staticmethod
    def _eligible(slot: _Slot, model: str) -> bool:
        fault = slot.fault
        if fault.model is not None and fault.model != model:
            return False
        slot.seen += 1
        if slot.seen <= fault.after:
            return False
        if fault.times is not None and slot.fired >= fault.times:
            return False
        # Draw on every eligible request, whether or not another fault fires, so one fault's
        # sequence does not depend on the others'.
        return fault.probability is None or slot.rng.random() < fault.probability


def error_body(message: str, type_: str | None, param: str | None, code: str | None) -> Any:
    """OpenAI's error envelope."""
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


_RATE_LIMIT = (
    "Rate limit reached for {model} in organization org-emulator on requests per min (RPM): "
    "Limit 3, Used 3, Requested 1. Please try again in {retry}s. "
    "Visit https://platform.openai.com/account/rate-limits to learn more."
)
_SERVER_ERROR = (
    "The server had an error while processing your request. Sorry about that! You can retry "
    "your request, or contact us through our help center at help.openai.com if the error "
    "persists."
)
_OVERLOADED = "The engine is currently overloaded, please try again later."
_SERVER_BUSY = "Server busy, please try again later."  # DeepSeek's 503
_QUOTA = (
    "You exceeded your current quota, please check your plan and billing details. For more "
    "information on this error, read the docs: "
    "https://platform.openai.com/docs/guides/error-codes/api-errors."
)
_MID_STREAM = "Provider disconnected unexpectedly"  # OpenRouter's mid-stream error text
_CONTENT_FILTER = (
    "Your request was rejected as a result of our safety system. Your prompt may contain text "
    "that is not allowed by our safety system."
)
_AUTH = (
    "Incorrect API key provided. You can find your API key at "
    "https://platform.openai.com/account/api-keys."
)


# fault kind -> (status, message, type, param, code) of OpenAI's error envelope
_HTTP_ERRORS: dict[str, tuple[int, str, str | None, str | None, str | None]] = {
    "server_error": (500, _SERVER_ERROR, "server_error", None, None),
    "api_error_in_stream": (500, _SERVER_ERROR, "server_error", None, None),
    "finish_error_bare": (500, _SERVER_ERROR, "server_error", None, None),
    "overloaded": (503, _OVERLOADED, "overloaded_error", None, "overloaded"),
    "overloaded_in_stream": (503, _OVERLOADED, "overloaded_error", None, "overloaded"),
    "server_busy": (503, _SERVER_BUSY, "server_busy", None, None),
    "insufficient_quota": (429, _QUOTA, "insufficient_quota", None, "insufficient_quota"),
    "content_filter": (400, _CONTENT_FILTER, "invalid_request_error", "prompt", "content_filter"),
    "auth": (401, _AUTH, "invalid_request_error", None, "invalid_api_key"),
}


def context_length_message(window: int, prompt: int, completion: int | None) -> str:
    """OpenAI's context-overflow message, with the completion share when one was requested."""
    head = f"This model's maximum context length is {window} tokens. However, "
    if completion:
        return (
            f"{head}you requested {prompt + completion} tokens ({prompt} in the messages, "
            f"{completion} in the completion). Please reduce the length of the messages or "
            "completion."
        )
    return (
        f"{head}your messages resulted in {prompt} tokens. "
        "Please reduce the length of the messages."
    )


def fault_error(
    fault: Fault, model: str, window: int | None, prompt: int
) -> tuple[int, Any, dict[str, str]]:
    """Status, JSON body and extra headers of an HTTP-error fault.

    Args:
        fault: A fault whose kind is answered with an HTTP error.
        model: The requested model name.
        window: The model's configured context window, if any.
        prompt: The request's prompt tokens.

    Returns:
        ``(status, body, headers)``.
    """
    custom = fault.message
    if fault.kind in ("rate_limit", "rate_limit_in_stream"):
        retry = fault.retry_after if fault.retry_after is not None else 1
        text = custom or _RATE_LIMIT.format(model=model, retry=f"{retry:g}")
        body = error_body(text, "rate_limit_exceeded", None, "rate_limit_exceeded")
        headers = {"Retry-After": f"{retry:g}"} if fault.send_retry_after else {}
        return 429, body, headers
    if fault.kind == "context_length":
        limit = window if window is not None else max(prompt - 1, 1)
        text = custom or context_length_message(limit, prompt, None)
        return (
            400,
            error_body(text, "invalid_request_error", "messages", "context_length_exceeded"),
            {},
        )
    status, text, type_, param, code = _HTTP_ERRORS[fault.kind]
    return status, error_body(custom or text, type_, param, code), {}


def in_stream_error(fault: Fault) -> dict[str, Any]:
    """The ``error`` object an OpenAI-compatible server puts inside a 200 answer.

    Args:
        fault: An in-stream fault (see :data:`IN_STREAM_KINDS`).

    Returns:
        The error object (without the ``{"error": ...}`` envelope).
    """
    table = {
        "overloaded_in_stream": (_OVERLOADED, "overloaded_error", "overloaded"),
        "rate_limit_in_stream": (
            "Rate limit reached",
            "rate_limit_exceeded",
            "rate_limit_exceeded",
        ),
        "api_error_in_stream": (_SERVER_ERROR, "server_error", None),
        "server_error_on_200": (_SERVER_ERROR, "server_error", None),
        "finish_error_in_stream": (_MID_STREAM, None, "server_error"),
        "finish_error_bare": (_MID_STREAM, None, "server_error"),
    }
    text, type_, code = table[fault.kind]
    error: dict[str, Any] = {"message": fault.message or text, "code": code}
    if type_ is not None:
        error.update(type=type_, param=None)
    return error
