"""The shape of ``AIMessage.response_metadata["tiered"]``, documented key by key.

Every answer of a :class:`~langchain_tiered.TieredChatModel` (the closing chunk of a
stream too) carries one :class:`TieredMetadata` dict. Values are plain JSON types, so the
dict can be logged or stored as is.

Example:
    ```python
    from langchain_tiered.metadata import TieredMetadata

    meta: TieredMetadata = model.invoke("hi").response_metadata["tiered"]
    print(meta["tier"], meta["cost_usd"], [a["kind"] for a in meta["attempts"]])
    ```
"""

from __future__ import annotations

from typing import TypedDict

from typing_extensions import NotRequired

from langchain_tiered.cascade.base import CascadeStep

__all__ = ["AttemptInfo", "SkipInfo", "TieredMetadata"]


class AttemptInfo(TypedDict):
    """One request sent to a tier (retries are separate attempts)."""

    tier: str
    """The tier that was called."""
    error_type: str | None
    """The exception's class name, ``None`` when the tier answered."""
    status: int | None
    """The HTTP status of the failure, if it carried one."""
    kind: str
    """``"ok"``, or the failure's kind: ``retryable``, ``context_overflow``, ``refusal``,
    ``fatal``."""
    message: str | None
    """The error text with credentials masked, ``None`` when the tier answered."""
    waited_s: float
    """Seconds waited after this attempt before retrying the same tier."""
    cause: str | None
    """Why it failed, finer than ``kind`` (``ErrorCause``): ``rate_limit`` (back off, it
    passes), ``quota`` (credit or quota used up: it will not pass with time),
    ``overloaded``, ``server_error``, ``timeout``, ``connection``, ``transient``,
    ``context_overflow``, ``refusal`` or ``rejected``; ``None`` when the tier answered."""


class SkipInfo(TypedDict):
    """A tier the call passed over without calling it."""

    tier: str
    """The skipped tier."""
    reason: str
    """Why, in words (cooling down, context window, over ``max_cost_per_call`` or a
    budget, rate limited, cannot bind tools)."""


class TieredMetadata(TypedDict):
    """``response_metadata["tiered"]`` of every answer."""

    tier: str
    """The tier that answered."""
    model_name: str | None
    """That tier's model identifier."""
    reason: str
    """The routing reason, plus skips and the answering tier when it was a fallback."""
    score: float | None
    """The router's complexity score, if it gives one."""
    routed_tier: str
    """The tier the router (or an override) picked."""
    fallback_triggered: bool
    """Whether a tier other than ``routed_tier`` answered."""
    attempts: list[AttemptInfo]
    """Every request sent, in order, the answering one last."""
    skipped: list[SkipInfo]
    """Tiers passed over before the answering one."""
    estimated_cost_usd: float
    """The pre-flight worst case that was reserved, in USD."""
    cost_usd: float
    """The cost of the call in USD (from ``usage_metadata``; see ``cost_is_estimate``)."""
    cost_is_estimate: bool
    """Whether ``cost_usd`` is an estimate: no usage reported, a stream cut or abandoned,
    or an unknown outcome charged at the worst case."""
    baseline_cost_usd: float | None
    """What the same usage would have cost on the most capable tier (for savings)."""
    prompt_tokens_estimate: int
    """The pre-flight prompt count (tools included, safety factor applied)."""
    max_output_tokens: int
    """The output cap that priced the call (and was sent with it, where the model takes
    one)."""
    output_cap_source: str
    """Where that cap came from: ``call``, ``model``, ``tier``, ``task``, ``budget``,
    ``default`` or ``model_max`` (see ``preflight.resolve_output_cap``)."""
    budget_keys: list[str]
    """The ledger keys the cost was committed to."""
    run_id: str | None
    """The LangChain run id of the tiered call."""
    overspend: bool
    """Whether ``cost_usd`` exceeded the reserved worst case (a price component the price
    book does not know, or usage above the cap sent). The full cost is still counted against
    the budget, and a ``tiered.overspend`` event is emitted."""
    overspend_usd: float
    """By how much, in USD (0 when within the worst case)."""
    unknown_outcome_usd: float
    """Worst cases charged for earlier attempts of this call that failed after being sent
    (timeout, dropped connection: the provider may have billed them); not part of
    ``cost_usd``. See ``TieredChatModel.unknown_outcome``."""
    ledger_error: str | None
    """Why the ledger could not record this call's spend, if it failed (the answer is
    returned anyway; the reservation stays held until it expires)."""
    billed_tokens: NotRequired[dict[str, int]]
    """The usage the cost was computed from: ``input_tokens``, ``output_tokens``,
    ``cached_tokens`` and ``reasoning_tokens`` (raw provider usage included, e.g. DeepSeek
    cache hits; tokenizer estimates when ``cost_is_estimate``). The cost callback reads it
    instead of parsing the usage again."""
    latency_s: NotRequired[float]
    """Seconds from the call's start (routing, retries, fallbacks included) to settlement."""
    ttft_s: NotRequired[float]
    """Streams: seconds from the call's start to the first chunk with content."""
    structured_output_method: NotRequired[str]
    """``with_structured_output``: the method asked for (``json_schema``, ``json_mode``,
    ``function_calling``)."""
    structured_output_note: NotRequired[str]
    """Why the answering tier was asked with function calling instead, when it was."""
    steps: NotRequired[list[CascadeStep]]
    """Cascades: every step taken, in order (tier, cost, verdict, reason); ``cost_usd`` is
    their total, ``estimated_cost_usd`` the sum of their reserved worst cases."""
    cascade_accepted: NotRequired[bool]
    """Cascades: whether a validator accepted the returned answer (``False``: every step
    was rejected, or escalation was refused, and the last answer is returned marked)."""
