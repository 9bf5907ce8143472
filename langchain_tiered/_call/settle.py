"""Settling a call: the real cost from usage, the spend record, and the ``tiered`` metadata."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from langchain_tiered._call.actions import Action, Emit
from langchain_tiered._call.outcome import commit, spend_record
from langchain_tiered._redact import redact
from langchain_tiered.agents.engine import observe
from langchain_tiered.pricing.usage import BilledUsage, billed_usage, tokens_of
from langchain_tiered.tokens import get_encoding

if TYPE_CHECKING:
    from datetime import datetime

    from langchain_core.messages import BaseMessage

    from langchain_tiered._call.state import Runtime, Selected
    from langchain_tiered.metadata import TieredMetadata

__all__ = ["settle_call"]

_NO_USAGE = BilledUsage()


def _output_text(message: BaseMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    return "".join(p if isinstance(p, str) else str(p.get("text", "")) for p in content)


def _cost(
    sel: Selected, message: BaseMessage | None, at: datetime
) -> tuple[float, bool, dict[str, int], BilledUsage | None]:
    """Real cost from ``usage_metadata``; without usage, an estimate from the tokenizer.

    Also returns the usage as billed (``None`` without usage), read once for the baseline.
    """
    usage = getattr(message, "usage_metadata", None) if message is not None else None
    price = sel.profile.price
    # Raw provider usage (DeepSeek cache hits, Anthropic write TTLs, the service tier) and the
    # clock (off-peak prices) complete what usage_metadata says.
    raw = getattr(message, "response_metadata", None) or {}
    if usage:
        billed = billed_usage(usage, raw)
        if not usage.get("input_tokens") and sel.pre.prompt_tokens > 0:
            # A prompt is never free: an integration lost the input count (langchain-anthropic
            # streams from older API versions report input tokens only in message_start).
            # Bill the pre-flight estimate for the input, keep the reported output, say so.
            patched = replace(billed, input_tokens=sel.pre.prompt_tokens)
            return price.billed_cost(patched, at=at), True, tokens_of(patched), billed
        return price.billed_cost(billed, at=at), False, tokens_of(billed), billed
    text = _output_text(message) if message is not None else ""
    out = len(get_encoding("o200k_base").encode(text, disallowed_special=())) if text else 0
    tokens = {
        "input_tokens": sel.pre.prompt_tokens,
        "output_tokens": out,
        "cached_tokens": 0,
        "reasoning_tokens": 0,
    }
    # An estimate of what was billed, not a bound: no cache-write premium is assumed.
    cost = price.worst_case(sel.pre.prompt_tokens, out, cache_writes="none")
    return cost, True, tokens, None


def _learn(rt: Runtime, sel: Selected, tokens: dict[str, int], estimated: bool) -> None:
    """Feed real usage back: tokenizer calibration and the token rate limiter."""
    if estimated:
        return
    rt.counter.observe(
        sel.profile.model_name,
        raw=sel.pre.raw_prompt_tokens,
        actual_input_tokens=tokens["input_tokens"],
    )
    limiter = rt.limiters.get(sel.profile.name)
    if limiter is not None:
        used = tokens["input_tokens"] + tokens["output_tokens"]
        limiter.adjust(used - (sel.pre.prompt_tokens + sel.pre.max_output_tokens))


def settle_call(
    rt: Runtime,
    sel: Selected,
    message: BaseMessage | None,
    *,
    run_id: str | None = None,
    interrupted: bool = False,
    error: BaseException | None = None,
) -> Generator[Action, Any, TieredMetadata]:
    """Commit the call's cost and return the ``response_metadata["tiered"]`` payload.

    ``interrupted``: the stream stopped before its end - abandoned by the caller (billed
    on what was produced), or cut by ``error`` (an unknown outcome: with
    ``unknown_outcome="charge"`` the reserved worst case is charged). Such a settlement
    cannot reach the caller in an answer, so it is also emitted as ``tiered.settled``.
    A ledger failure never raises here: the answer was paid for (see ``outcome.commit``).
    """
    at = rt.clock.now()
    cost, estimated, tokens, billed = _cost(sel, message, at)
    _learn(rt, sel, tokens, estimated)
    observe(rt, sel, tokens, cost)  # the thread's tier and usage, the run's step
    error_text = None
    if error is not None:
        error_text = redact(f"{type(error).__name__}: {error}", rt.secrets)
        if rt.settings.unknown_outcome == "charge" and cost < sel.pre.worst_case_usd:
            cost, estimated = sel.pre.worst_case_usd, True
    baseline_cost = _baseline(rt, sel, billed, tokens, cost, at=at, estimated=estimated)
    fallback = sel.profile.name != sel.routed
    ledger_error = None
    if sel.reservation is not None or rt.ledger is not None:
        record = spend_record(
            rt,
            sel.profile,
            sel.pre,
            tokens=tokens,
            cost=cost,
            budget_keys=sel.budget_keys,
            fallback=fallback,
            run_id=run_id,
            baseline=baseline_cost,
            estimate=estimated or interrupted,
            error=error_text,
            at=at,
        )
        ledger_error = yield from commit(rt, sel.reservation, cost, record)
    overspend = max(0.0, cost - sel.pre.worst_case_usd)
    meta: TieredMetadata = {
        "tier": sel.profile.name,
        "model_name": sel.profile.model_name,
        "reason": _reason(sel),
        "score": sel.decision.score,
        "routed_tier": sel.routed,
        "fallback_triggered": fallback,
        "attempts": [a.to_dict() for a in sel.attempts],
        "skipped": [s.to_dict() for s in sel.skipped],
        "estimated_cost_usd": sel.pre.worst_case_usd,
        "cost_usd": cost,
        "cost_is_estimate": estimated or interrupted,
        "baseline_cost_usd": baseline_cost,
        "prompt_tokens_estimate": sel.pre.prompt_tokens,
        "max_output_tokens": sel.pre.max_output_tokens,
        "output_cap_source": sel.pre.output_cap_source,
        "budget_keys": list(sel.budget_keys),
        "run_id": run_id,
        "overspend": overspend > 0,
        "overspend_usd": overspend,
        "unknown_outcome_usd": sel.unknown_outcome_usd,
        "ledger_error": ledger_error,
        "billed_tokens": tokens,
    }
    if overspend > 0:
        # A provider billed more than the price book allows for the reserved worst case
        # (an unknown price component, or usage above the cap sent): counted, and shown.
        yield Emit("tiered.overspend", _overspend_event(sel, cost, overspend, tokens))
    if interrupted:
        usage = getattr(message, "usage_metadata", None) if message is not None else None
        yield Emit("tiered.settled", {"metadata": dict(meta), "usage": dict(usage or {})})
    return meta


def _overspend_event(
    sel: Selected, cost: float, overspend: float, tokens: dict[str, int]
) -> dict[str, Any]:
    return {
        "tier": sel.profile.name,
        "cost_usd": cost,
        "estimated_cost_usd": sel.pre.worst_case_usd,
        "overspend_usd": overspend,
        "prompt_tokens_estimate": sel.pre.prompt_tokens,
        "max_output_tokens": sel.pre.max_output_tokens,
        **tokens,
    }


def _baseline(
    rt: Runtime,
    sel: Selected,
    billed: BilledUsage | None,
    tokens: dict[str, int],
    cost: float,
    *,
    at: datetime,
    estimated: bool,
) -> float:
    """What the same usage would have cost on the most capable tier at ``at`` (for savings)."""
    if sel.profile.index == 0:
        return cost
    top = rt.profiles[0].price
    if estimated:
        return top.worst_case(tokens["input_tokens"], tokens["output_tokens"], cache_writes="none")
    return top.billed_cost(billed or _NO_USAGE, at=at)


def _reason(sel: Selected) -> str:
    reason = sel.decision.reason
    if sel.skipped:
        reason += "; " + "; ".join(f"skipped {s.tier}: {s.detail}" for s in sel.skipped)
    if sel.profile.name != sel.routed:
        reason += f"; answered by {sel.profile.name!r}"
    return reason
