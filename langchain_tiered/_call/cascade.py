"""The escalation loop of a cascade, written once for sync and async like the call plan.

Each step is one ordinary engine call (:func:`~langchain_tiered._call.plan.plan_call`) with
the step's tier forced and ``max_cost_per_call`` lowered to what the cascade has left, so every
step is pre-flighted, reserved and settled by the engine itself before the next one starts:
the total never exceeds the cap or a budget. A rejected answer that is escalated is settled
as overhead (its spend record carries no baseline), so savings versus the top tier count the
rejected cheap answers against the cascade. Judge calls run the same way.

Streaming lives in :mod:`langchain_tiered._call.cascade_stream`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from langchain_core.messages import AIMessage

from langchain_tiered._call.actions import Action, Emit, Record, Settle
from langchain_tiered._call.plan import decide, plan_call
from langchain_tiered._call.settle import settle_call
from langchain_tiered.alerts import alerts_after_settle
from langchain_tiered.cascade.base import (
    Ask,
    Cascade,
    CascadeRejectedError,
    CascadeRequest,
    CascadeStep,
    Verdict,
)
from langchain_tiered.errors import AllTiersFailedError, BudgetExceededError, NoTierFitsError

if TYPE_CHECKING:
    from langchain_tiered._call.state import CallRequest, Runtime, Selected
    from langchain_tiered.metadata import TieredMetadata

__all__ = ["CascadeRun", "answer_step", "cascade_call", "take_steps"]

_REFUSED = (BudgetExceededError, NoTierFitsError, AllTiersFailedError)


@dataclass
class CascadeRun:
    """Bookkeeping of one cascade."""

    rt: Runtime
    req: CallRequest
    cascade: Cascade
    run_id: str | None
    routed_reason: str = ""
    start: str = ""
    steps: list[CascadeStep] = field(default_factory=list)
    attempts: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    fallback: bool = False
    tried: set[str] = field(default_factory=set)
    spent: float = 0.0
    estimated: float = 0.0
    pending: float = 0.0
    """Worst case of the answer under review, reserved but not yet settled (judge calls run
    while it is held, so they must fit beside it)."""
    stopped: str = ""

    def room(self) -> float | None:
        """What the whole-cascade cap (``max_cost_per_call``) still allows."""
        cap = self.rt.settings.max_cost_per_call
        return None if cap is None else cap - self.spent - self.pending

    def above(self, tier: str) -> list[str]:
        """Untried tiers more capable than ``tier``, nearest first."""
        names = self.rt.names
        return [n for n in reversed(names[: names.index(tier)]) if n not in self.tried]

    def is_last(self, tier: str) -> bool:
        """Whether an answer from ``tier`` ends the cascade whatever its verdict."""
        full = self.cascade.max_steps is not None and len(self.steps) + 1 >= self.cascade.max_steps
        return full or not self.above(tier)


def _step_runtime(run: CascadeRun, tier: str, escalate: list[str] | None) -> Runtime:
    """The runtime for one step: the remaining cap, and fallbacks only to ``escalate``.

    ``None`` keeps the model's own fallback order (the first step falls back like any call).
    """
    room = run.room()
    if room is not None and room <= 0:
        msg = f"cascade spent ${run.spent:.6f}, all of max_cost_per_call; raise it to escalate"
        raise BudgetExceededError(msg, estimated_cost_usd=0.0, limit_usd=room, tier=tier)
    overrides = run.rt.fallback_overrides
    if escalate is not None:
        overrides = {**overrides, tier: tuple(escalate)}
    settings = run.rt.settings if room is None else _Capped(run.rt.settings, room)
    # The engine reads the cap from ``settings``; a stand-in lowers it for this step only.
    return dataclasses.replace(run.rt, settings=cast("Any", settings), fallback_overrides=overrides)


class _Capped:
    """The model's settings with ``max_cost_per_call`` lowered to what the cascade has left."""

    def __init__(self, settings: Any, cap: float) -> None:
        self._settings = settings
        self.max_cost_per_call = cap

    def __getattr__(self, name: str) -> Any:
        return getattr(self._settings, name)


