"""``langchain-tiered report``: spend from a SQLite ledger, via :mod:`langchain_tiered.reports`."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import click

from langchain_tiered.cli.common import CliError

__all__ = ["parse_since", "run_report"]

_DURATION = re.compile(r"^\s*(\d+)\s*([dhm])\s*$", re.IGNORECASE)
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def parse_since(value: str | None, *, now: datetime | None = None) -> datetime | None:
    """``--since`` as a UTC time: an ISO date/time, or a duration back from ``now`` (``7d``).

    Raises:
        CliError: The value is neither.
    """
    if value is None:
        return None
    match = _DURATION.match(value)
    if match:
        now = now or datetime.now(timezone.utc)
        return now - timedelta(**{_UNITS[match.group(2).lower()]: int(match.group(1))})
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        msg = (
            f"--since: expected an ISO date/time (2026-05-01) or a duration (7d, 12h), "
            f"got {value!r}"
        )
        raise CliError(msg) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def run_report(
    ledger_path: Path, *, since: str | None, by: str, fmt: str, plot: Path | None
) -> None:
    """The ``report`` command: read the ledger's records, print them in ``fmt``."""
    from langchain_tiered import reports  # noqa: PLC0415
    from langchain_tiered.ledger import SQLiteLedger  # noqa: PLC0415

    cutoff = parse_since(since)
    if not ledger_path.is_file():
        # SQLiteLedger would create an empty database here; a typo must not look like "$0".
        msg = f"ledger {ledger_path} does not exist"
        raise CliError(msg)
    try:
        with SQLiteLedger(ledger_path) as ledger:
            records = ledger.records(cutoff)
    except Exception as exc:  # sqlite3.DatabaseError: not a ledger file
        msg = f"cannot read ledger {ledger_path}: {exc}"
        raise CliError(msg) from None
    report = reports.summarize(records, by=by, since=cutoff)  # type: ignore[arg-type]
    if fmt == "json":
        click.echo(reports.to_json(report))
    elif fmt == "csv":
        click.echo(reports.to_csv(report), nl=False)
    else:
        click.echo(reports.render_table(report))
    if plot is not None:
        try:
            written = reports.plot_daily(records, plot, since=cutoff)
        except RuntimeError as exc:  # matplotlib missing: say how to get it
            raise CliError(str(exc)) from None
        click.echo(f"chart written to {written}", err=True)
