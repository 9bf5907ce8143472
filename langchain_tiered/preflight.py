"""Pre-flight arithmetic: what a call may cost at worst on a tier, before anything is sent.

Pure functions over resolved tier profiles; :class:`~langchain_tiered.TieredChatModel`
only wires them. The worst case of a call is::

    prompt tokens (tools included, safety factor applied) x input price
    + output cap x output price

where the output cap is, in order: the call's ``max_tokens``, the tier model's own
``max_tokens``, the tier's ``max_output_tokens``, the routing decision's task cap,
else :data:`DEFAULT_MAX_OUTPUT_TOKENS` (never above the model's own maximum output). That cap
is also *sent* with the call, under the parameter the tier's model takes
(:func:`max_tokens_kwarg`), so the provider cannot answer longer than what was priced.

A model that takes no output cap the package knows cannot be capped; its worst case uses
its own maximum output (its LangChain ``profile``, else the price book), else the tier's
``max_output_tokens`` (declare the model's maximum there), else the default - which such a
model is then trusted, not forced, to respect.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from langchain_core.messages import BaseMessage, ToolMessage

from langchain_tiered.errors import BudgetExceededError, InvalidRequestError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from langchain_core.language_models import BaseChatModel

    from langchain_tiered.pricing import CacheWrites, ModelPrice

__all__ = [
    "CAP_KWARGS",
    "DEFAULT_MAX_OUTPUT_TOKENS",
    "CallPlan",
    "Preflight",
    "TierProfile",
    "asks_stream_usage",
    "call_max_tokens",
    "cap_error",
    "check_messages",
    "max_output_within",
    "max_tokens_kwarg",
    "model_max_output",
    "model_max_tokens",
    "preflight",
    "resolve_output_cap",
    "service_tier_of",
    "shrink_output",
    "window_problem",
]

DEFAULT_MAX_OUTPUT_TOKENS = 4096
"""Output cap assumed when neither the call, the model, the tier nor the router sets one.

4,096 is the common default completion cap of chat APIs; setting ``max_tokens`` on the
call or ``Tier.max_output_tokens`` gives tighter (cheaper) worst cases.
"""

# Keyword arguments under which LangChain chat models accept an output cap per call.
CAP_KWARGS = ("max_tokens", "max_completion_tokens", "max_output_tokens")
# OpenAI reasoning models reject ``max_tokens`` (on Azure too): they take max_completion_tokens.
_REASONING_MODEL = re.compile(r"^(o\d|gpt-5)")


@dataclass(frozen=True)
class TierProfile:
    """Everything the pre-flight check needs to know about a tier, resolved once."""

    name: str
    index: int
    model_name: str | None
    price: ModelPrice
    context_window: int | None
    model_max_tokens: int | None
    tier_max_output_tokens: int | None
    ask_stream_usage: bool = False
    """The model takes ``stream_usage`` and does not set it: streams must ask for usage."""
    max_tokens_kwarg: str | None = None
    """The name under which the model takes an output cap, if it has one (``max_tokens``,
    ``max_completion_tokens`` or ``max_output_tokens``); ``None``: the package cannot cap it."""
    max_output_limit: int | None = None
    """The model's own maximum output tokens, if known (profile, else price book)."""
    service_tier: str | None = None
    """The service tier the tier model requests (``ChatOpenAI(service_tier="priority")``)."""


@dataclass(frozen=True)
class Preflight:
    """The pre-flight estimate of one call on one tier."""

    tier: str
    prompt_tokens: int
    raw_prompt_tokens: int
    max_output_tokens: int
    output_cap_source: str
    worst_case_usd: float
    cache_writes: CacheWrites = "none"
    """Which prompt-cache writes the worst case allows for (``pricing.cache_writes_for``)."""
    service_tier: str | None = None
    """The service tier the worst case is priced at (``None``: standard)."""


@dataclass(frozen=True)
class CallPlan:
    """What a call would do before any I/O (``TieredChatModel.plan``).

    Budgets are not consulted: their room depends on what else is in flight when the call
    really runs. Neither are cooldowns or rate limits, which change from moment to moment.

    Attributes:
        routed_tier: The tier the router (or an override) picked.
        tier: The first tier that passes the pre-flight checks (``None``: none would).
        reason: The routing reason.
        score: The router's complexity score, if any.
        on_tier: The worst-case estimate on every tier, most capable first.
        skipped: ``(tier, why)`` for tiers the checks would skip before ``tier``.
    """

    routed_tier: str
    tier: str | None
    reason: str
    score: float | None
    on_tier: Mapping[str, Preflight]
    skipped: tuple[tuple[str, str], ...]

    @property
    def chosen(self) -> Preflight | None:
        """The estimate on the tier the call would go to."""
        return None if self.tier is None else self.on_tier[self.tier]