def _mapped(
    plan: Generator[Action, Any, Any], change: Callable[[Action], Action | None]
) -> Generator[Action, Any, Any]:
    """Run ``plan`` with each action replaced by ``change(action)`` (``None``: dropped)."""
    send: Any = None
    throw: BaseException | None = None
    while True:
        try:
            action = plan.throw(throw) if throw is not None else plan.send(send)
        except StopIteration as stop:
            return stop.value
        send, throw = None, None
        changed = change(action)
        if changed is None:  # only events are dropped: their result is None
            continue
        try:
            send = yield changed
        except BaseException as exc:  # the inner plan handles (or re-raises) it
            throw = exc


def _overhead_action(action: Action) -> Action:
    if isinstance(action, Settle) and action.record is not None:
        return Settle(action.reservation, action.actual_usd, _no_baseline(action.record))
    if isinstance(action, Record):
        return Record(_no_baseline(action.record))
    return action


def _as_overhead(plan: Generator[Action, Any, Any]) -> Generator[Action, Any, Any]:
    """Run ``plan``, writing its spend records without a baseline (paid, saved nothing)."""
    return _mapped(plan, _overhead_action)


def _no_settled_event(action: Action) -> Action | None:
    return None if isinstance(action, Emit) and action.name == "tiered.settled" else action


def _no_baseline(record: Any) -> Any:
    return dataclasses.replace(record, baseline_cost_usd=0.0)


def _alerts(run: CascadeRun, meta: Mapping[str, Any]) -> Generator[Action, Any, None]:
    """Budget alerts a settled step (or judge call) set off, as for any settled call."""
    if run.rt.budgets:
        now = run.rt.clock.now()
        keys, cost = meta["budget_keys"], meta["cost_usd"] + meta["unknown_outcome_usd"]
        # listening=True: the driver drops the event when nobody listens; budgets without
        # alert fractions are not read either way.
        yield from alerts_after_settle(
            run.rt.budgets, keys, run.req.metadata, now, cost, listening=True
        )


def _ask(run: CascadeRun, ask: Ask) -> Generator[Action, Any, tuple[AIMessage, float]]:
    """Perform a validator's :class:`Ask` as an engine call; return the answer and its cost."""
    tier = ask.tier or run.rt.names[-1]
    kwargs = {"max_tokens": ask.max_tokens} if ask.max_tokens is not None else {}
    req = dataclasses.replace(
        run.req,
        messages=list(ask.messages),
        kwargs=kwargs,
        stream=False,
        override=tier,
        openai_tools=(),
        structured_output=False,
        bind=run.rt.tools.binder(run.rt.models, None, None),
        thread=None,  # a grading call is not an agent step: it must not move the thread's tier
    )
    step_rt = _step_runtime(run, tier, [])  # a judge that cannot run rejects; no detours
    sel = yield from plan_call(step_rt, req)
    meta = yield from _as_overhead(settle_call(step_rt, sel, sel.result, run_id=run.run_id))
    yield from _alerts(run, meta)
    run.spent += meta["cost_usd"]
    run.estimated += meta["estimated_cost_usd"]
    return sel.result, meta["cost_usd"]


def _run_check(
    run: CascadeRun, check: Generator[Ask, AIMessage, Verdict]
) -> Generator[Action, Any, tuple[Verdict, float]]:
    """Drive a validator's ``check`` generator, answering its asks through the engine."""
    cost = 0.0
    reply: Any = None
    while True:
        try:
            ask = check.send(reply)
        except StopIteration as stop:
            return stop.value, cost
        try:
            reply, paid = yield from _ask(run, ask)
        except _REFUSED as exc:
            return Verdict.reject(f"judge call refused: {type(exc).__name__}"), cost
        cost += paid


