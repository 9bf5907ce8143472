"""The call plan of a tiered call, written once for sync and async.

A call is a generator that *yields actions* (call a tier, sleep, reserve budget, ...)
and receives their results; :mod:`langchain_tiered._call.drivers` executes the actions with
blocking or awaiting code. The policy - route, pre-flight, reserve, retry, fall back,
settle - therefore exists exactly once, and reads top to bottom like straight-line code.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from langchain_tiered._call.actions import (
    AcquireRate,
    Action,
    CallTier,
    Emit,
    Release,
    Reserve,
    Sleep,
)
from langchain_tiered._call.state import CallRequest, Runtime, Selected
from langchain_tiered.errors import (
    AllTiersFailedError,
    BudgetExceededError,
    NoTierFitsError,
    RateLimitExceededError,
)
from langchain_tiered.fallbacks import ErrorKind, classify_error, fallback_order
from langchain_tiered.preflight import (
    CallPlan,
    Preflight,
    TierProfile,
    max_output_within,
    resolve_output_cap,
)
from langchain_tiered.routing import RouteDecision, RouteRequest

if TYPE_CHECKING:
    from langchain_core.runnables import Runnable

    from langchain_tiered.ledger import Reservation

__all__ = ["CallRequest", "Runtime", "Selected", "decide", "plan_call", "preview"]

Plan = Generator[Action, Any, "Selected"]


def route(rt: Runtime, req: CallRequest, token_count: int | None) -> RouteDecision:
    """Pick the tier: a per-call override beats the router."""
    if req.override is not None:
        if req.override not in rt.by_name:
            names = ", ".join(rt.names)
            msg = f"unknown tier {req.override!r}; valid tier names: {names}"
            raise ValueError(msg)
        return RouteDecision(tier=req.override, reason=f"override: tier {req.override!r}")
    request = RouteRequest(
        messages=tuple(req.messages),
        tiers=rt.names,
        tools=req.openai_tools,
        structured_output=req.structured_output,
        metadata=req.metadata,
        token_count=token_count,
    )
    decision: RouteDecision = rt.router(request)
    if decision.tier not in rt.by_name:
        names = ", ".join(rt.names)
        msg = f"router returned unknown tier {decision.tier!r}; valid tier names: {names}"
        raise ValueError(msg)
    return decision


def estimate(rt: Runtime, profile: TierProfile, req: CallRequest, cap: int | None) -> Preflight:
    """Worst-case tokens and cost of this call on ``profile``'s tier."""
    from langchain_tiered.preflight import call_max_tokens  # noqa: PLC0415

    counted = rt.counter.count(req.messages, model=profile.model_name, tools=req.openai_tools)
    call_cap = call_max_tokens(req.kwargs)
    out, source = resolve_output_cap(profile, call_cap, cap)
    return Preflight(
        tier=profile.name,
        prompt_tokens=counted.estimate,
        raw_prompt_tokens=counted.raw,
        max_output_tokens=out,
        output_cap_source=source,
        worst_case_usd=profile.price.worst_case(counted.estimate, out),
    )


def _window_problem(profile: TierProfile, pre: Preflight, min_window: int | None) -> str | None:
    window = profile.context_window
    if min_window is not None and window is not None and window <= min_window:
        return f"context window {window} not larger than the tier that overflowed"
    if window is not None and pre.prompt_tokens > window:
        return f"prompt of ~{pre.prompt_tokens} tokens exceeds context window {window}"
    return None


def _cap_problem(rt: Runtime, pre: Preflight) -> BudgetExceededError | None:
    cap = rt.max_cost_per_call
    if cap is None or pre.worst_case_usd <= cap:
        return None
    return BudgetExceededError(
        f"worst-case cost ${pre.worst_case_usd:.6f} on tier {pre.tier!r} exceeds "
        f"max_cost_per_call=${cap:.6f}; raise max_cost_per_call to at least "
        f"${pre.worst_case_usd:.6f}, lower max_tokens, or add a cheaper tier",
        estimated_cost_usd=pre.worst_case_usd,
        limit_usd=cap,
        tier=pre.tier,
    )


