"""``langchain-tiered estimate``: an offline plan and cost projection for a prompt file.

Nothing is sent: each prompt is routed, counted and priced exactly as the model would before a
call (``TieredChatModel.plan``). Prompts are planned one by one and only totals are kept, so
a file of 100,000 prompts streams through (``--summary`` skips the per-prompt rows).

Two figures per call: the *worst case* (every call uses its full output cap: what budgets
reserve, an upper bound) and the *expected* cost, the same prompt with an output length taken
from real usage: the mean output tokens per tier in a ledger (``--ledger``, or the config's
ledger file when it exists), else the router's task caps (a list, a translation, ... have
short caps; prompts with no task cap count at their full cap).
"""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_tiered.cli.common import CliError, PromptFile, PromptItem, read_prompts
from langchain_tiered.cli.config import load_config
from langchain_tiered.cli.models import build_model

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from langchain_tiered.chat_models import TieredChatModel
    from langchain_tiered.preflight import CallPlan, Preflight

__all__ = ["EstimateTotals", "PlannedPrompt", "TierSum", "plan_prompts", "run_estimate"]


@dataclass
class TierSum:
    """Totals of the prompts a tier would answer (or of every prompt sent to one tier)."""

    prompts: int = 0
    prompt_tokens: int = 0
    max_output_tokens: int = 0
    worst_case_usd: float = 0.0
    expected_usd: float = 0.0

    def add(self, pre: Preflight, expected_usd: float) -> None:
        """Count one prompt's estimate on this tier."""
        self.prompts += 1
        self.prompt_tokens += pre.prompt_tokens
        self.max_output_tokens += pre.max_output_tokens
        self.worst_case_usd += pre.worst_case_usd
        self.expected_usd += expected_usd


@dataclass(frozen=True)
class PlannedPrompt:
    """One prompt's plan with its expected cost on the chosen tier."""

    item: PromptItem
    plan: CallPlan
    expected_usd: float | None


@dataclass
class EstimateTotals:
    """Running totals of a prompt file: routed per tier, and every prompt on each tier."""

    tiers: list[tuple[str, str]]  # (tier name, model name), most capable first
    basis: str
    routed: dict[str, TierSum] = field(default_factory=dict)
    all_on: dict[str, TierSum] = field(default_factory=dict)
    planned: int = 0
    none_fits: int = 0
    skipped_lines: int = 0
    at_full_cap: int = 0
    """Routed prompts whose expected output is their full cap (no ledger mean, no task cap)."""

    def basis_line(self) -> str:
        """What the expected figures rest on, with how many prompts it could not shorten."""
        line = f"Expected: {self.basis}"
        if self.at_full_cap:
            line += (
                f"; {self.at_full_cap:,} of {self.planned:,} prompts have no task cap and count "
                "at their full cap (pass --ledger spend.db for real output lengths)"
            )
        return line + "."

    def routed_total(self) -> TierSum:
        """Every routed prompt together."""
        out = TierSum()
        for s in self.routed.values():
            out.prompts += s.prompts
            out.prompt_tokens += s.prompt_tokens
            out.max_output_tokens += s.max_output_tokens
            out.worst_case_usd += s.worst_case_usd
            out.expected_usd += s.expected_usd
        return out


class _Expected:
    """Expected output length per tier: ledger means, else the plan's (task) cap."""

    def __init__(self, model: TieredChatModel, means: Mapping[str, float]) -> None:
        self._prices = {p.name: p.price for p in model._rt.profiles}
        self._models = {p.name: p.model_name or "" for p in model._rt.profiles}
        self._means = means

    def output_tokens(self, pre: Preflight) -> int | None:
        """The expected output tokens on ``pre``'s tier; ``None``: nothing shorter known."""
        mean = self._means.get(pre.tier, self._means.get(self._models[pre.tier]))
        if mean is not None:
            return min(round(mean), pre.max_output_tokens)
        return pre.max_output_tokens if pre.output_cap_source == "task" else None

    def usd(self, pre: Preflight) -> float:
        out = self.output_tokens(pre)
        tokens = pre.max_output_tokens if out is None else out
        # The pre-flight's own inputs: a call that may write the cache or asks for a service
        # tier is priced with them, as its reserved worst case was.
        price = self._prices[pre.tier]
        return float(
            price.worst_case(
                pre.prompt_tokens,
                tokens,
                service_tier=pre.service_tier,
                cache_writes=pre.cache_writes,
            )
        )


