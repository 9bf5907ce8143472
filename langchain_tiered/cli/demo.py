"""``langchain-tiered demo``: four priced tiers, injected failures, a budget, all offline.

The bundled emulator plays four models priced like Claude Opus, Claude Sonnet, DeepSeek V4-Pro
and DeepSeek V3.2 (the default price book's entries for those names; a ``--config`` may
replace tiers and prices). The cheapest tier answers its first calls with 429s and the
third tier is down (503 on every call), so the run shows retries, fallbacks and a circuit
breaker. A per-user budget makes the model downgrade one user's expensive requests.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_tiered.cli.common import excerpt, make_console
from langchain_tiered.cli.config import BudgetSpec, Config, TierSpec, load_config
from langchain_tiered.cli.models import bare_model_name, build_model
from langchain_tiered.cli.workload import DEMO_PROMPTS

if TYPE_CHECKING:
    from rich.console import Console

    from langchain_tiered.batch import BatchItem, BatchResult
    from langchain_tiered.testing import Fault

__all__ = ["DEMO_CONFIG", "demo_config", "run_demo"]

DEMO_CONFIG = Config(
    source="demo",
    tiers=(
        TierSpec("opus", "claude-opus-4-6"),
        TierSpec("sonnet", "claude-sonnet-4-6"),
        TierSpec("v4-pro", "deepseek-v4-pro"),
        TierSpec("v3.2", "deepseek-v3.2"),
    ),
    budgets=(
        BudgetSpec(limit_usd=5.0, period="day"),
        # Small enough that this user's analysis requests cannot reserve an Opus or Sonnet
        # worst case, so they are downgraded instead of refused.
        BudgetSpec(limit_usd=0.03, period="day", scope="budget_key", name="user"),
    ),
    max_cost_per_call=0.25,
)
_TRIAL_USER = "trial-user-7"
_TRIAL_PROMPTS = frozenset({27, 30})  # a trade-off analysis and an architecture design


def demo_config(config_path: Path | None) -> Config:
    """The demo's configuration, with a user's tiers, prices and budgets laid over it."""
    if config_path is None:
        return DEMO_CONFIG
    user = load_config(config_path)
    return dataclasses.replace(
        DEMO_CONFIG,
        source=user.source,
        tiers=user.tiers or DEMO_CONFIG.tiers,
        thresholds=user.thresholds if user.tiers else None,
        prices=user.prices,
        budgets=user.budgets or DEMO_CONFIG.budgets,
        max_cost_per_call=user.max_cost_per_call or DEMO_CONFIG.max_cost_per_call,
    )


def _faults(cfg: Config, rate_limits: int) -> tuple[list[Fault], str | None, str]:
    """429s on the cheapest tier's first calls; the second-cheapest tier always 503."""
    from langchain_tiered.testing import Fault  # noqa: PLC0415

    cheap = bare_model_name(cfg.tiers[-1].model)
    down = bare_model_name(cfg.tiers[-2].model) if len(cfg.tiers) >= 3 else None  # noqa: PLR2004
    faults = [Fault("rate_limit", model=cheap, times=rate_limits, retry_after=0)]
    if down is not None:
        faults.append(Fault("overloaded", model=down))
    return faults, down, cheap


def _inputs() -> list[dict[str, Any]]:
    return [
        {
            "id": i,
            "input": prompt,
            "metadata": {"budget_key": _TRIAL_USER} if i in _TRIAL_PROMPTS else {},
        }
        for i, prompt in enumerate(DEMO_PROMPTS)
    ]


def run_demo(*, config_path: Path | None, concurrency: int, rate_limits: int) -> None:
    """Run the workload against the emulator and print routing, fallbacks and costs."""
    from langchain_tiered.batch import run_batch  # noqa: PLC0415
    from langchain_tiered.callbacks import TieredCostCallbackHandler  # noqa: PLC0415
    from langchain_tiered.fallbacks import RetryPolicy  # noqa: PLC0415
    from langchain_tiered.ledger import InMemoryLedger  # noqa: PLC0415
    from langchain_tiered.testing import OpenAICompatibleEmulator  # noqa: PLC0415

    cfg = demo_config(config_path)
    faults, down, cheap = _faults(cfg, rate_limits)
    console = make_console()
    ledger = InMemoryLedger()
    handler = TieredCostCallbackHandler()
    started = time.perf_counter()
    with OpenAICompatibleEmulator(faults=faults) as emu:
        # Short waits: the injected 429s say "retry after 0s", and a demo should not sleep.
        retry = RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.05)
        model = build_model(cfg, emulator_url=emu.base_url, ledger=ledger, retry=retry, seed=7)
        _print_setup(console, model, down, cheap, rate_limits)
        result = run_batch(
            model, _inputs(), max_concurrency=concurrency, config={"callbacks": [handler]}
        )
        requests = Counter(r.model for r in emu.requests)
    _print_routing(console, result)
    _print_fallbacks(console, result)
    _print_costs(console, result, ledger, handler, requests)
    console.print(
        f"{len(result.results)} prompts in {time.perf_counter() - started:.1f}s, "
        f"offline against the bundled emulator."
    )