def _shrink_output(
    rt: Runtime, profile: TierProfile, pre: Preflight, room: float
) -> Preflight | None:
    """With ``cap_output_to_budget``, lower the output cap so the worst case fits ``room``."""
    if not rt.cap_output_to_budget or profile.max_tokens_kwarg is None:
        return None
    allowed = min(pre.max_output_tokens, max_output_within(profile.price, pre.prompt_tokens, room))
    if allowed < rt.min_output_tokens:
        return None
    return Preflight(
        tier=pre.tier,
        prompt_tokens=pre.prompt_tokens,
        raw_prompt_tokens=pre.raw_prompt_tokens,
        max_output_tokens=allowed,
        output_cap_source="budget",
        worst_case_usd=profile.price.worst_case(pre.prompt_tokens, allowed),
    )


@dataclass
class _State:
    """Mutable bookkeeping of one plan run."""

    decision: RouteDecision
    order: deque[str]
    attempts: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    budget_errors: list[BudgetExceededError] = field(default_factory=list)
    windows_checked: list[int | None] = field(default_factory=list)
    largest_prompt: int = 0
    min_window: int | None = None
    tried: set[str] = field(default_factory=set)
    deadline: float = 0.0

    def skip(self, tier: str, reason: str) -> None:
        self.skipped.append({"tier": tier, "reason": reason})


def _admit(rt: Runtime, st: _State, profile: TierProfile, req: CallRequest) -> Preflight | None:
    """Pre-flight checks that need no I/O; ``None`` (with the reason recorded) skips the tier.

    With ``on_budget_exceeded="raise"`` only the routed tier raises: a fallback tier over a
    limit is skipped, so the caller still learns why the routed tier failed.
    """
    if rt.breaker.is_open(profile.name):
        left = rt.breaker.cooldown_remaining(profile.name)
        st.skip(profile.name, f"tier {profile.name!r} cooling down ({left:.1f}s left)")
        return None
    pre = estimate(rt, profile, req, st.decision.max_output_tokens)
    st.largest_prompt = max(st.largest_prompt, pre.prompt_tokens)
    st.windows_checked.append(profile.context_window)
    problem = _window_problem(profile, pre, st.min_window)
    if problem:
        st.skip(profile.name, problem)
        return None
    error = _cap_problem(rt, pre)
    if error is not None:
        shrunk = _shrink_output(rt, profile, pre, error.limit_usd)
        if shrunk is not None:
            return shrunk
        if rt.on_budget_exceeded == "raise" and profile.name == st.decision.tier:
            raise error
        st.budget_errors.append(error)
        st.skip(profile.name, f"worst case ${pre.worst_case_usd:.6f} over max_cost_per_call")
        return None
    return pre


def _reserve(
    rt: Runtime, st: _State, profile: TierProfile, pre: Preflight, limits: dict[str, float]
) -> Generator[Action, Any, tuple[Preflight, Reservation | None] | None]:
    """Reserve the worst case in every applicable budget; downgrade, shrink or raise on refusal."""
    if not limits:
        return pre, None
    try:
        reservation = yield Reserve(limits, pre.worst_case_usd, profile.name, rt.reservation_ttl)
    except BudgetExceededError as exc:
        room = exc.remaining_usd if exc.remaining_usd is not None else 0.0
        shrunk = _shrink_output(rt, profile, pre, room)
        if shrunk is not None:
            return (yield from _reserve(rt, st, profile, shrunk, limits))
        if rt.on_budget_exceeded == "raise" and profile.name == st.decision.tier:
            raise
        st.budget_errors.append(exc)
        st.skip(profile.name, f"budget {exc.scope!r} has ${room:.6f} left")
        return None
    return pre, reservation


