"""``langchain-tiered report``: spend from a SQLite ledger, aggregated in SQL, read-only."""

from __future__ import annotations

import re
from contextlib import closing
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import click

from langchain_tiered.cli.common import CliError

__all__ = ["parse_since", "run_report"]

_DURATION = re.compile(r"^\s*(\d+)\s*([dhm])\s*$", re.IGNORECASE)
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def parse_since(value: str | None, *, now: datetime | None = None) -> datetime | None:
    """``--since`` as a UTC time: an ISO date/time, or a duration back from ``now`` (``7d``).

    Raises:
        CliError: The value is neither, or reaches before year 1.
    """
    if value is None:
        return None
    match = _DURATION.match(value)
    if match:
        now = now or datetime.now(timezone.utc)
        try:
            return now - timedelta(**{_UNITS[match.group(2).lower()]: int(match.group(1))})
        except OverflowError:
            msg = f"--since: {value.strip()} reaches before year 1; use a shorter duration"
            raise CliError(msg) from None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        msg = (
            f"--since: expected an ISO date/time (2026-05-01) or a duration (7d, 12h), "
            f"got {value!r}"
        )
        raise CliError(msg) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _open_ledger(target: str | Path) -> tuple[Any, Any]:
    """A read-only connection to the ledger and its SQL dialect: SQLite file or PostgreSQL URL.

    Raises:
        CliError: The target is not a ledger (or the database is unreachable).
    """
    from langchain_tiered.reports.postgres import (  # noqa: PLC0415
        is_postgres_url,
        open_postgres_readonly,
    )
    from langchain_tiered.reports.sqlite import (  # noqa: PLC0415
        NotALedgerError,
        open_ledger_readonly,
        sqlite_dialect,
    )

    try:
        if is_postgres_url(str(target)):
            return open_postgres_readonly(str(target))
        db = open_ledger_readonly(Path(target))
        return db, sqlite_dialect(db)
    except NotALedgerError as exc:
        raise CliError(str(exc)) from None


def run_report(
    ledger_path: Path | str, *, since: str | None, by: str, fmt: str, plot: Path | None
) -> None:
    """The ``report`` command: aggregate the ledger in SQL and print the report in ``fmt``.

    The ledger is opened read-only and checked to be a ledger first, so the file is never
    changed, even when it is something else.
    """
    from langchain_tiered import reports  # noqa: PLC0415

    cutoff = parse_since(since)
    db, dialect = _open_ledger(ledger_path)
    with closing(db):
        report = reports.summarize_sql(db, by=by, since=cutoff, dialect=dialect)  # type: ignore[arg-type]
        chunks = {"json": reports.json_chunks, "csv": reports.csv_lines}.get(fmt)
        if chunks is not None:
            for chunk in chunks(report):
                click.echo(chunk, nl=False)
            if fmt == "json":
                click.echo()
        else:
            for line in reports.render_lines(report):
                click.echo(line)
        if plot is not None:
            try:
                written = reports.plot_daily_sql(db, plot, since=cutoff, dialect=dialect)
            except RuntimeError as exc:  # matplotlib missing: say how to get it
                raise CliError(str(exc)) from None
            except (OSError, ValueError) as exc:  # unwritable path, unknown image suffix
                msg = f"--plot: cannot write {plot}: {exc}"
                raise CliError(msg) from None
            click.echo(f"chart written to {written}", err=True)