def plan_prompts(
    model: TieredChatModel, prompts: PromptFile, totals: EstimateTotals, expected: _Expected
) -> Iterator[PlannedPrompt]:
    """Plan each prompt, add it to ``totals`` and yield it (nothing else is kept).

    Raises:
        CliError: A line's ``tier`` names no tier of the model.
    """
    for item in prompts.items:
        extra: dict[str, Any] = {}
        if item.max_tokens is not None:
            extra["max_tokens"] = item.max_tokens
        try:
            plan = model.plan(item.input, metadata=dict(item.metadata or {}), **extra)
        except ValueError as exc:
            msg = f"{prompts.path.name}:{item.line}: {exc}"
            raise CliError(msg) from None
        totals.planned += 1
        for name, pre in plan.on_tier.items():
            totals.all_on.setdefault(name, TierSum()).add(pre, expected.usd(pre))
        chosen = plan.chosen
        if chosen is None:
            totals.none_fits += 1
            yield PlannedPrompt(item, plan, None)
            continue
        cost = expected.usd(chosen)
        if expected.output_tokens(chosen) is None:
            totals.at_full_cap += 1
        totals.routed.setdefault(chosen.tier, TierSum()).add(chosen, cost)
        yield PlannedPrompt(item, plan, cost)


def _ledger_means(path: Path | None) -> tuple[dict[str, float], str | None]:
    """Mean output tokens per tier and per model in a ledger, read-only; ``{}`` if none."""
    if path is None:
        return {}, None
    from langchain_tiered.reports.sqlite import NotALedgerError, open_ledger_readonly  # noqa: PLC0415

    try:
        db = open_ledger_readonly(path)
    except NotALedgerError as exc:
        raise CliError(str(exc)) from None
    with closing(db):
        rows = db.execute(
            "SELECT tier, model, SUM(output_tokens), COUNT(*) FROM records "
            "WHERE cached_response = 0 GROUP BY tier, model"
        ).fetchall()
    sums: dict[str, list[float]] = {}
    for tier, model_name, tokens, calls in rows:
        for key in (tier, model_name):
            acc = sums.setdefault(key, [0.0, 0.0])
            acc[0] += tokens
            acc[1] += calls
    calls_total = sum(int(r[3]) for r in rows)
    basis = f"mean output tokens per tier from {path} ({calls_total:,} calls)"
    return {k: tokens / calls for k, (tokens, calls) in sums.items() if calls}, basis


def run_estimate(
    prompts_path: Path,
    config_path: Path,
    per_month: int,
    *,
    fmt: str = "table",
    summary: bool = False,
    ledger_path: Path | None = None,
) -> None:
    """The ``estimate`` command: plan every prompt, stream rows, print totals and projection."""
    from langchain_tiered.cli import estimate_output  # noqa: PLC0415

    cfg = load_config(config_path)
    prompts = read_prompts(prompts_path)
    if ledger_path is None and cfg.ledger_path is not None and Path(cfg.ledger_path).is_file():
        ledger_path = Path(cfg.ledger_path)
    means, basis = _ledger_means(ledger_path)
    model = build_model(cfg, offline=True)
    totals = EstimateTotals(
        tiers=[(t.name, t.model_name or "?") for t in model.tiers],
        basis=basis or "the router's task caps as output lengths",
        skipped_lines=len(prompts.skipped),
    )
    planned = plan_prompts(model, prompts, totals, _Expected(model, means))
    estimate_output.write(planned, totals, per_month, fmt=fmt, summary=summary)