def model_max_tokens(model: BaseChatModel) -> int | None:
    """The output cap configured on a chat model instance, if any."""
    for attr in CAP_KWARGS:
        value = getattr(model, attr, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def max_tokens_kwarg(model: BaseChatModel) -> str | None:
    """The field name a chat model takes its output cap under, if any.

    Sending ``max_tokens`` to a model that calls it ``max_output_tokens`` (Gemini) would be
    ignored or rejected, so caps the package adds use the model's own name.
    """
    fields = getattr(type(model), "model_fields", {})
    name = next((n for n in CAP_KWARGS if n in fields), None)
    if name == "max_tokens" and fields[name].alias == "max_completion_tokens":
        # langchain-openai: the field is sent as max_completion_tokens by ChatOpenAI only;
        # other clients of the family (Azure) would send max_tokens, which reasoning models
        # reject, so name the parameter the API expects for them.
        model_name = getattr(model, "model_name", None) or ""
        if _REASONING_MODEL.match(str(model_name)):
            return "max_completion_tokens"
    return name


def model_max_output(model: BaseChatModel, known: int | None) -> int | None:
    """The most output tokens ``model`` can produce: its LangChain profile, else ``known``."""
    profile = getattr(model, "profile", None)
    value = profile.get("max_output_tokens") if isinstance(profile, dict) else None
    if isinstance(value, int) and value > 0:
        return value
    return known


def asks_stream_usage(model: BaseChatModel) -> bool:
    """Whether streams from ``model`` need ``stream_usage=True`` to report their usage.

    OpenAI-compatible models only send usage in a stream when asked; without it the cost of
    a streamed call could only be estimated.
    """
    fields = getattr(type(model), "model_fields", {})
    return "stream_usage" in fields and not getattr(model, "stream_usage", False)


def call_max_tokens(kwargs: dict[str, Any]) -> int | None:
    """The output cap passed with the call, if any."""
    for key in CAP_KWARGS:
        value = kwargs.get(key)
        if isinstance(value, int) and value > 0:
            return value
    return None


def service_tier_of(source: Any) -> str | None:
    """The service tier a call's kwargs or a chat model asks for (``"flex"``, ``"priority"``).

    Args:
        source: The call's keyword arguments (a mapping) or the tier's chat model.
    """
    value = source.get("service_tier") if isinstance(source, Mapping) else None
    if value is None and not isinstance(source, Mapping):
        value = getattr(source, "service_tier", None)
    return value if isinstance(value, str) and value else None


def resolve_output_cap(
    profile: TierProfile, call_cap: int | None, decision_cap: int | None
) -> tuple[int, str]:
    """The output cap for the worst case (and sent with the call) and where it came from.

    The router's task cap sits below the explicit settings: it only applies when the
    caller configured nothing. A model that takes no cap is priced at its own maximum
    output (``"model_max"``), else the tier's ``max_output_tokens``, else the default.
    """
    candidates: tuple[tuple[int | None, str], ...]
    if profile.max_tokens_kwarg is None:
        candidates = (
            (profile.max_output_limit, "model_max"),
            (profile.tier_max_output_tokens, "tier"),
        )
    else:
        candidates = (
            (call_cap, "call"),
            (profile.model_max_tokens, "model"),
            (profile.tier_max_output_tokens, "tier"),
            (decision_cap, "task"),
        )
    for value, source in candidates:
        if value is not None:
            return value, source
    limit = profile.max_output_limit
    default = DEFAULT_MAX_OUTPUT_TOKENS if limit is None else min(limit, DEFAULT_MAX_OUTPUT_TOKENS)
    return default, "default"


def max_output_within(
    price: ModelPrice,
    prompt_tokens: int,
    room_usd: float,
    *,
    cache_writes: CacheWrites = "none",
    service_tier: str | None = None,
) -> int:
    """The largest output cap whose worst case fits in ``room_usd`` (0 if the prompt can't).

    The output rate is the one of the long-context tier the prompt falls in.
    """
    flat = price.worst_case_price(
        prompt_tokens, service_tier=service_tier, cache_writes=cache_writes
    )
    room_for_output = room_usd - flat.worst_case(prompt_tokens, 0)
    if room_for_output <= 0:
        return 0
    if flat.output_per_mtok <= 0:
        return DEFAULT_MAX_OUTPUT_TOKENS
    return math.floor(room_for_output * 1_000_000 / flat.output_per_mtok)


def preflight(
    profile: TierProfile,
    prompt_tokens: int,
    raw_prompt_tokens: int,
    *,
    call_cap: int | None,
    decision_cap: int | None,
    cache_writes: CacheWrites = "none",
    service_tier: str | None = None,
) -> Preflight:
    """The worst case of a call of ``prompt_tokens`` (as counted) on ``profile``'s tier.

    A cap that is sent never asks for more than the context window leaves after the prompt
    (OpenAI rejects prompt + ``max_tokens`` above the window). ``cache_writes`` says which
    prompt-cache writes the call may cause (their premium is part of the worst case) and
    ``service_tier`` which tier the call asks for (else the tier model's own).
    """
    out, source = resolve_output_cap(profile, call_cap, decision_cap)
    tier = service_tier or profile.service_tier
    room = None if profile.context_window is None else profile.context_window - prompt_tokens
    if profile.max_tokens_kwarg is not None and room is not None and 0 < room < out:
        out = room
    return Preflight(
        tier=profile.name,
        prompt_tokens=prompt_tokens,
        raw_prompt_tokens=raw_prompt_tokens,
        max_output_tokens=out,
        output_cap_source=source,
        worst_case_usd=profile.price.worst_case(
            prompt_tokens, out, service_tier=tier, cache_writes=cache_writes
        ),
        cache_writes=cache_writes,
        service_tier=tier,
    )


def window_problem(window: int | None, prompt_tokens: int, min_window: int | None) -> str | None:
    """Why a prompt cannot go to a tier with this context ``window`` (``None``: it can).

    ``min_window`` is the window of a tier that already overflowed: only a larger one helps.
    """
    if min_window is not None and window is not None and window <= min_window:
        return f"context window {window} not larger than the tier that overflowed"
    if window is not None and prompt_tokens > window:
        return f"prompt of ~{prompt_tokens} tokens exceeds context window {window}"
    return None


def cap_error(pre: Preflight, max_cost_per_call: float | None) -> BudgetExceededError | None:
    """The error for a worst case above ``max_cost_per_call`` (``None``: within the cap)."""
    if max_cost_per_call is None or pre.worst_case_usd <= max_cost_per_call:
        return None
    return BudgetExceededError(
        f"worst-case cost ${pre.worst_case_usd:.6f} on tier {pre.tier!r} exceeds "
        f"max_cost_per_call=${max_cost_per_call:.6f}; raise max_cost_per_call to at least "
        f"${pre.worst_case_usd:.6f}, lower max_tokens, or add a cheaper tier",
        estimated_cost_usd=pre.worst_case_usd,
        limit_usd=max_cost_per_call,
        tier=pre.tier,
    )


def shrink_output(
    pre: Preflight, price: ModelPrice, room_usd: float, min_output_tokens: int
) -> Preflight | None:
    """``pre`` with its output cap lowered so the worst case fits ``room_usd``.

    ``None`` when that cap would fall below ``min_output_tokens``.
    """
    terms: dict[str, Any] = {"cache_writes": pre.cache_writes, "service_tier": pre.service_tier}
    allowed = min(
        pre.max_output_tokens, max_output_within(price, pre.prompt_tokens, room_usd, **terms)
    )
    if allowed < min_output_tokens:
        return None
    return Preflight(
        tier=pre.tier,
        prompt_tokens=pre.prompt_tokens,
        raw_prompt_tokens=pre.raw_prompt_tokens,
        max_output_tokens=allowed,
        output_cap_source="budget",
        worst_case_usd=price.worst_case(pre.prompt_tokens, allowed, **terms),
        **terms,
    )


def check_messages(messages: Sequence[BaseMessage]) -> None:
    """Refuse, before anything is priced or sent, a call no provider can answer.

    Raises:
        InvalidRequestError: No messages, or nothing but tool results.
    """
    if not messages:
        msg = "the call has no messages; pass a prompt string or at least one message"
        raise InvalidRequestError(msg)
    if all(isinstance(m, ToolMessage) for m in messages):
        msg = (
            "the call holds only tool results; send them after the AI message that made the "
            "tool calls (and the human turn before it)"
        )
        raise InvalidRequestError(msg)
