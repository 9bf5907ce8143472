"""The call plan of a tiered call, written once for sync and async.

A call is a generator that *yields actions* (call a tier, sleep, reserve budget, ...)
and receives their results; :mod:`langchain_tiered._call.drivers` executes the actions with
blocking or awaiting code. The policy - route, pre-flight, reserve, retry, fall back,
settle - therefore exists exactly once, and reads top to bottom like straight-line code.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
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
from langchain_tiered._call.decide import (
    decide,
    estimate,
    initial_order,
    preview,
    verify_conversation,
)
from langchain_tiered._call.outcome import Hold, charge_unknown, ledger_failed, outcome_unknown
from langchain_tiered._call.plan_state import PlanState, shortfall_detail
from langchain_tiered._call.records import Attempt, SkipReason
from langchain_tiered._call.refusal import settle_refusal
from langchain_tiered._call.state import CallRequest, Runtime, Selected
from langchain_tiered._redact import redact
from langchain_tiered.agents.engine import run_budget_error, stick
from langchain_tiered.alerts import alerts_after_settle
from langchain_tiered.errors import (
    AllTiersFailedError,
    BudgetExceededError,
    NoTierFitsError,
    RateLimitExceededError,
)
from langchain_tiered.fallbacks import ErrorInfo, ErrorKind, classify_error
from langchain_tiered.preflight import (
    CAP_KWARGS,
    Preflight,
    TierProfile,
    cap_error,
    shrink_output,
    window_problem,
)

if TYPE_CHECKING:
    from langchain_tiered.ledger import Reservation

__all__ = ["CallRequest", "Runtime", "Selected", "decide", "plan_call", "preview"]

Plan = Generator[Action, Any, "Selected"]


def _shrink(rt: Runtime, profile: TierProfile, pre: Preflight, room: float) -> Preflight | None:
    """With ``cap_output_to_budget``, the estimate with an output cap that fits ``room``."""
    if not rt.settings.cap_output_to_budget or profile.max_tokens_kwarg is None:
        return None
    return shrink_output(pre, profile.price, room, rt.settings.min_output_tokens)


def _admit(rt: Runtime, st: PlanState, profile: TierProfile, req: CallRequest) -> Preflight | None:
    """Pre-flight checks that need no I/O; ``None`` (with the reason recorded) skips the tier.

    With ``on_budget_exceeded="raise"`` only the routed tier raises: a fallback tier over a
    limit is skipped, so the caller still learns why the routed tier failed.
    """
    if rt.breaker.is_open(profile.name):
        left = rt.breaker.cooldown_remaining(profile.name)
        detail = f"tier {profile.name!r} cooling down ({left:.1f}s left)"
        st.skip(profile.name, SkipReason.COOLING_DOWN, detail)
        return None
    pre = estimate(rt, profile, req, st.decision.max_output_tokens)
    problem = window_problem(profile.context_window, pre.prompt_tokens, st.min_window)
    if problem and verify_conversation(rt, req):  # never skip a tier on a stale count
        pre = estimate(rt, profile, req, st.decision.max_output_tokens)
        problem = window_problem(profile.context_window, pre.prompt_tokens, st.min_window)
    st.largest_prompt = max(st.largest_prompt, pre.prompt_tokens)
    st.windows_checked.append(profile.context_window)
    if problem:
        st.skip(profile.name, SkipReason.CONTEXT_WINDOW, problem)
        return None
    error = cap_error(pre, rt.settings.max_cost_per_call)
    if error is not None:
        shrunk = _shrink(rt, profile, pre, error.limit_usd)
        if shrunk is not None:
            return shrunk
        if rt.settings.on_budget_exceeded == "raise" and profile.name == st.decision.tier:
            raise error
        st.budget_errors.append(error)
        cap = error.limit_usd
        detail = shortfall_detail(rt, "over max_cost_per_call", pre, cap, cap, left_label="allowed")
        st.skip(profile.name, SkipReason.OVER_CALL_CAP, detail)
        return None
    return pre


def _reserve(
    rt: Runtime, st: PlanState, profile: TierProfile, pre: Preflight, limits: dict[str, float]
) -> Generator[Action, Any, tuple[Preflight, Reservation | None] | None]:
    """Reserve the worst case in every applicable budget; downgrade, shrink or raise on refusal."""
    if not limits:
        return pre, None
    ttl = rt.settings.reservation_ttl_seconds
    try:
        reservation = yield Reserve(limits, pre.worst_case_usd, profile.name, ttl)
    except BudgetExceededError as exc:
        room = exc.remaining_usd if exc.remaining_usd is not None else 0.0
        shrunk = _shrink(rt, profile, pre, room)
        if shrunk is not None:
            return (yield from _reserve(rt, st, profile, shrunk, limits))
        if rt.settings.on_budget_exceeded == "raise" and profile.name == st.decision.tier:
            raise
        st.budget_errors.append(exc)
        detail = shortfall_detail(rt, f"budget {exc.scope!r}", pre, room, exc.limit_usd)
        st.skip(profile.name, SkipReason.OVER_BUDGET, detail)
        return None
    return pre, reservation


@dataclass
class _TierCall:
    """One tier's turn: its estimate, the reservation its attempts run under, the call."""

    profile: TierProfile
    pre: Preflight
    hold: Hold
    limits: dict[str, float]
    call: CallTier


