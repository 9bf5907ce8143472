"""``langchain-tiered demo``: four priced tiers, injected failures, a budget, all offline.

The bundled emulator plays four models priced like Claude Opus, Claude Sonnet, DeepSeek V4-Pro
and DeepSeek V3.2 (the default price book's entries for those names; a ``--config`` may
replace tiers and prices). Every third call to the cheapest tier gets a 429 (retried) and the
third tier is down (503 on every call), so the run shows retries, fallbacks and a circuit
breaker. A per-user budget makes the model downgrade one user's expensive requests.

Deterministic: the prompts run one at a time in a fixed order, on a fixed clock
(:data:`DEMO_START`, which also names the budget's day) with seeded retry jitter, so every run
prints the same text (the README shows it). ``--concurrency`` above 1 is faster, but which
calls meet the injected faults then depends on thread timing.
"""

from __future__ import annotations

import dataclasses
import textwrap
import warnings
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from langchain_tiered.cli.common import excerpt
from langchain_tiered.cli.config import BudgetSpec, Config, TierSpec, load_config
from langchain_tiered.cli.demo_text import attempt_path, signals, table
from langchain_tiered.cli.models import bare_model_name, build_model
from langchain_tiered.cli.workload import DEMO_PROMPTS

if TYPE_CHECKING:
    from langchain_tiered.batch import BatchItem, BatchResult
    from langchain_tiered.testing import Fault

__all__ = ["DEMO_CONFIG", "DEMO_START", "demo_config", "demo_lines", "run_demo"]

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
DEMO_START = datetime(2026, 1, 15, 9, 0, tzinfo=timezone.utc)
"""The demo's fixed clock: records and budget periods carry this time."""
_SEED = 7
_RATE_LIMIT_EVERY = 3  # a 429 on every third call to the cheapest tier, retried on it
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
    """429s on some of the cheapest tier's calls; the second-cheapest tier always 503."""
    from langchain_tiered.testing import Fault  # noqa: PLC0415

    cheap = bare_model_name(cfg.tiers[-1].model)
    down = bare_model_name(cfg.tiers[-2].model) if len(cfg.tiers) >= 3 else None  # noqa: PLR2004
    # One fault per 429, each on a fixed request number: a retry always finds the tier up.
    faults = [
        Fault("rate_limit", model=cheap, after=i * _RATE_LIMIT_EVERY, times=1, retry_after=0)
        for i in range(rate_limits)
    ]
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
    for line in demo_lines(
        config_path=config_path, concurrency=concurrency, rate_limits=rate_limits
    ):
        click.echo(line)


def demo_lines(
    *, config_path: Path | None = None, concurrency: int = 1, rate_limits: int = 4
) -> Iterator[str]:
    """The demo's output, line by line (no colour, no timing: the same on every run)."""
    from langchain_tiered._clock import FakeClock  # noqa: PLC0415
    from langchain_tiered.batch import run_batch  # noqa: PLC0415
    from langchain_tiered.budget import BudgetKeyWarning  # noqa: PLC0415
    from langchain_tiered.callbacks import TieredCostCallbackHandler  # noqa: PLC0415
    from langchain_tiered.fallbacks import RetryPolicy  # noqa: PLC0415
    from langchain_tiered.ledger import InMemoryLedger  # noqa: PLC0415
    from langchain_tiered.testing import OpenAICompatibleEmulator  # noqa: PLC0415

    cfg = demo_config(config_path)
    faults, down, cheap = _faults(cfg, rate_limits)
    clock = FakeClock(DEMO_START)  # waits take no time and the day never changes mid-run
    ledger = InMemoryLedger(clock)
    handler = TieredCostCallbackHandler()
    with OpenAICompatibleEmulator(faults=faults) as emu:
        retry = RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.05)
        model = build_model(
            cfg, emulator_url=emu.base_url, ledger=ledger, retry=retry, seed=_SEED, clock=clock
        )
        yield from _setup(model, down, cheap, rate_limits, concurrency)
        with warnings.catch_warnings():
            # The per-user budget is meant for the one trial user; the other prompts carry no
            # key on purpose, which is what BudgetKeyWarning would point out.
            warnings.simplefilter("ignore", BudgetKeyWarning)
            result = run_batch(
                model, _inputs(), max_concurrency=concurrency, config={"callbacks": [handler]}
            )
        requests = Counter(r.model for r in emu.requests)
    yield from _routing(result)
    yield from _fallbacks(result)
    yield from _costs(result, ledger, handler, requests, quality=_quality(model))