def _validate(
    run: CascadeRun, creq: CascadeRequest, message: AIMessage
) -> Generator[Action, Any, tuple[Verdict, str, float]]:
    """Run the validators in order; the first rejection decides. Returns (verdict, who, cost)."""
    cost = 0.0
    reasons: list[str] = []
    for validator in run.cascade.validators:
        check = getattr(validator, "check", None)
        if callable(check):
            verdict, paid = yield from _run_check(run, check(creq, message))
            cost += paid
        else:
            verdict = validator(creq, message)
        if not verdict.accepted:
            return verdict, type(validator).__name__, cost
        reasons.append(verdict.reason)
    return Verdict.accept("; ".join(reasons) or "no validators"), "", cost


def _creq(run: CascadeRun, tier: str) -> CascadeRequest:
    req = run.req
    return CascadeRequest(
        messages=tuple(req.messages),
        openai_tools=tuple(req.openai_tools),
        structured_output=req.structured_output,
        response_format=req.kwargs.get("response_format"),
        tier=tier,
        step=len(run.steps),
        metadata=req.metadata,
    )


def _record(
    run: CascadeRun,
    meta: dict[str, Any],
    verdict: Verdict | None,
    who: str,
    judge: float,
    *,
    interrupted: bool = False,
) -> Generator[Action, Any, None]:
    unchecked = "stream interrupted, not validated" if interrupted else "last step, not validated"
    yield from _alerts(run, meta)
    run.spent += meta["cost_usd"]
    run.estimated += meta["estimated_cost_usd"]
    run.attempts += meta["attempts"]
    run.skipped += meta["skipped"]
    run.fallback = run.fallback or bool(meta["fallback_triggered"])
    step: CascadeStep = {
        "tier": meta["tier"],
        "model_name": meta["model_name"],
        "cost_usd": meta["cost_usd"] + judge,
        "answer_cost_usd": meta["cost_usd"],
        "judge_cost_usd": judge,
        "estimated_cost_usd": meta["estimated_cost_usd"],
        "verdict": "unchecked" if verdict is None else "accept" if verdict.accepted else "reject",
        "reason": unchecked if verdict is None else verdict.reason,
        "validator": who or None,
        "score": None if verdict is None else verdict.score,
    }
    run.steps.append(step)
    yield Emit("tiered.cascade", {"step": len(run.steps) - 1, **step})


def _final(
    run: CascadeRun, message: AIMessage, meta: dict[str, Any], accepted: bool
) -> dict[str, Any]:
    """The ``tiered`` metadata of the cascade: the last step's, with totals and the steps."""
    if not accepted and run.cascade.on_rejected == "raise":
        last = run.steps[-1]
        msg = (
            f"every cascade step was rejected (last: {last['tier']!r}: {last['reason']}); "
            f"use Cascade(on_rejected='return') to get the answer marked instead"
        )
        raise CascadeRejectedError(msg, steps=run.steps, message=message)
    path = " -> ".join(f"{s['tier']} ({s['verdict']})" for s in run.steps)
    return {
        **meta,
        "reason": f"{run.routed_reason}; cascade: {path}{run.stopped}",
        "routed_tier": run.start,
        "fallback_triggered": run.fallback,
        "attempts": run.attempts,
        "skipped": run.skipped,
        "cost_usd": run.spent,
        "estimated_cost_usd": run.estimated,
        "steps": run.steps,
        "cascade_accepted": accepted,
    }


def _start(run: CascadeRun) -> str:
    rt, req = run.rt, run.req
    for validator in run.cascade.validators:  # fail before anything is spent
        tier = getattr(validator, "tier", None)
        if isinstance(tier, str) and tier not in rt.by_name:
            names = ", ".join(rt.names)
            msg = f"{type(validator).__name__}(tier={tier!r}) names no tier; valid: {names}"
            raise ValueError(msg)
    if run.cascade.start == "cheapest" and req.override is None:
        run.routed_reason = "cascade start: cheapest tier"
        run.start = rt.names[-1]
    else:
        decision = decide(rt, req)
        run.routed_reason, run.start = decision.reason, decision.tier
    return run.start


