"""Where agent awareness meets the call engine: routing a thread, remembering it, run errors.

Called from the plan (:func:`stick` after routing, :func:`run_budget_error` when the plan
refuses) and from settlement (:func:`observe`). Pure apart from the thread store and run log.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from langchain_tiered.agents.errors import RunBudgetExceededError
from langchain_tiered.agents.sticky import likely_cached, price_switch, router_share, step_cost
from langchain_tiered.agents.threads import ThreadState
from langchain_tiered.errors import BudgetExceededError
from langchain_tiered.pricing import cache_writes_for

if TYPE_CHECKING:
    from collections.abc import Sequence

    from langchain_core.messages import BaseMessage

    from langchain_tiered._call.state import CallRequest, Runtime, Selected
    from langchain_tiered.preflight import TierProfile
    from langchain_tiered.routing import RouteDecision

__all__ = ["describe_step", "observe", "run_budget_error", "stick"]

_DEFAULT_OUTPUT = 256  # expected answer length before a thread has answered once


def _prompt(rt: Runtime, req: CallRequest, profile: TierProfile) -> int:
    counted = rt.counter.count(req.messages, model=profile.model_name, tools=req.openai_tools)
    return counted.estimate


def stick(rt: Runtime, req: CallRequest, decision: RouteDecision) -> RouteDecision:
    """The routing decision for a call on a thread: stay on the thread's tier, or move.

    ``sticky="never"``, a per-call override, a call without a thread and a thread's first call
    keep the router's decision. A thread's tier that the pre-flight then rules out (context,
    caps, budget) is skipped by the plan like any routed tier.
    """
    if rt.settings.sticky == "never" or req.thread is None or req.override is not None:
        return decision
    store = rt.threads
    state = store.get(req.thread) if store is not None else None
    if store is None or state is None or state.tier not in rt.by_name:
        return decision
    state = state.with_asked(decision.tier)
    store.put(req.thread, state)
    tier, note = _choose(rt, req, state, rt.by_name[state.tier], rt.by_name[decision.tier])
    return dataclasses.replace(decision, tier=tier, reason=f"{decision.reason}; {note}")


def _choose(
    rt: Runtime, req: CallRequest, state: ThreadState, here: TierProfile, there: TierProfile
) -> tuple[str, str]:
    """``(tier, why)`` for a thread on ``here`` that the router sends to ``there``."""
    prompt = _prompt(rt, req, here)
    cached = likely_cached(here.price, state.input_tokens, prompt)
    output = state.output_tokens or _DEFAULT_OUTPUT
    expected = step_cost(here.price, prompt, output, cached=cached)
    cache_note = f"~{cached} tokens likely cached, expected ~${expected:.6f}"
    if here.name == there.name:
        return here.name, f"thread stays on {here.name!r} ({cache_note})"
    if rt.settings.sticky == "always":
        return here.name, f"sticky='always': thread stays on {here.name!r} ({cache_note})"
    switch = price_switch(
        here.price,
        there.price,
        prompt_tokens=prompt,
        cached_tokens=cached,
        output_tokens=output,
        growth_tokens=max(0, prompt - state.input_tokens),
        share=router_share(dict(state.asked), {p.name for p in rt.profiles[there.index :]}),
        steps=rt.settings.thread_expected_steps - state.steps,
        warm_there=likely_cached(there.price, state.prefix_on(there.name), prompt),
        writes_there=_writes(req, there),
    )
    money = (
        f"saving ~${switch.saving_usd:.6f} over {switch.steps} remaining steps "
        f"({switch.share:.0%} routed there) vs cache loss ~${switch.cache_loss_usd:.6f}"
    )
    if there.index < here.index:  # quality first: the router asks for a more capable tier
        loss = f"cache loss ~${switch.cache_loss_usd:.6f} accepted"
        return there.name, f"thread moves up from {here.name!r} (router asks for more; {loss})"
    if switch.worth_it:
        return there.name, f"thread switches from {here.name!r} ({money})"
    refused = f"switch to {there.name!r} refused ({money}; {cache_note})"
    return here.name, f"thread stays on {here.name!r}: {refused}"


def _writes(req: CallRequest, profile: TierProfile) -> bool:
    """Whether a first call on ``profile`` writes the cache at a premium (Anthropic)."""
    name = (profile.model_name or "").lower()
    if "claude" not in name and "anthropic" not in name:
        return False
    return (
        cache_writes_for(profile.model_name, req.messages, req.kwargs, req.openai_tools) != "none"
    )


def observe(rt: Runtime, sel: Selected, tokens: dict[str, int], cost_usd: float) -> None:
    """After a call: remember the thread's tier and usage, count the run's step and cost."""
    if sel.run is not None and rt.counts_runs:
        rt.runs.record(sel.run, cost_usd)
    if sel.thread is None or rt.threads is None:
        return
    previous = rt.threads.get(sel.thread)
    start = previous or ThreadState(
        tier=sel.profile.name, input_tokens=0, cached_tokens=0, output_tokens=0, steps=0
    )
    rt.threads.put(sel.thread, start.after_call(sel.profile.name, tokens))


def describe_step(messages: Sequence[BaseMessage]) -> str:
    """What a call is about to do, in words, from the last message of its history."""
    if not messages:
        return "an empty call"
    last = messages[-1]
    if isinstance(last, ToolMessage):
        names = []
        for message in reversed(messages):
            if not isinstance(message, ToolMessage):
                break
            names.append(message.name or message.tool_call_id)
        return f"continue after tool results from {', '.join(reversed(names))}"
    if isinstance(last, HumanMessage):
        return "answer the user's message"
    if isinstance(last, AIMessage):
        return "continue after its own answer"
    return f"answer a {last.type} message"


def run_budget_error(rt: Runtime, req: CallRequest, exc: Exception) -> Exception:
    """A budget refusal of a run budget as a :class:`RunBudgetExceededError` (else ``exc``)."""
    if not isinstance(exc, BudgetExceededError) or req.run is None:
        return exc
    if isinstance(exc, RunBudgetExceededError):
        return exc
    now = rt.clock.now()
    run_keys = {b.key(req.metadata, now) for b in rt.budgets if b.scope == "run"}
    if exc.scope not in run_keys:
        return exc
    spent = exc.limit_usd - (exc.remaining_usd if exc.remaining_usd is not None else 0.0)
    steps, _ = rt.runs.get(req.run)
    doing = describe_step(req.messages)
    message = (
        f"run {req.run} has spent ${spent:.6f} of its ${exc.limit_usd:.6f} budget in "
        f"{steps} model calls; its next step ({doing}) needs at least "
        f"${exc.estimated_cost_usd:.6f} on the cheapest tier that was tried. Raise "
        "Budget(scope='run', limit_usd=...), lower max_tokens, or let "
        "TieredBudgetMiddleware end the run with a final answer"
    )
    return RunBudgetExceededError(
        message,
        run_id=req.run,
        spent_usd=spent,
        steps=steps,
        doing=doing,
        estimated_cost_usd=exc.estimated_cost_usd,
        limit_usd=exc.limit_usd,
        tier=exc.tier,
        scope=exc.scope,
        remaining_usd=exc.remaining_usd,
    )
