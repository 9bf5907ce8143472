"""``langchain-tiered estimate``: an offline plan and cost projection for a prompt file.

Nothing is sent: each prompt is routed, counted and priced exactly as the model would before a
call (``TieredChatModel.plan``), and the worst cases are totalled per tier and
projected to a monthly volume on each single tier versus routed (the TCO table). Worst cases
assume every call uses its full output cap, so the projections are upper bounds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_tiered.cli.common import CliError, PromptFile, excerpt, make_console, read_prompts
from langchain_tiered.cli.config import load_config
from langchain_tiered.cli.models import build_model

if TYPE_CHECKING:
    from langchain_tiered.chat_models import TieredChatModel
    from langchain_tiered.preflight import CallPlan

__all__ = ["Estimate", "estimate_prompts", "run_estimate"]


@dataclass(frozen=True)
class Estimate:
    """The plans of a prompt file, with its tier order and skipped lines."""

    prompts: PromptFile
    plans: list[CallPlan]
    tiers: list[tuple[str, str]]  # (tier name, model name), most capable first

    def routed_total(self) -> float:
        """Worst-case USD of the whole file, routed."""
        return math.fsum(p.chosen.worst_case_usd for p in self.plans if p.chosen is not None)

    def single_tier_total(self, tier: str) -> float:
        """Worst-case USD of the whole file with every prompt sent to ``tier``."""
        return math.fsum(p.on_tier[tier].worst_case_usd for p in self.plans)


def estimate_prompts(model: TieredChatModel, prompts: PromptFile) -> Estimate:
    """Plan every prompt of a file on ``model``; a bad per-line override is a one-line error.

    Raises:
        CliError: A line's ``tier`` names no tier of the model.
    """
    plans = []
    for item in prompts.items:
        try:
            extra: dict[str, Any] = {}
            if item.max_tokens is not None:
                extra["max_tokens"] = item.max_tokens
            plans.append(model.plan(item.input, metadata=dict(item.metadata or {}), **extra))
        except ValueError as exc:
            msg = f"{prompts.path.name}:{item.line}: {exc}"
            raise CliError(msg) from None
    tiers = [(t.name, t.model_name or "?") for t in model.tiers]
    return Estimate(prompts, plans, tiers)


def run_estimate(prompts_path: Path, config_path: Path, per_month: int) -> None:
    """The ``estimate`` command: plan, then print the three tables."""
    cfg = load_config(config_path)
    prompts = read_prompts(prompts_path)
    model = build_model(cfg, offline=True)
    result = estimate_prompts(model, prompts)
    console = make_console()
    console.print(_plan_table(result))
    console.print(_tier_table(result))
    console.print(_tco_table(result, per_month))
    skipped = len(prompts.skipped)
    console.print(
        f"{len(prompts.items)} prompts planned, {skipped} malformed line(s) skipped; "
        "no API calls were made. Costs are worst cases (full output cap)."
    )


def _usd(value: float) -> str:
    return f"${value:,.6f}" if value < 1 else f"${value:,.2f}"


def _plan_table(result: Estimate) -> Any:
    from rich.table import Table  # noqa: PLC0415

    table = Table(title="Pre-flight plan (worst case per call)")
    for name, justify in (
        ("#", "right"),
        ("id", "left"),
        ("prompt", "left"),
        ("routed", "left"),
        ("tier", "left"),
        ("prompt tok", "right"),
        ("max out", "right"),
        ("worst case", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for item, plan in zip(result.prompts.items, result.plans, strict=True):
        pre = plan.chosen
        table.add_row(
            str(item.line),
            item.id,
            excerpt(item.text, 44),
            plan.routed_tier,
            plan.tier or "[red]none fits[/red]",
            str(pre.prompt_tokens) if pre else "-",
            str(pre.max_output_tokens) if pre else "-",
            _usd(pre.worst_case_usd) if pre else "-",
        )
    return table


def _tier_table(result: Estimate) -> Any:
    from rich.table import Table  # noqa: PLC0415

    table = Table(title="Totals per tier (routed)")
    for name in ("tier", "model", "prompts", "prompt tok", "max out tok", "worst case"):
        table.add_column(name, justify="left" if name in ("tier", "model") else "right")
    for tier, model_name in result.tiers:
        chosen = [p.chosen for p in result.plans if p.tier == tier and p.chosen is not None]
        table.add_row(
            tier,
            model_name,
            str(len(chosen)),
            str(sum(c.prompt_tokens for c in chosen)),
            str(sum(c.max_output_tokens for c in chosen)),
            _usd(math.fsum(c.worst_case_usd for c in chosen)),
        )
    table.add_row(
        "total",
        "",
        str(sum(1 for p in result.plans if p.tier)),
        "",
        "",
        _usd(result.routed_total()),
        style="bold",
    )
    return table


def _tco_table(result: Estimate, per_month: int) -> Any:
    from rich.table import Table  # noqa: PLC0415

    n = len(result.plans)
    table = Table(title=f"Monthly projection for {per_month:,} calls (worst case, same prompt mix)")
    for name in ("strategy", "per call", "per month", "vs routed"):
        table.add_column(name, justify="left" if name == "strategy" else "right")
    routed = result.routed_total() / n
    for tier, model_name in result.tiers:
        per_call = result.single_tier_total(tier) / n
        ratio = f"{per_call / routed:.1f}x" if routed > 0 else "-"
        table.add_row(
            f"all on {tier} ({model_name})", _usd(per_call), _usd(per_call * per_month), ratio
        )
    table.add_row("routed", _usd(routed), _usd(routed * per_month), "1.0x", style="bold")
    top = result.single_tier_total(result.tiers[0][0]) / n
    if top > 0:
        saved = (top - routed) * per_month
        table.caption = (
            f"routing saves {_usd(saved)}/month ({saved / (top * per_month):.0%}) "
            f"versus sending everything to {result.tiers[0][0]}"
        )
    return table
