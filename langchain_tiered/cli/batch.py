"""``langchain-tiered batch``: a prompt file through :func:`langchain_tiered.batch.run_batch`.

Results are appended to ``--out`` as they finish, so an interrupted run resumes where it
stopped when rerun with the same file. With ``--emulator`` every tier is sent to a bundled
emulator started for the run (offline, free); otherwise to the configured providers.

Bad input (config, prompt file, an unusable ``--out``) ends in one line on stderr and exit
code 2 before anything is sent; failed items and a write failure mid-run exit with 1.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from langchain_tiered._redact import redact
from langchain_tiered.cli.common import CliError, PromptFile, make_console, read_prompts
from langchain_tiered.cli.config import Config, load_config
from langchain_tiered.cli.models import build_model

if TYPE_CHECKING:
    from langchain_tiered.batch import BatchResult

__all__ = ["check_output", "run_batch_command"]


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
    # Lines without an id are matched on resume by their content, never by their line number:
    # inserting a line must not hand an old answer to a different prompt.
    return [
        {"input": item.input, "metadata": item.metadata}
        | ({"id": item.id} if item.explicit_id else {})
        for item in prompts.items
    ]


def check_output(out: Path) -> None:
    """Refuse an ``--out`` that cannot be written, before any config is built or call sent.

    Raises:
        CliError: A missing or read-only directory, or an existing path that is not a regular
            file (a directory, ``/dev/full``, a FIFO).
    """
    parent = out.parent
    if not parent.is_dir():
        msg = f"--out {out}: directory {parent} does not exist; create it or choose another path"
        raise CliError(msg)
    if out.exists() and not out.is_file():
        msg = f"--out {out}: not a regular file; write the results to a file path"
        raise CliError(msg)
    if not os.access(out if out.exists() else parent, os.W_OK):
        where = out if out.exists() else f"directory {parent}"
        msg = f"--out {out}: {where} is not writable; choose another path"
        raise CliError(msg)


def run_batch_command(
    prompts_path: Path,
    config_path: Path,
    out: Path,
    *,
    emulator: bool,
    concurrency: int,
    progress: bool,
    resend_unknown: bool = False,
) -> None:
    """The ``batch`` command.

    Raises:
        CliError: Bad config, prompt file or output path, duplicate ids, output locked.
        click.exceptions.Exit: Exit code 1 when some items failed (they are dead letters) or
            the output could not be written mid-run.
    """
    from langchain_tiered.batch import (  # noqa: PLC0415
        BatchOutputError,
        BatchWriteError,
        run_batch,
    )
    from langchain_tiered.batch.plan import model_secrets  # noqa: PLC0415

    check_output(out)
    cfg = load_config(config_path)
    prompts = read_prompts(prompts_path)
    with _endpoint(emulator) as url, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = build_model(cfg, emulator_url=url)
        secrets = model_secrets(model)
        try:
            result = run_batch(
                model,
                _inputs(prompts),
                max_concurrency=concurrency,
                output=out,
                progress=progress,
                resend_unknown=resend_unknown,
            )
        except BatchWriteError as exc:
            _print_summary(cfg, prompts, exc.result, out, secrets)
            click.echo(f"error: {redact(str(exc), secrets)}", err=True)
            raise click.exceptions.Exit(1) from None
        except (ValueError, BatchOutputError) as exc:  # nothing was sent
            msg = f"{prompts_path.name}: {exc}" if isinstance(exc, ValueError) else str(exc)
            raise CliError(redact(msg, secrets)) from None
        finally:
            _show(caught, secrets)
    _print_summary(cfg, prompts, result, out, secrets)
    if result.dead_letters:
        raise click.exceptions.Exit(1)


def _show(caught: list[warnings.WarningMessage], secrets: tuple[str, ...]) -> None:
    """Our warnings as one masked line each; anything else formatted as Python would.

    Runs while ``catch_warnings(record=True)`` is still active, where ``warnings.showwarning``
    appends to ``caught`` itself: calling it here would grow the list being iterated forever.
    """
    for w in list(caught):
        if w.category.__module__.startswith("langchain_tiered."):
            click.echo(f"warning: {redact(str(w.message), secrets)}", err=True)
        else:
            text = warnings.formatwarning(w.message, w.category, w.filename, w.lineno)
            click.echo(redact(text, secrets), err=True, nl=False)


def _print_summary(
    cfg: Config, prompts: PromptFile, result: BatchResult, out: Path, secrets: tuple[str, ...]
) -> None:
    from rich.markup import escape  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    console = make_console()
    stats = result.stats
    table = Table(title=f"Batch by tier ({cfg.source})")
    for name in ("tier", "answers", "attempts", "cost"):
        table.add_column(name, justify="left" if name == "tier" else "right")
    for tier, t in stats.by_tier.items():
        table.add_row(tier, str(t.calls), str(t.attempts), f"${t.cost_usd or 0.0:.6f}")
    console.print(table)
    for item in result.dead_letters:
        message = str(item.error).splitlines()[0] if item.error else ""
        label = prompts.items[item.index].id
        text = redact(f"{label}: {item.error_type}: {message[:160]}", secrets)
        console.print(f"[red]failed[/red] {escape(text)}")
    console.print(
        f"{stats.total} items: {stats.successes} ok, {stats.failures} failed, "
        f"{stats.resumed} resumed from {escape(str(out))}, {stats.retries} retries, "
        f"{stats.fallbacks} fallbacks, ${stats.total_cost_usd:.6f} this run, "
        f"{stats.requests_per_s:.1f} req/s; {len(prompts.skipped)} malformed line(s) skipped"
    )
    if stats.unknown:
        console.print(
            f"{stats.unknown} item(s) were sent by an earlier run that stopped before recording "
            "the answer (the provider may have billed them); rerun with --resend-unknown to "
            "send them again"
        )
    if stats.failures > stats.unknown:
        console.print(f"rerun with the same --out {escape(str(out))} to retry the failed items")
