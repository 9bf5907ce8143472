"""Where finished batch items go: the ordered results, the output file and the progress bar."""

from __future__ import annotations

import importlib
import sys
import threading
from collections.abc import Sequence
from typing import Any

from langchain_tiered.batch.items import BatchItem, Job, item_line
from langchain_tiered.batch.store import JsonlStore

__all__ = ["Sink"]


class Sink:
    """Collects items as they finish; safe to call from worker threads.

    A failed write to the output file (disk full, I/O error) never escapes from a worker: the
    sink remembers it, stops handing out inputs, and keeps every finished item in memory;
    the batch raises :class:`~langchain_tiered.batch.errors.BatchWriteError` once the calls
    in flight are done.

    Args:
        size: Number of inputs (results are kept in input order).
        store: The resumable output file, if any.
        progress: Show a tqdm progress bar on stderr.
        stop_on_error: Stop handing out jobs after the first failed item
            (``return_exceptions=False``).
        secrets: Credentials to mask in stored error text.
    """

    def __init__(
        self,
        size: int,
        store: JsonlStore | None,
        *,
        progress: bool,
        stop_on_error: bool,
        secrets: Sequence[str] = (),
    ) -> None:
        self.results: list[BatchItem | None] = [None] * size
        self.first_error: Exception | None = None
        self.write_error: OSError | None = None
        self.unwritten: list[BatchItem] = []
        self.stopped = False
        self._store = store
        self._stop_on_error = stop_on_error
        self._secrets = tuple(secrets)
        self._lock = threading.Lock()
        self._bar: Any = _progress_bar(size) if progress else None
        self._cost = 0.0
        self._failures = 0

    def resume(self, items: Sequence[BatchItem]) -> None:
        """Place items loaded from a previous run (already in the file, so not rewritten)."""
        for item in items:
            self.results[item.index] = item
        if self._bar is not None and items:
            self._bar.update(len(items))

    def sending(self, job: Job) -> str | None:
        """Log that ``job`` is about to be sent; ``None`` means do not send it (stopped)."""
        if self._store is None:
            return ""
        try:
            return self._store.sent(job)
        except OSError as exc:
            self._failed_write(exc)
            return None

    def finish(self, item: BatchItem, job: Job, send_id: str = "") -> None:
        """Record a finished item: results, one output line, progress."""
        line = None
        if self._store is not None:
            line = item_line(item, job, self._secrets)
            line["send_id"] = send_id
        with self._lock:
            self.results[item.index] = item
            if item.error is not None:
                self._failures += 1
                if self._stop_on_error and self.first_error is None:
                    self.first_error = item.error
                    self.stopped = True
            self._cost += item.cost_usd
            if line is not None:
                self._write(item, line)
            if self._bar is not None:
                self._bar.set_postfix(
                    cost=f"${self._cost:.4f}", failed=self._failures, refresh=False
                )
                self._bar.update(1)

    def stop(self) -> None:
        """Hand out no more jobs (an abort is on its way up)."""
        self.stopped = True

    def close(self) -> None:
        """Close the progress bar and the output file."""
        if self._bar is not None:
            self._bar.close()
        if self._store is not None:
            self._store.close()

    def _write(self, item: BatchItem, line: dict[str, Any]) -> None:
        """Append under ``self._lock``; after a failed write, keep items in memory only."""
        assert self._store is not None
        if self.write_error is None:
            try:
                self._store.append(line)
                return
            except OSError as exc:
                self._failed_write(exc)
        self.unwritten.append(item)

    def _failed_write(self, exc: OSError) -> None:
        if self.write_error is None:
            self.write_error = exc
        self.stopped = True


def _progress_bar(total: int) -> Any:
    # tqdm is imported only when asked for, so run_batch costs nothing extra without it.
    tqdm = importlib.import_module("tqdm").tqdm
    return tqdm(total=total, desc="batch", unit="req", file=sys.stderr, dynamic_ncols=True)
