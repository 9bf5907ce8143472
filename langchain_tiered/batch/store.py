"""The resumable JSONL output of a batch: one line per finished item, appended as it finishes.

Durability: every line is written with a single ``write`` and flushed to the operating system
at once, so a crash of the process (an exception, Ctrl-C, ``kill -9``) loses no finished item.
Lines are not fsync'ed one by one (that would cap a batch at a few hundred items per second on
ordinary disks); the file is fsync'ed once when the batch ends. An operating-system crash or
power loss may therefore drop the last lines written; those items are simply run again.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import IO, Any

from langchain_tiered.batch.items import item_key

__all__ = ["JsonlStore"]


class JsonlStore:
    """Appends item lines to a file and reads back the ids a previous run finished."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()  # worker threads of run_batch append concurrently
        self._file: IO[str] | None = None

    def load_done(self) -> dict[str, dict[str, Any]]:
        """Lines with status ``"ok"``, by id key; failed items are not done and run again.

        A last line cut off by a crash is either completed (when it is whole JSON and only its
        newline is missing) or cut from the file, so that later appends start on a fresh line.
        """
        done: dict[str, dict[str, Any]] = {}
        if not self.path.exists():
            return done
        with self.path.open("rb+") as fh:
            offset = 0
            for raw in fh:
                line = _parse(raw)
                if not raw.endswith(b"\n"):
                    _repair_tail(fh, offset, whole=line is not None)
                if line is not None and line.get("status") == "ok" and "id" in line:
                    done[item_key(line["id"])] = line
                offset += len(raw)
        return done

    def open(self) -> None:
        """Open the file for appending (created if missing)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("a", encoding="utf-8")

    def append(self, line: dict[str, Any]) -> None:
        """Write one item's line and flush it to the operating system."""
        text = json.dumps(line, ensure_ascii=False, default=str) + "\n"
        with self._lock:
            assert self._file is not None, "JsonlStore.open() was not called"
            self._file.write(text)
            self._file.flush()

    def close(self) -> None:
        """Flush, fsync once and close; idempotent."""
        with self._lock:
            if self._file is None:
                return
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None


def _parse(raw: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(raw)
    except ValueError:
        return None  # a line cut off mid-write (or garbage): its item counts as not done
    return value if isinstance(value, dict) else None


def _repair_tail(fh: IO[bytes], offset: int, *, whole: bool) -> None:
    """Make the file end in a newline: complete a whole last line, or drop a partial one."""
    if whole:
        fh.seek(0, os.SEEK_END)
        fh.write(b"\n")
    else:
        fh.truncate(offset)
    fh.flush()