def _print_setup(
    console: Console, model: Any, down: str | None, cheap: str, rate_limits: int
) -> None:
    from rich.table import Table  # noqa: PLC0415

    table = Table(title="Tiers (most capable first)")
    for name in ("tier", "model", "$/Mtok in", "$/Mtok out", "injected fault"):
        table.add_column(name)
    for profile in model._rt.profiles:
        fault = (
            "503 on every call"
            if profile.model_name == down
            else f"429 on the first {rate_limits} calls"
            if profile.model_name == cheap
            else ""
        )
        table.add_row(
            profile.name,
            profile.model_name or "?",
            f"{profile.price.input_per_mtok:g}",
            f"{profile.price.output_per_mtok:g}",
            fault,
        )
    console.print(table)


def _meta(item: BatchItem) -> dict[str, Any]:
    if item.output is None:
        return {}
    meta: dict[str, Any] = item.output.response_metadata.get("tiered", {})
    return meta


def _signals(reason: str) -> str:
    """The router's signal list, without the score and tier the table already shows."""
    head, sep, rest = reason.split("; ", maxsplit=1)[0].partition("): ")
    return rest if sep else head


def _print_routing(console: Console, result: BatchResult) -> None:
    from rich.table import Table  # noqa: PLC0415

    table = Table(title="Routing (yellow: answered by another tier than routed)")
    for name, justify in (
        ("#", "right"),
        ("prompt", "left"),
        ("score", "right"),
        ("routed", "left"),
        ("answered", "left"),
        ("reason", "left"),
        ("cost", "right"),
    ):
        table.add_column(name, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for item in result.results:
        meta = _meta(item)
        answered = item.tier or f"[red]{item.error_type}[/red]"
        if meta.get("fallback_triggered"):
            answered = f"[yellow]{answered}[/yellow]"
        score = meta.get("score")
        table.add_row(
            str(item.index),
            excerpt(str(item.input), 40),
            "-" if score is None else f"{score:.2f}",
            meta.get("routed_tier") or "-",
            answered,
            _signals(str(meta.get("reason", ""))),
            f"${item.cost_usd:.6f}",
        )
    console.print(table)


def _attempt_path(meta: dict[str, Any]) -> str:
    steps = []
    for attempt in meta.get("attempts", []):
        outcome = (
            "ok"
            if attempt.get("kind") == "ok"
            else f"{attempt.get('status') or ''} {attempt.get('error_type')}".strip()
        )
        steps.append(f"{attempt.get('tier')}: {outcome}")
    return " → ".join(steps)


def _print_fallbacks(console: Console, result: BatchResult) -> None:
    from rich.table import Table  # noqa: PLC0415

    table = Table(title="Fallbacks, retries and downgrades")
    for name in ("#", "routed", "answered", "attempts", "skipped"):
        table.add_column(name, overflow="fold")
    for item in result.results:
        meta = _meta(item)
        attempts = meta.get("attempts", item.attempts)
        if not (
            meta.get("fallback_triggered")
            or len(attempts) > 1
            or meta.get("skipped")
            or not item.ok
        ):
            continue
        skipped = "; ".join(f"{s['tier']}: {s['reason']}" for s in meta.get("skipped", []))
        table.add_row(
            str(item.index),
            str(meta.get("routed_tier", "-")),
            item.tier or f"[red]failed: {item.error_type}[/red]",
            _attempt_path({"attempts": attempts}),
            excerpt(skipped, 90),
        )
    console.print(table)


def _print_costs(
    console: Console, result: BatchResult, ledger: Any, handler: Any, requests: Counter[str]
) -> None:
    from langchain_tiered import reports  # noqa: PLC0415

    report = reports.summarize(ledger.records(), by="tier")
    console.print(reports.render_table(report, width=console.width), highlight=False)
    stats = result.stats
    console.print(
        f"Spent ${report.total_cost_usd:.6f} for {report.calls} answers; everything on the "
        f"top tier would have cost ${report.baseline_cost_usd:.6f}: savings "
        f"${report.savings_usd:.6f} ({report.savings_pct:.1f}%)."
    )
    console.print(
        f"{stats.successes} answered, {stats.failures} failed, {stats.retries} retries, "
        f"{stats.fallbacks} fallbacks, {handler.refusals} refusals; callback total "
        f"${handler.total_cost_usd:.6f}, savings ${handler.savings_usd:.6f}."
    )
    sent = ", ".join(f"{model} {n}" for model, n in sorted(requests.items()))
    console.print(f"HTTP requests seen by the emulator: {sent}.")
