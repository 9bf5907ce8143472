"""An offline pre-flight plan: what ``TieredChatModel`` would do with a prompt, minus the call.

This mirrors the first half of ``_engine.plan_call`` (route, count, price, check the context
window and ``max_cost_per_call``, walk the fallback order) without touching a tier, a rate
limiter or a ledger. It belongs on the model as a public ``TieredChatModel.plan(input)``; until
then it lives here and reads the model's resolved runtime.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from langchain_tiered.chat_models import TieredChatModel
    from langchain_tiered.preflight import Preflight

__all__ = ["CallPlan", "plan_offline"]


@dataclass(frozen=True)
class CallPlan:
    """The pre-flight view of one prompt.

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


def plan_offline(
    model: TieredChatModel, prompt: Any, *, tier: str | None = None,
    metadata: Mapping[str, Any] | None = None, max_tokens: int | None = None,
) -> CallPlan:
    """Route and price ``prompt`` on ``model`` without calling any tier.

    Budgets are not consulted: their room depends on what else is in flight when the call
    really runs.

    Args:
        model: The tiered model.
        prompt: Anything ``model.invoke`` accepts.
        tier: A per-call tier override.
        metadata: The call's config metadata (``tier``, ``budget_key``).
        max_tokens: The call's own output cap.

    Raises:
        ValueError: ``tier`` names no tier of the model.
    """
    from langchain_tiered._engine import CallRequest, estimate, route  # noqa: PLC0415
    from langchain_tiered.fallbacks import fallback_order  # noqa: PLC0415

    rt = model._rt
    messages = model._convert_input(prompt).to_messages()
    kwargs: dict[str, Any] = {} if max_tokens is None else {"max_tokens": max_tokens}
    model._apply_defaults(kwargs)
    meta = dict(metadata or {})
    override = tier if tier is not None else meta.get("tier")
    req = CallRequest(messages=messages, stop=model.stop, kwargs=kwargs, metadata=meta,
                      override=override)
    approx = rt.counter.count(messages, model=rt.profiles[0].model_name).raw
    decision = route(rt, req, approx)
    on_tier = {p.name: estimate(rt, p, req, decision.max_output_tokens) for p in rt.profiles}
    order = fallback_order(rt.names, decision.tier, allow_upgrade=rt.allow_upgrade,
                           overrides=rt.fallback_overrides)
    chosen, skipped = _first_admitted(rt, order, on_tier)
    return CallPlan(decision.tier, chosen, decision.reason, decision.score, on_tier, skipped)


def _first_admitted(
    rt: Any, order: list[str], on_tier: Mapping[str, Preflight]
) -> tuple[str | None, tuple[tuple[str, str], ...]]:
    """The first tier in ``order`` whose window and ``max_cost_per_call`` admit the call."""
    from langchain_tiered._engine import _cap_problem, _window_problem  # noqa: PLC0415

    skipped: list[tuple[str, str]] = []
    for name in order:
        pre = on_tier[name]
        problem = _window_problem(rt.by_name[name], pre, None)
        if problem is None and _cap_problem(rt, pre) is not None:
            problem = f"worst case ${pre.worst_case_usd:.6f} over max_cost_per_call"
        if problem is None:
            return name, tuple(skipped)
        skipped.append((name, problem))
        if rt.on_budget_exceeded == "raise" and "max_cost_per_call" in problem:
            break  # the real call would raise BudgetExceededError here
    return None, tuple(skipped)