def take_steps(run: CascadeRun) -> Generator[Action, Any, Any]:
    """Take steps until one accepts or the last one answers.

    Returns ``("done", message, meta)``, or when streaming ``("open", runtime, selected)``
    for the caller to relay the last step's live stream.
    """
    tier = _start(run)
    held: tuple[AIMessage, dict[str, Any]] | None = None
    while True:
        last = run.is_last(tier)
        # A rejected last answer raises with on_rejected="raise": validate it before emitting.
        stream = run.req.stream and last and run.cascade.on_rejected == "return"
        # Later steps only climb: never back to a tier that answered (or could not) already.
        escalate = None if held is None else [] if last else run.above(tier)
        try:
            step_rt = _step_runtime(run, tier, escalate)
            req = dataclasses.replace(run.req, override=tier, stream=stream)
            sel = yield from plan_call(step_rt, req)
        except _REFUSED as exc:
            if held is None:
                raise
            run.stopped = f"; escalation to {tier!r} refused ({type(exc).__name__})"
            return ("done", held[0], _final(run, *held, accepted=False))
        run.tried.update([sel.profile.name, *(a.tier for a in sel.attempts)])
        run.tried.update(s.tier for s in sel.skipped)
        if stream:
            return ("open", step_rt, sel)
        final, meta = yield from answer_step(run, step_rt, sel, sel.result)
        if final is not None:
            return ("done", sel.result, final)
        held = (sel.result, meta)
        tier = run.above(sel.profile.name)[0]


def answer_step(
    run: CascadeRun,
    step_rt: Runtime,
    sel: Selected,
    message: AIMessage,
    *,
    interrupted: bool = False,
    cut_by: BaseException | None = None,
) -> Generator[Action, Any, tuple[dict[str, Any] | None, dict[str, Any]]]:
    """Validate and settle one step's answer: (final metadata or ``None`` to escalate, step's).

    ``cut_by``: what stopped an ``interrupted`` stream. An error is an unknown outcome
    (charged like a plain stream's, see ``settle_call``); an abandonment is not.
    """
    last = run.is_last(sel.profile.name)
    verdict: Verdict | None = None
    who, judge = "", 0.0
    error = cut_by if isinstance(cut_by, Exception) else None
    settle = settle_call(
        step_rt, sel, message, run_id=run.run_id, interrupted=interrupted, error=error
    )
    if not interrupted and (not last or run.cascade.validate_last):
        verdict, who, judge = yield from _checked(run, sel, message, settle)
    accepted = verdict is None or verdict.accepted
    if interrupted:  # a cut stream's event must carry the earlier steps' cost too
        settle = _mapped(settle, _no_settled_event)
    meta = dict((yield from (settle if accepted or last else _as_overhead(settle))))
    yield from _record(run, meta, verdict, who, judge, interrupted=interrupted)
    if interrupted:
        usage = dict(message.usage_metadata or {})
        data = {"metadata": _final(run, message, meta, accepted), "usage": usage}
        yield Emit("tiered.settled", data)
    if accepted or last:
        return _final(run, message, meta, accepted), meta
    return None, meta


def _checked(
    run: CascadeRun, sel: Selected, message: AIMessage, settle: Generator[Action, Any, Any]
) -> Generator[Action, Any, tuple[Verdict, str, float]]:
    """Validate while the answer's reservation is held; settle it if validation fails."""
    run.pending = sel.pre.worst_case_usd
    try:
        return (yield from _validate(run, _creq(run, sel.profile.name), message))
    except GeneratorExit:
        raise
    except BaseException:
        yield from _as_overhead(settle)  # it was paid for: never leave it reserved
        raise
    finally:
        run.pending = 0.0


def cascade_call(
    rt: Runtime, req: CallRequest, cascade: Cascade, *, run_id: str | None
) -> Generator[Action, Any, tuple[AIMessage, TieredMetadata]]:
    """Run a cascade without streaming; return the answer and its ``tiered`` metadata.

    The metadata is the last step's with ``steps`` and ``cascade_accepted`` added.
    """
    run = CascadeRun(rt, dataclasses.replace(req, stream=False), cascade, run_id)
    _, message, meta = yield from take_steps(run)
    return message, cast("TieredMetadata", meta)
