"""Refusals that arrive as answers: settle what they cost, then let the plan re-route them.

Providers report a refusal as a successful response (Anthropic ``stop_reason="refusal"``,
OpenAI ``finish_reason="content_filter"``, Gemini ``SAFETY``), and bill it. When the call has
somewhere to take it (``refusal_tier``, or ``"refusal"`` in ``fallback_on``), such an answer
is settled at its real cost like any answer (ledger, ``tiered.settled`` for the callbacks)
and its attempt recorded as a refusal, so the plan falls back as it would for a
``ModelRefusalError``. Without a destination the answer is returned unchanged. A stream is
judged only when it ended before any content: once content may reach the caller, it is the
answer.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from langchain_core.exceptions import ModelRefusalError
from langchain_core.messages import BaseMessage

from langchain_tiered._call.actions import Emit
from langchain_tiered._call.drivers import has_content
from langchain_tiered._call.records import Attempt
from langchain_tiered._call.settle import settle_call
from langchain_tiered.fallbacks import ErrorInfo, ErrorKind, classify_error, response_failure

if TYPE_CHECKING:
    from collections import deque

    from langchain_tiered._call.actions import Action
    from langchain_tiered._call.state import Runtime, Selected

__all__ = ["settle_refusal"]


def settle_refusal(
    rt: Runtime,
    sel: Selected,
    *,
    tried: set[str],
    order: deque[str],
    run_id: str | None,
) -> Generator[Action, Any, ErrorInfo | None]:
    """If ``sel``'s answer is a refusal the call can re-route, settle it and say so.

    Args:
        rt: The runtime.
        sel: The tier that answered, with its answer (or opened stream) and reservation.
        tried: Tiers this call already tried.
        order: Tiers still to try.
        run_id: The call's run id, for the spend record.

    Returns:
        The refusal's :class:`ErrorInfo` (its attempt is now recorded as a refusal and its
        reservation settled), or ``None`` to return the answer as it is.
    """
    target = rt.settings.refusal_tier
    rerouted = target is not None and target not in tried
    if not rerouted and not (ErrorKind.REFUSAL in rt.fallback_on and order):
        return None
    message = _complete_answer(sel.result)
    refusal = response_failure(message) if message is not None else None
    if not isinstance(refusal, ModelRefusalError):
        return None
    info = classify_error(refusal)
    sel.attempts[-1] = Attempt.failed(sel.profile.name, info, refusal, info.message)
    meta = yield from settle_call(rt, sel, message, run_id=run_id)
    # No answer carries this settlement to the caller: the callbacks learn it from the event.
    usage = dict(getattr(message, "usage_metadata", None) or {})
    yield Emit("tiered.settled", {"metadata": dict(meta), "usage": usage})
    return info


def _complete_answer(result: Any) -> BaseMessage | None:
    """The whole answer, if it is known: a message, or a stream that ended with no content."""
    if isinstance(result, BaseMessage):
        return result
    if not isinstance(result, tuple) or not result:
        return None
    head = list(result[0])
    if not head or any(has_content(chunk) for chunk in head):
        return None  # content may reach the caller: it is the answer, whatever follows
    merged: Any = head[0]
    for chunk in head[1:]:
        merged = merged + chunk
    return merged if isinstance(merged, BaseMessage) else None
