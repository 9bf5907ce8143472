"""Deciding where a call goes, before any I/O: route, estimate, and the dry run ``preview``.

Shared by the plan (:mod:`langchain_tiered._call.plan`), the cascade and
``TieredChatModel.plan``; pure apart from the token counter's memo.
"""

from __future__ import annotations

from collections import deque

from langchain_tiered._call.state import CallRequest, Runtime
from langchain_tiered._conversation import verified
from langchain_tiered.errors import RouterError
from langchain_tiered.fallbacks import fallback_order
from langchain_tiered.preflight import (
    CallPlan,
    Preflight,
    TierProfile,
    call_max_tokens,
    cap_error,
    check_messages,
    preflight,
    service_tier_of,
    window_problem,
)
from langchain_tiered.pricing import cache_writes_for
from langchain_tiered.routing import RouteDecision, RouteRequest

__all__ = ["decide", "estimate", "initial_order", "preview", "route", "verify_conversation"]


def verify_conversation(rt: Runtime, req: CallRequest) -> bool:
    """Check the call's resent messages in full if only their identity was; whether it was.

    ``build_request`` compares resent messages by identity alone when no budget, cap or
    rate limit rests on the count. Before a count decides anything else (skipping a tier
    for its context window, a dry run), an in-place ``content`` reassignment must be seen.
    """
    conversation = req.conversation
    if conversation is None or conversation.verified:
        return False
    checked = verified(conversation)
    if checked is not conversation:
        req.conversation = checked
        if rt.last_conversation is conversation:
            rt.last_conversation = checked
    return True


def route(rt: Runtime, req: CallRequest, token_count: int | None) -> RouteDecision:
    """Pick the tier: a per-call override beats the router."""
    if req.override is not None:
        if req.override not in rt.by_name:
            names = ", ".join(rt.names)
            msg = f"unknown tier {req.override!r}; valid tier names: {names}"
            raise ValueError(msg)
        return RouteDecision(tier=req.override, reason=f"override: tier {req.override!r}")
    conversation = req.conversation
    request = RouteRequest(
        # The conversation holds the same messages as a tuple already (no copy per call).
        messages=tuple(req.messages) if conversation is None else conversation.messages,
        tiers=rt.names,
        tools=req.openai_tools,
        structured_output=req.structured_output,
        metadata=req.metadata,
        token_count=token_count,
    )
    if conversation is not None:  # the prefix check done once per call (text_length)
        request.__dict__["_conversation"] = conversation
    decision = rt.router(request)
    if not isinstance(decision, RouteDecision):
        msg = (
            f"router {type(rt.router).__name__} returned {type(decision).__name__}, not a "
            "RouteDecision; return RouteDecision(tier=..., reason=...) from the router"
        )
        raise RouterError(msg)
    if decision.tier not in rt.by_name:
        names = ", ".join(rt.names)
        msg = f"router returned unknown tier {decision.tier!r}; valid tier names: {names}"
        raise ValueError(msg)
    return decision


def estimate(rt: Runtime, profile: TierProfile, req: CallRequest, cap: int | None) -> Preflight:
    """Worst-case tokens and cost of this call on ``profile``'s tier."""
    counted = rt.counter.count(
        req.messages,
        model=profile.model_name,
        tools=req.openai_tools,
        conversation=req.conversation,
    )
    return preflight(
        profile,
        counted.estimate,
        counted.raw,
        call_cap=call_max_tokens(req.kwargs),
        decision_cap=cap,
        cache_writes=cache_writes_for(
            profile.model_name, req.messages, req.kwargs, req.openai_tools
        ),
        service_tier=service_tier_of(req.kwargs),
    )


def initial_order(rt: Runtime, routed: str) -> deque[str]:
    """The tiers to try, routed first (remembered per routed tier and ``allow_upgrade``)."""
    key = (routed, rt.settings.allow_upgrade)
    order = rt.orders.get(key)
    if order is None:
        order = tuple(
            fallback_order(
                rt.names,
                routed,
                allow_upgrade=rt.settings.allow_upgrade,
                overrides=rt.fallback_overrides,
            )
        )
        rt.orders[key] = order
    return deque(order)


def decide(rt: Runtime, req: CallRequest) -> RouteDecision:
    """Route a call; the router sees the prompt's size counted for the most capable tier.

    Routers that declare ``needs_token_count = False`` (the default ``ComplexityRouter``)
    are spared that count: the routed tier's own count follows in the pre-flight anyway.
    """
    check_messages(req.messages)
    if req.override is not None or not getattr(rt.router, "needs_token_count", True):
        return route(rt, req, None)
    first = rt.profiles[0]
    approx = rt.counter.count(
        req.messages,
        model=first.model_name,
        tools=req.openai_tools,
        conversation=req.conversation,
    ).raw
    return route(rt, req, approx)


def preview(rt: Runtime, req: CallRequest) -> CallPlan:
    """What a call would do before any I/O: route, price every tier, walk the fallback order.

    The same checks as the pre-flight of :func:`plan_call` (context window,
    ``max_cost_per_call``), without budgets, cooldowns or rate limits.
    """
    verify_conversation(rt, req)
    decision = decide(rt, req)
    on_tier = {p.name: estimate(rt, p, req, decision.max_output_tokens) for p in rt.profiles}
    skipped: list[tuple[str, str]] = []
    chosen = None
    for name in initial_order(rt, decision.tier):
        pre = on_tier[name]
        problem = window_problem(rt.by_name[name].context_window, pre.prompt_tokens, None)
        over_cap = problem is None and cap_error(pre, rt.settings.max_cost_per_call) is not None
        if over_cap:
            problem = f"worst case ${pre.worst_case_usd:.6f} over max_cost_per_call"
        if problem is None:
            chosen = name
            break
        skipped.append((name, problem))
        if over_cap and rt.settings.on_budget_exceeded == "raise":
            break  # the real call raises BudgetExceededError here
    return CallPlan(decision.tier, chosen, decision.reason, decision.score, on_tier, tuple(skipped))
