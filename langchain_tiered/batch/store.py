"""The resumable JSONL output of a batch: one line per finished item, appended as it finishes.

Durability: every line is written with a single ``write`` and flushed to the operating system
at once, so a crash of the process (an exception, Ctrl-C, ``kill -9``) loses no finished item.
Lines are not fsync'ed one by one (that would cap a batch at a few hundred items per second on
ordinary disks); the file is fsync'ed once when the batch ends. An operating-system crash or
power loss may therefore drop the last lines written.

Nothing is billed twice on a rerun: before an item is sent, a "sent" line with a fresh
``send_id`` is flushed to ``<out>.inflight``, and the item's result line carries the same id.
A sent item without a result line (the process was killed while it was in flight, or its
answer could not be written) has an unknown outcome: the provider may have answered and billed
it. A rerun reports such items instead of sending them again, unless asked to resend.

One run at a time: the output file is locked (``fcntl.flock``) for the whole run, and a second
run on the same file refuses to start.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no lock, one run per file is up to the user
    fcntl = None  # type: ignore[assignment]

from langchain_tiered.batch.errors import BatchOutputError
from langchain_tiered.batch.items import Job, item_key

__all__ = ["JsonlStore", "Loaded"]

# What json.dumps(line, ensure_ascii=False, default=str) builds anew on every call (two per
# item); encoding keeps no state between calls, so worker threads may share it.
_LINE = json.JSONEncoder(ensure_ascii=False, default=str)


@dataclass
class Loaded:
    """What earlier runs left in the output file.

    Attributes:
        latest: The last result line of every key (``"ok"`` or ``"error"``).
        unknown: Sent entries (``key``, ``index``, ``id``, ``input_hash``, ``send_id``) with no
            result line.
    """

    latest: dict[str, dict[str, Any]] = field(default_factory=dict)
    unknown: dict[str, dict[str, Any]] = field(default_factory=dict)


class JsonlStore:
    """Appends item lines to a locked file and reads back what a previous run finished.

    Args:
        path: The output file.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.inflight_path = Path(f"{self.path}.inflight")
        self._lock = threading.Lock()  # worker threads of run_batch append concurrently
        self._file: IO[str] | None = None
        self._sent: IO[str] | None = None
        self._pending: dict[str, dict[str, Any]] = {}  # send_id -> sent entry, no result yet

    def open(self) -> None:
        """Refuse unusable outputs, open and lock the file (created if missing).

        Raises:
            BatchOutputError: Not a regular file, cannot be opened, or locked by another run.
        """
        if self.path.exists() and not self.path.is_file():
            msg = f"{self.path} is not a regular file; write the results to a file path"
            raise BatchOutputError(msg)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            handle = self.path.open("a", encoding="utf-8")
        except OSError as exc:
            msg = f"cannot open {self.path} for appending: {exc.strerror or exc}"
            raise BatchOutputError(msg) from None
        if fcntl is not None:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                msg = (
                    f"another batch is writing to {self.path}; wait for it to finish or "
                    "choose another output file"
                )
                raise BatchOutputError(msg) from None
        self._file = handle
        try:
            self._sent = self.inflight_path.open("a", encoding="utf-8")
        except OSError as exc:
            self.close()
            msg = f"cannot open {self.inflight_path} for appending: {exc.strerror or exc}"
            raise BatchOutputError(msg) from None

    def load(self) -> Loaded:
        """Result lines and unanswered sends of earlier runs (call after :meth:`open`).

        A last line cut off by a crash is either completed (when it is whole JSON and only its
        newline is missing) or cut from the file, so that later appends start on a fresh line.
        """
        loaded = Loaded()
        answered: set[str] = set()
        for line in _read_lines(self.path):
            if line.get("status") in ("ok", "error") and ("key" in line or "id" in line):
                key = line["key"] if "key" in line else item_key(line["id"])
                loaded.latest[key] = line
                answered.add(str(line.get("send_id")))
        for entry in _read_lines(self.inflight_path):
            if entry.get("send_id") not in answered and "key" in entry:
                loaded.unknown[entry["key"]] = entry
        # Still unanswered: kept in the in-flight log until sent again (or forever).
        self._pending = {e["send_id"]: e for e in loaded.unknown.values()}
        return loaded

    def forget(self, send_id: str) -> None:
        """Drop an unknown entry that is being sent again under a new id."""
        with self._lock:
            self._pending.pop(send_id, None)

    def sent(self, job: Job) -> str:
        """Log that ``job`` is about to be sent; return its ``send_id``.

        Raises:
            OSError: The log cannot be written (the item must then not be sent).
        """
        send_id = uuid.uuid4().hex
        entry = {
            "key": job.key,
            "index": job.index,
            "id": job.id,
            "input_hash": job.input_hash,
            "send_id": send_id,
        }
        text = _LINE.encode(entry) + "\n"
        with self._lock:
            assert self._sent is not None, "JsonlStore.open() was not called"
            self._sent.write(text)
            self._sent.flush()
            self._pending[send_id] = entry
        return send_id

    def append(self, line: dict[str, Any]) -> None:
        """Write one item's line and flush it to the operating system.

        Raises:
            OSError: The write failed (disk full, I/O error).
        """
        text = _LINE.encode(line) + "\n"
        with self._lock:
            assert self._file is not None, "JsonlStore.open() was not called"
            self._file.write(text)
            self._file.flush()
            self._pending.pop(str(line.get("send_id")), None)

    def close(self) -> None:
        """Flush, fsync once, rewrite the in-flight log to what is still unknown, unlock."""
        with self._lock:
            for handle in (self._file, self._sent):
                if handle is None:
                    continue
                try:
                    handle.flush()
                    os.fsync(handle.fileno())
                except OSError:
                    pass  # a full disk: what could not be flushed is already reported
                finally:
                    handle.close()
            if self._file is not None:
                self._compact_inflight()
            self._file = self._sent = None

    def _compact_inflight(self) -> None:
        try:
            if not self._pending:
                self.inflight_path.unlink(missing_ok=True)
                return
            tmp = self.inflight_path.with_name(self.inflight_path.name + ".tmp")
            body = "".join(json.dumps(e, default=str) + "\n" for e in self._pending.values())
            tmp.write_text(body, encoding="utf-8")
            os.replace(tmp, self.inflight_path)
        except OSError:
            pass  # the uncompacted log still lists every unknown item (and a few answered)


def _read_lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    lines: list[dict[str, Any]] = []
    with path.open("rb+") as fh:
        offset = 0
        for raw in fh:
            line = _parse(raw)
            if not raw.endswith(b"\n"):
                _repair_tail(fh, offset, whole=line is not None)
            if line is not None:
                lines.append(line)
            offset += len(raw)
    return lines


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