def _attempt(
    rt: Runtime, st: PlanState, req: CallRequest, tc: _TierCall
) -> Generator[Action, Any, tuple[bool, Any]]:
    """Call one tier with retries. Returns ``(True, result)`` or ``(False, ErrorInfo)``."""
    tier = tc.profile.name
    info: ErrorInfo | None = None
    for number in range(1, rt.retry.max_attempts + 1):
        # After an unknown outcome was charged, a retry needs room of its own.
        needs_room = number > 1 and bool(tc.limits) and tc.hold.reservation is None
        if needs_room and not (yield from _rereserve(rt, st, tc)):
            return False, info
        try:
            result = yield tc.call
        except Exception as exc:
            info = classify_error(exc)
            attempt = Attempt.failed(tier, info, exc, redact(info.message, rt.secrets))
            st.attempts.append(attempt)
            if outcome_unknown(info) and rt.settings.unknown_outcome == "charge":
                st.unknown_outcome_usd += yield from charge_unknown(
                    rt,
                    tc.profile,
                    tc.pre,
                    tc.hold,
                    attempt,
                    budget_keys=tuple(tc.limits),
                    fallback=tier != st.decision.tier,
                    run_id=req.run_id,
                )
            # A 429 without Retry-After backs the tier off briefly (pause) instead of
            # counting towards the outage breaker; this call waits the pause out to retry.
            pause = (
                rt.breaker.record_failure(tier, info) if info.kind is ErrorKind.RETRYABLE else 0.0
            )
            if info.kind is ErrorKind.FATAL or (
                info.kind not in rt.fallback_on and info.kind is not ErrorKind.REFUSAL
            ):
                raise
            if info.retry_same_tier:  # not for an exhausted quota: fall back at once
                elapsed = rt.clock.monotonic() - st.started
                at_least = max(info.retry_after or 0.0, pause) or None
                delay = rt.retry.next_delay(
                    number, elapsed=elapsed, retry_after=at_least, rng=rt.rng
                )
                if delay is not None and (pause > 0 or not rt.breaker.is_open(tier)):
                    attempt.waited_s = delay
                    yield Sleep(delay)
                    continue
            if info.retry_after is not None:  # not waited out here: others skip it as well
                rt.breaker.hold(tier, info.retry_after)
            return False, info
        except BaseException as exc:  # cancelled while the request was out: maybe billed
            yield from _charge_abandoned(rt, st, req, tc, exc)
            raise
        rt.breaker.record_success(tier)
        st.attempts.append(Attempt(tier))
        return True, result
    return False, info  # pragma: no cover - loop always returns


