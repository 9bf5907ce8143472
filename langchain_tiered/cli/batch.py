"""``langchain-tiered batch``: a prompt file through :func:`langchain_tiered.batch.run_batch`.

Results are appended to ``--out`` as they finish, so an interrupted run resumes where it
stopped when rerun with the same file. With ``--emulator`` every tier is sent to a bundled
emulator started for the run (offline, free); otherwise to the configured providers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from langchain_tiered.cli.common import CliError, PromptFile, make_console, read_prompts
from langchain_tiered.cli.config import Config, load_config
from langchain_tiered.cli.models import build_model

if TYPE_CHECKING:
    from langchain_tiered.batch import BatchResult

__all__ = ["run_batch_command"]


@contextlib.contextmanager
def _endpoint(emulator: bool) -> Iterator[str | None]:
    """The emulator's URL for the duration of the run, or ``None`` for real providers."""
    if not emulator:
        yield None
        return
    from langchain_tiered.testing import OpenAICompatibleEmulator  # noqa: PLC0415

    with OpenAICompatibleEmulator() as emu:
        yield emu.base_url


def _inputs(prompts: PromptFile) -> list[dict[str, Any]]:
    return [
        {"id": item.id, "input": item.input, "metadata": item.metadata} for item in prompts.items
    ]


def run_batch_command(
    prompts_path: Path,
    config_path: Path,
    out: Path,
    *,
    emulator: bool,
    concurrency: int,
    progress: bool,
) -> None:
    """The ``batch`` command.

    Raises:
        CliError: Bad config or prompt file, duplicate ids.
        click.exceptions.Exit: Exit code 1 when some items failed (they are dead letters).
    """
    from langchain_tiered.batch import run_batch  # noqa: PLC0415

    cfg = load_config(config_path)
    prompts = read_prompts(prompts_path)
    with _endpoint(emulator) as url:
        model = build_model(cfg, emulator_url=url)
        try:
            result = run_batch(
                model, _inputs(prompts), max_concurrency=concurrency, output=out, progress=progress
            )
        except ValueError as exc:  # duplicate ids: nothing was sent
            msg = f"{prompts_path.name}: {exc}"
            raise CliError(msg) from None
    _print_summary(cfg, prompts, result, out)
    if result.dead_letters:
        raise click.exceptions.Exit(1)


def _print_summary(cfg: Config, prompts: PromptFile, result: BatchResult, out: Path) -> None:
    from rich.table import Table  # noqa: PLC0415

    console = make_console()
    stats = result.stats
    table = Table(title=f"Batch by tier ({cfg.source})")
    for name in ("tier", "answers", "attempts", "cost"):
        table.add_column(name, justify="left" if name == "tier" else "right")
    for tier, t in stats.by_tier.items():
        table.add_row(tier, str(t.calls), str(t.attempts), f"${t.cost_usd:.6f}")
    console.print(table)
    for item in result.dead_letters:
        message = str(item.error).splitlines()[0] if item.error else ""
        console.print(f"[red]failed[/red] {item.id}: {item.error_type}: {message[:160]}")
    console.print(
        f"{stats.total} items: {stats.successes} ok, {stats.failures} failed, "
        f"{stats.resumed} resumed from {out}, {stats.retries} retries, {stats.fallbacks} "
        f"fallbacks, ${stats.total_cost_usd:.6f} this run, {stats.requests_per_s:.1f} req/s; "
        f"{len(prompts.skipped)} malformed line(s) skipped"
    )
    if stats.failures:
        console.print(f"rerun with the same --out {out} to retry the failed items only")