def _attempt(
    rt: Runtime,
    st: _State,
    req: CallRequest,
    tier: str,
    *,
    runnable: Runnable[Any, Any],
    call_kwargs: dict[str, Any],
) -> Generator[Action, Any, tuple[bool, Any]]:
    """Call one tier with retries. Returns ``(True, result)`` or ``(False, ErrorInfo)``."""
    for number in range(rt.retry.max_attempts):
        try:
            result = yield CallTier(tier, runnable, req.messages, req.stop, call_kwargs, req.stream)
        except Exception as exc:
            info = classify_error(exc)
            record = {
                "tier": tier,
                "error_type": info.error_type,
                "status": info.status,
                "kind": info.kind.value,
                "message": info.message,
                "waited_s": 0.0,
                "error": exc,
            }
            st.attempts.append(record)
            if info.kind is ErrorKind.RETRYABLE:
                rt.breaker.record_failure(tier)
            if info.kind is ErrorKind.FATAL or (
                info.kind not in rt.fallback_on and info.kind is not ErrorKind.REFUSAL
            ):
                raise
            if info.kind is ErrorKind.RETRYABLE and number + 1 < rt.retry.max_attempts:
                delay = rt.retry.delay(number + 1, info.retry_after, rt.rng)
                if rt.clock.monotonic() + delay <= st.deadline and not rt.breaker.is_open(tier):
                    record["waited_s"] = delay
                    yield Sleep(delay)
                    continue
            if info.retry_after is not None:  # not waited out here: others skip it as well
                rt.breaker.hold(tier, info.retry_after)
            return False, info
        rt.breaker.record_success(tier)
        st.attempts.append(
            {
                "tier": tier,
                "error_type": None,
                "status": None,
                "kind": "ok",
                "message": None,
                "waited_s": 0.0,
            }
        )
        return True, result
    return False, None  # pragma: no cover - loop always returns


def _after_failure(rt: Runtime, st: _State, profile: TierProfile, info: Any, exc: Any) -> None:
    """Adjust the remaining order after a failed tier (context overflow, refusal)."""
    if info is None:
        return
    if info.kind is ErrorKind.CONTEXT_OVERFLOW:
        window = profile.context_window
        st.min_window = max(st.min_window or 0, window or 0) or None
    elif info.kind is ErrorKind.REFUSAL:
        target = rt.refusal_tier
        if (target is None or target in st.tried) and ErrorKind.REFUSAL not in rt.fallback_on:
            raise exc
        if target is not None and target not in st.tried:
            st.order.appendleft(target)


def _initial_order(rt: Runtime, routed: str) -> deque[str]:
    order = fallback_order(
        rt.names, routed, allow_upgrade=rt.allow_upgrade, overrides=rt.fallback_overrides
    )
    return deque(order)


def decide(rt: Runtime, req: CallRequest) -> RouteDecision:
    """Route a call; the router sees the prompt's size counted for the most capable tier.

    Routers that declare ``needs_token_count = False`` (the default ``ComplexityRouter``)
    are spared that count: the routed tier's own count follows in the pre-flight anyway.
    """
    if req.override is not None or not getattr(rt.router, "needs_token_count", True):
        return route(rt, req, None)
    first = rt.profiles[0]
    approx = rt.counter.count(req.messages, model=first.model_name, tools=req.openai_tools).raw
    return route(rt, req, approx)


def preview(rt: Runtime, req: CallRequest) -> CallPlan:
    """What a call would do before any I/O: route, price every tier, walk the fallback order.

    The same checks as the pre-flight of :func:`plan_call` (context window,
    ``max_cost_per_call``), without budgets, cooldowns or rate limits.
    """
    decision = decide(rt, req)
    on_tier = {p.name: estimate(rt, p, req, decision.max_output_tokens) for p in rt.profiles}
    skipped: list[tuple[str, str]] = []
    chosen = None
    for name in _initial_order(rt, decision.tier):
        pre = on_tier[name]
        problem = _window_problem(rt.by_name[name], pre, None)
        if problem is None and _cap_problem(rt, pre) is not None:
            problem = f"worst case ${pre.worst_case_usd:.6f} over max_cost_per_call"
        if problem is None:
            chosen = name
            break
        skipped.append((name, problem))
        if rt.on_budget_exceeded == "raise" and "max_cost_per_call" in problem:
            break  # the real call raises BudgetExceededError here
    return CallPlan(decision.tier, chosen, decision.reason, decision.score, on_tier, tuple(skipped))


def plan_call(rt: Runtime, req: CallRequest, limits: dict[str, float]) -> Plan:
    """Route, check, reserve, call with retries and fallbacks; return the answering tier."""
    decision = decide(rt, req)
    st = _State(decision=decision, order=_initial_order(rt, decision.tier))
    st.deadline = rt.clock.monotonic() + rt.retry.max_total_seconds
    yield Emit(
        "tiered.route", {"tier": decision.tier, "reason": decision.reason, "score": decision.score}
    )
    try:
        while st.order:
            name = st.order.popleft()
            if name in st.tried:
                continue
            st.tried.add(name)
            seen = len(st.skipped)
            selected = yield from _try_tier(rt, st, req, rt.by_name[name], limits)
            for skip in st.skipped[seen:]:  # downgrades, cooldowns, windows, rate limits
                yield Emit("tiered.skip", dict(skip))
            if selected is not None:
                return selected
        raise _final_error(st)
    except (BudgetExceededError, NoTierFitsError, AllTiersFailedError) as exc:
        yield Emit(
            "tiered.refused",
            {"error": type(exc).__name__, "message": str(exc), "routed_tier": decision.tier},
        )
        raise