def _setup(
    model: Any, down: str | None, cheap: str, rate_limits: int, concurrency: int
) -> Iterator[str]:
    pace = "one at a time" if concurrency == 1 else f"{concurrency} at a time (order varies)"
    yield f"{len(DEMO_PROMPTS)} prompts, {pace}, on a fixed clock ({DEMO_START:%Y-%m-%d})"
    yield ""
    yield "Tiers (most capable first)"
    rows = []
    for profile in model._rt.profiles:
        fault = (
            "503 on every call"
            if profile.model_name == down
            else f"429 on {rate_limits} calls (every {_RATE_LIMIT_EVERY}rd)"
            if profile.model_name == cheap and rate_limits
            else ""
        )
        price = profile.price
        rows.append(
            [
                profile.name,
                profile.model_name or "?",
                f"{price.input_per_mtok:g}",
                f"{price.output_per_mtok:g}",
                fault,
            ]
        )
    yield from table(["tier", "model", "$/Mtok in", "$/Mtok out", "injected fault"], rows, "llrrl")


def _meta(item: BatchItem) -> dict[str, Any]:
    if item.output is None:
        return {}
    meta: dict[str, Any] = item.output.response_metadata.get("tiered", {})
    return meta


def _routing(result: BatchResult) -> Iterator[str]:
    yield ""
    yield "Routing (* answered by another tier than routed)"
    rows = []
    for item in result.results:
        meta = _meta(item)
        answered = item.tier or f"failed: {item.error_type}"
        if meta.get("fallback_triggered") or (item.tier and item.tier != meta.get("routed_tier")):
            answered += " *"
        score = meta.get("score")
        rows.append(
            [
                str(item.index),
                excerpt(str(item.input), 32),
                "-" if score is None else f"{score:.2f}",
                meta.get("routed_tier") or "-",
                answered,
                excerpt(signals(str(meta.get("reason", ""))), 36),
                f"${item.cost_usd:.6f}",
            ]
        )
    headers = ["#", "prompt", "score", "routed", "answered", "reason", "cost"]
    yield from table(headers, rows, "rlrlllr")


def _fallbacks(result: BatchResult) -> Iterator[str]:
    yield ""
    yield "Fallbacks, retries and downgrades (attempts in order; skipped tiers first)"
    rows = []
    for item in result.results:
        meta = _meta(item)
        attempts: Sequence[Any] = meta.get("attempts", item.attempts)
        skipped = meta.get("skipped", [])
        if len(attempts) <= 1 and not skipped and item.ok and not meta.get("fallback_triggered"):
            continue
        path = attempt_path(attempts, skipped) or f"failed: {item.error_type}"
        rows.append([str(item.index), str(meta.get("routed_tier", "-")), path])
    yield from table(["#", "routed", "path"], rows, "rll")


def _quality(model: Any) -> list[str]:
    """The router's quality on labelled prompts: what the savings cost (none is free)."""
    from langchain_tiered.routing.summary import routing_quality_summary  # noqa: PLC0415

    line = str(routing_quality_summary(model.router, tiers=[t.name for t in model.tiers]))
    return textwrap.wrap(line[:1].upper() + line[1:], width=100)


def _costs(
    result: BatchResult,
    ledger: Any,
    handler: Any,
    requests: Counter[str],
    *,
    quality: list[str],
) -> Iterator[str]:
    from langchain_tiered import reports  # noqa: PLC0415

    report = reports.summarize(ledger.records(), by="tier")
    yield ""
    yield from reports.render_lines(report)
    yield ""
    yield (
        f"Spent {reports.format_usd(report.total_cost_usd)} for {report.calls} answers; "
        f"all on the top tier: {reports.format_usd(report.baseline_cost_usd)}; "
        f"saved {reports.format_usd(report.savings_usd)} ({report.savings_pct:.1f}%)."
    )
    yield from quality
    stats = result.stats
    yield (
        f"{stats.successes} answered, {stats.failures} failed, {stats.retries} retries, "
        f"{stats.fallbacks} fallbacks, {handler.refusals} refusals."
    )
    yield (
        f"Cost callback: {reports.format_usd(handler.total_cost_usd)} over {handler.calls} calls "
        "(with a response cache, a hit is a $0 call there and no ledger record)."
    )
    sent = ", ".join(f"{model} {n}" for model, n in sorted(requests.items()))
    yield f"HTTP requests seen by the emulator: {sent}."