def _charge_abandoned(
    rt: Runtime, st: PlanState, req: CallRequest, tc: _TierCall, exc: BaseException
) -> Generator[Action, Any, None]:
    """Charge a request the caller gave up on while it was out (cancelled, interrupted).

    It was sent, so the provider may run and bill it: an unknown outcome like a timeout.
    """
    if rt.settings.unknown_outcome != "charge" or isinstance(exc, GeneratorExit):
        return
    name = type(exc).__name__
    attempt = Attempt(tc.profile.name, ErrorKind.RETRYABLE, name, None, "caller gave up", 0.0, exc)
    yield from charge_unknown(
        rt,
        tc.profile,
        tc.pre,
        tc.hold,
        attempt,
        budget_keys=tuple(tc.limits),
        fallback=tc.profile.name != st.decision.tier,
        run_id=req.run_id,
    )


def _rereserve(rt: Runtime, st: PlanState, tc: _TierCall) -> Generator[Action, Any, bool]:
    ttl = rt.settings.reservation_ttl_seconds
    try:
        tc.hold.reservation = yield Reserve(tc.limits, tc.pre.worst_case_usd, tc.profile.name, ttl)
    except BudgetExceededError as exc:
        room = exc.remaining_usd if exc.remaining_usd is not None else 0.0
        st.budget_errors.append(exc)
        detail = shortfall_detail(rt, f"budget {exc.scope!r} (retry)", tc.pre, room, exc.limit_usd)
        st.skip(tc.profile.name, SkipReason.OVER_BUDGET, detail)
        return False
    return True


def _after_failure(
    rt: Runtime, st: PlanState, profile: TierProfile, info: ErrorInfo | None
) -> None:
    """Adjust the remaining order after a failed tier (context overflow, refusal)."""
    if info is None:
        return
    if info.kind is ErrorKind.CONTEXT_OVERFLOW:
        window = profile.context_window
        st.min_window = max(st.min_window or 0, window or 0) or None
    elif info.kind is ErrorKind.REFUSAL:
        target = rt.settings.refusal_tier
        if (target is None or target in st.tried) and ErrorKind.REFUSAL not in rt.fallback_on:
            raise st.attempts[-1].error  # type: ignore[misc]
        if target is not None and target not in st.tried:
            st.order.appendleft(target)