def _try_tier(
    rt: Runtime, st: _State, req: CallRequest, profile: TierProfile, limits: dict[str, float]
) -> Generator[Action, Any, Selected | None]:
    runnable, why = req.bind(profile.name)
    if runnable is None:
        st.skip(profile.name, why)
        return None
    pre = _admit(rt, st, profile, req)
    if pre is None:
        return None
    reserved = yield from _reserve(rt, st, profile, pre, limits)
    if reserved is None:
        return None
    pre, reservation = reserved
    call_kwargs = _call_kwargs(req, profile, pre)
    try:
        limiter = rt.limiters.get(profile.name)
        if limiter is not None:
            weight = pre.prompt_tokens + pre.max_output_tokens
            yield AcquireRate(limiter, weight, rt.rate_limit_max_wait, profile.name)
        ok, payload = yield from _attempt(
            rt, st, req, profile.name, runnable=runnable, call_kwargs=call_kwargs
        )
    except RateLimitExceededError as exc:
        yield from _release(reservation)
        st.skip(profile.name, f"rate limited locally (wait {exc.wait_seconds:.1f}s)")
        return None
    except BaseException:
        yield from _release(reservation)
        raise
    if ok:
        return Selected(
            profile,
            st.decision,
            st.decision.tier,
            pre,
            reservation,
            tuple(limits),
            payload,
            st.attempts,
            st.skipped,
            call_kwargs,
        )
    yield from _release(reservation)
    if st.order or rt.refusal_tier:
        yield Emit(
            "tiered.fallback",
            {"from_tier": profile.name, "error": payload.error_type if payload else None},
        )
    _after_failure(rt, st, profile, payload, st.attempts[-1].get("error"))
    return None


def _release(reservation: Reservation | None) -> Generator[Action, Any, None]:
    if reservation is not None:
        yield Release(reservation)


def _call_kwargs(req: CallRequest, profile: TierProfile, pre: Preflight) -> dict[str, Any]:
    """Kwargs sent to the tier: the caller's plus what the plan adds.

    The plan adds an output cap it decided on, and ``stream_usage`` for streams from
    OpenAI-compatible tiers (the cost needs their usage).
    """
    extra: dict[str, Any] = {}
    if pre.output_cap_source in ("task", "budget") and profile.max_tokens_kwarg is not None:
        extra[profile.max_tokens_kwarg] = pre.max_output_tokens
    if req.stream and profile.ask_stream_usage and "stream_usage" not in req.kwargs:
        extra["stream_usage"] = True
    return {**req.kwargs, **extra} if extra else req.kwargs


def _final_error(st: _State) -> Exception:
    """The error that explains why no tier answered."""
    if st.attempts:
        tried = ", ".join(f"{a['tier']}: {a['error_type']}" for a in st.attempts)
        return AllTiersFailedError(
            f"every tier failed ({tried}); skipped: {_skips(st)}", attempts=st.attempts
        )
    if st.budget_errors:
        cheapest = min(st.budget_errors, key=lambda e: e.estimated_cost_usd)
        cheapest.args = (f"{cheapest.args[0]} (no tier fits; skipped: {_skips(st)})",)
        return cheapest
    window_skips = [s for s in st.skipped if "context window" in s["reason"]]
    if window_skips and len(window_skips) == len(st.skipped):
        known = [w for w in st.windows_checked if w is not None]
        largest = max(known) if known else None
        return NoTierFitsError(
            f"prompt of ~{st.largest_prompt} tokens fits no tier (largest context window "
            f"{largest}); shorten the prompt or add a tier with a larger window",
            token_count=st.largest_prompt,
            largest_window=largest,
        )
    return AllTiersFailedError(f"no tier could take the call; skipped: {_skips(st)}", attempts=[])


def _skips(st: _State) -> str:
    return "; ".join(f"{s['tier']} ({s['reason']})" for s in st.skipped) or "none"
