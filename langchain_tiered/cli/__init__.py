"""The ``langchain-tiered`` command line (also ``python -m langchain_tiered``).

A thin click group: each command parses its options and hands over to its own module in
this package (``demo``, ``estimate``, ``batch``, ``report``), imported only when that command
runs, so ``--help`` and ``import langchain_tiered`` stay light. Bad input exits with code 2
and one line on stderr.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from langchain_tiered.cli import router as _router_commands

__all__ = ["main"]

_PATH = click.Path(path_type=Path, dir_okay=False)  # existence is checked with a one-line error
# No checks at all: the command reports a directory or device in one line, not a usage dump.
_FILE = click.Path(path_type=Path)


class _OneLineErrors(click.Group):
    """A click group whose usage errors are one line on stderr (exit code 2), like ours.

    Click prints a usage line, a hint and a blank line before the error; scripts and people
    then see three lines where one says it all. Help (no arguments) is left as it is.
    """

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        with _one_line(info_name or self.name or "langchain-tiered"):
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        with _one_line(ctx.command_path):
            return super().invoke(ctx)


@contextmanager
def _one_line(command_path: str) -> Iterator[None]:
    try:
        yield
    except click.exceptions.NoArgsIsHelpError:
        raise
    except click.UsageError as exc:
        path = exc.ctx.command_path if exc.ctx is not None else command_path
        msg = f"{exc.format_message()} (see '{path} --help')"
        raise click.UsageError(msg) from None


@click.group(cls=_OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="langchain-tiered")
def cli() -> None:
    """Route, budget and fall back across chat-model tiers.

    Start with `demo` (offline, no API key). `estimate` prices a prompt file before any call,
    `batch` runs it, `report` sums the spend a ledger recorded, `router` evaluates and
    calibrates the routing, `emulator` serves the bundled OpenAI-compatible test server.
    Each command's --help has the details.
    """


@cli.command()
@click.option("--config", "config_path", type=_PATH, help="TOML file overriding tiers/prices.")
@click.option(
    "--concurrency",
    default=1,
    show_default=True,
    type=click.IntRange(1, 256),
    help="Prompts in flight; above 1 the output varies with thread timing.",
)
@click.option(
    "--rate-limits",
    default=4,
    show_default=True,
    type=click.IntRange(0),
    help="429 faults injected on the cheapest tier (every third call, N times).",
)
def demo(config_path: Path | None, concurrency: int, rate_limits: int) -> None:
    """Run a mixed DE/EN workload through four tiers against the bundled emulator (offline)."""
    from langchain_tiered.cli.demo import run_demo  # noqa: PLC0415

    run_demo(config_path=config_path, concurrency=concurrency, rate_limits=rate_limits)


@cli.command()
@click.argument("prompts", type=_PATH)
@click.option("--config", "config_path", type=_PATH, required=True, help="Tiers TOML file.")
@click.option(
    "--per-month",
    default=100_000,
    show_default=True,
    type=click.IntRange(1),
    help="Monthly call volume for the projection.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
    help="csv: one row per prompt (with --summary: the projection).",
)
@click.option("--summary", is_flag=True, help="Totals only: no per-prompt rows.")
@click.option(
    "--ledger",
    "ledger_path",
    type=click.Path(path_type=Path),
    help="SQLite ledger (read-only) whose real output lengths give the expected cost.",
)
def estimate(
    *,
    prompts: Path,
    config_path: Path,
    per_month: int,
    fmt: str,
    summary: bool,
    ledger_path: Path | None,
) -> None:
    """Plan PROMPTS (JSONL) offline: routed tier, tokens, worst-case and expected cost."""
    from langchain_tiered.cli.estimate import run_estimate  # noqa: PLC0415

    run_estimate(prompts, config_path, per_month, fmt=fmt, summary=summary, ledger_path=ledger_path)


@cli.command()
@click.argument("prompts", type=_FILE)
@click.option("--config", "config_path", type=_FILE, required=True, help="Tiers TOML file.")
@click.option("--out", type=_FILE, required=True, help="Results JSONL (appended; resumable).")
@click.option("--emulator", is_flag=True, help="Send to a local emulator, not the providers.")
@click.option("--concurrency", default=8, show_default=True, type=click.IntRange(1, 1024))
@click.option("--progress/--no-progress", default=True, show_default=True)
@click.option(
    "--resend-unknown",
    is_flag=True,
    help="Resend prompts an earlier run sent but never recorded (killed in flight; maybe billed).",
)
def batch(
    *,
    prompts: Path,
    config_path: Path,
    out: Path,
    emulator: bool,
    concurrency: int,
    progress: bool,
    resend_unknown: bool,
) -> None:
    """Run PROMPTS (JSONL) through the configured tiers; rerun with the same --out to resume."""
    from langchain_tiered.cli.batch import run_batch_command  # noqa: PLC0415

    run_batch_command(
        prompts,
        config_path,
        out,
        emulator=emulator,
        concurrency=concurrency,
        progress=progress,
        resend_unknown=resend_unknown,
    )


@cli.command()
@click.option(
    "--ledger",
    "ledger_path",
    type=str,  # a file or a postgresql:// URL (a Path would fold its //); checked by the report
    required=True,
    help="SQLite ledger file, or postgresql://... URL (?schema=NAME); opened read-only.",
)
@click.option("--since", help="ISO date/time, or a duration back from now: 7d, 12h, 30m.")
@click.option(
    "--by",
    type=click.Choice(["tier", "model", "day", "budget_key", "user"]),
    default="tier",
    show_default=True,
    help="user: budget keys without their period (user:alice), each call counted once.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
)
@click.option("--plot", type=_PATH, help="Also save a daily spend chart (needs matplotlib).")
def report(ledger_path: str, since: str | None, by: str, fmt: str, plot: Path | None) -> None:
    """Summarize recorded spend from a SQLite or PostgreSQL ledger (read-only, in SQL)."""
    from langchain_tiered.cli.report import run_report  # noqa: PLC0415

    run_report(ledger_path, since=since, by=by, fmt=fmt, plot=plot)


@cli.command()
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="TCP port (0 picks a free one).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option(
    "--context-window",
    "windows",
    multiple=True,
    metavar="MODEL=TOKENS",
    help="Reject longer prompts for MODEL with context_length_exceeded (repeatable).",
)
def emulator(port: int, host: str, windows: Sequence[str]) -> None:
    """Serve the OpenAI-compatible emulator until Ctrl-C."""
    from langchain_tiered.testing import serve  # noqa: PLC0415

    serve(port, host, context_windows=parse_windows(windows))


# `router eval | calibrate` live in their own module (issue 14); it imports only click here.
cli.add_command(_router_commands.router)


def parse_windows(items: Sequence[str]) -> dict[str, int]:
    """Parse ``MODEL=TOKENS`` options.

    Raises:
        click.BadParameter: An item is not ``MODEL=TOKENS`` with a positive integer.
    """
    windows: dict[str, int] = {}
    for item in items:
        model, _, tokens = item.rpartition("=")
        if not model or not tokens.isdigit() or int(tokens) <= 0:
            msg = f"expected MODEL=TOKENS, got {item!r}"
            raise click.BadParameter(msg, param_hint="--context-window")
        windows[model] = int(tokens)
    return windows


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``langchain-tiered`` script.

    Args:
        argv: Arguments without the program name (default: ``sys.argv[1:]``).
    """
    cli.main(args=list(argv) if argv is not None else None, prog_name="langchain-tiered")