def plan_call(rt: Runtime, req: CallRequest) -> Plan:
    """Route, check, reserve, call with retries and fallbacks; return the answering tier."""
    limits = rt.limits_for(req.metadata)
    decision = stick(rt, req, decide(rt, req))  # a thread stays where its cache is
    st = PlanState(decision=decision, order=initial_order(rt, decision.tier))
    st.started = rt.clock.monotonic()
    if req.listening:  # every call: not even built when nobody listens
        yield Emit(
            "tiered.route",
            {"tier": decision.tier, "reason": decision.reason, "score": decision.score},
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
                yield Emit("tiered.skip", dict(skip.to_dict()))
            if selected is not None:
                return selected
        raise st.final_error(rt.secrets)
    except (BudgetExceededError, NoTierFitsError, AllTiersFailedError) as exc:
        if st.unknown_outcome_usd and rt.budgets:  # charged though nothing answered
            now, cost = rt.clock.now(), st.unknown_outcome_usd
            yield from alerts_after_settle(
                rt.budgets, tuple(limits), req.metadata, now, cost, listening=True
            )
        error = run_budget_error(rt, req, exc)  # a run budget's refusal says what the run did
        yield Emit(
            "tiered.refused",
            {
                "error": type(error).__name__,
                "message": redact(str(error), rt.secrets),
                "routed_tier": decision.tier,
            },
        )
        if error is not exc:
            raise error from exc
        raise


def _try_tier(
    rt: Runtime, st: PlanState, req: CallRequest, profile: TierProfile, limits: dict[str, float]
) -> Generator[Action, Any, Selected | None]:
    runnable, why = req.bind(profile.name)
    if runnable is None:
        st.skip(profile.name, SkipReason.NO_TOOLS, why)
        return None
    pre = _admit(rt, st, profile, req)
    if pre is None:
        return None
    reserved = yield from _reserve(rt, st, profile, pre, limits)
    if reserved is None:
        return None
    pre, reservation = reserved
    call_kwargs = _call_kwargs(req, profile, pre)
    call = CallTier(profile.name, runnable, req.messages, req.stop, call_kwargs, req.stream)
    tc = _TierCall(profile, pre, Hold(reservation), limits, call)
    try:
        limiter = rt.limiters.get(profile.name)
        if limiter is not None:
            weight = pre.prompt_tokens + pre.max_output_tokens
            yield AcquireRate(limiter, weight, rt.settings.rate_limit_max_wait, profile.name)
        ok, payload = yield from _attempt(rt, st, req, tc)
    except RateLimitExceededError as exc:
        yield from _release(rt, tc.hold.reservation)
        detail = f"rate limited locally (wait {exc.wait_seconds:.1f}s)"
        st.skip(profile.name, SkipReason.RATE_LIMITED, detail)
        return None
    except BaseException:
        yield from _release(rt, tc.hold.reservation)
        raise
    if ok:
        sel = Selected(
            profile=profile,
            decision=st.decision,
            pre=pre,
            reservation=tc.hold.reservation,
            budget_keys=tuple(limits),
            result=payload,
            attempts=st.attempts,
            skipped=st.skipped,
            call_kwargs=call_kwargs,
            unknown_outcome_usd=st.unknown_outcome_usd,
            thread=req.thread,
            run=req.run,
        )
        # A refusal sent as an answer (stop_reason "refusal", a content filter) is settled
        # and re-routed like a refusal error when refusal_tier/fallback_on asks for it.
        refused = yield from settle_refusal(
            rt, sel, tried=st.tried, order=st.order, run_id=req.run_id
        )
        if refused is None:
            return sel
        payload, tc.hold.reservation = refused, None
    yield from _release(rt, tc.hold.reservation)
    if st.order or rt.settings.refusal_tier:
        yield Emit(
            "tiered.fallback",
            {"from_tier": profile.name, "error": payload.error_type if payload else None},
        )
    _after_failure(rt, st, profile, payload)
    return None


def _release(rt: Runtime, reservation: Reservation | None) -> Generator[Action, Any, None]:
    if reservation is None:
        return
    try:
        yield Release(reservation)
    except Exception as exc:
        # The hold expires with its TTL (conservative); the call's own outcome (a fallback,
        # its real error) matters more than the ledger's.
        ledger_failed(rt, exc)


def _call_kwargs(req: CallRequest, profile: TierProfile, pre: Preflight) -> dict[str, Any]:
    """Kwargs sent to the tier: the caller's plus what the plan adds.

    The output cap that priced the call is always sent, under the one parameter the tier's
    model takes (a caller's ``max_tokens`` becomes ``max_output_tokens`` for a Gemini tier),
    so the provider cannot answer longer than the reserved worst case. Streams from
    OpenAI-compatible tiers also ask for ``stream_usage`` (the cost needs their usage).
    """
    kwargs = req.kwargs
    kwarg = profile.max_tokens_kwarg
    if kwarg is not None:
        kwargs = {k: v for k, v in kwargs.items() if k not in CAP_KWARGS}
        kwargs[kwarg] = pre.max_output_tokens
    if req.stream and profile.ask_stream_usage and "stream_usage" not in req.kwargs:
        kwargs = {**kwargs, "stream_usage": True}
    return kwargs
