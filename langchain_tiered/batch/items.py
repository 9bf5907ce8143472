"""Batch items: normalising inputs into jobs, and turning each outcome into a ``BatchItem``.

Also the JSON line an item is stored as, and the way back from that line to an item, so the
resumable output file and the in-memory results describe an item the same way.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, message_to_dict
from pydantic import BaseModel

from langchain_tiered._redact import redact
from langchain_tiered.batch.errors import OutcomeUnknownError
from langchain_tiered.errors import TieredError
from langchain_tiered.fallbacks import classify_error

__all__ = [
    "BatchItem",
    "Job",
    "failed_item",
    "item_from_line",
    "item_key",
    "item_line",
    "make_jobs",
    "ok_item",
    "unknown_item",
]


@dataclass(frozen=True)
class BatchItem:
    """The outcome of one batch input.

    Attributes:
        index: Position of the input in ``inputs``.
        id: The input's id (its ``id_key`` value, else its index).
        input: What was sent to the model.
        output: The answer, or ``None`` if the item failed.
        error: The exception the item failed with (typed errors are kept as they were raised).
        error_type: The error's class name, or ``None``.
        attempts: One entry per model attempt (tier, kind, error_type, message, ...), taken from
            ``response_metadata["tiered"]`` or ``AllTiersFailedError.attempts``.
        tier: The tier that answered (``None`` for failures and for plain chat models).
        cost_usd: Settled cost of the answer (0.0 for failures and for plain chat models).
        latency_s: Seconds the call took, by the batch's timer.
        skipped_resumed: ``True`` if the item was loaded from a previous run's output file.
        fallback_triggered: Whether a tier other than the routed one answered.
    """

    index: int
    id: Any
    input: Any
    output: BaseMessage | None
    error: Exception | None
    error_type: str | None
    attempts: list[dict[str, Any]]
    tier: str | None
    cost_usd: float
    latency_s: float
    skipped_resumed: bool = False
    fallback_triggered: bool = False

    @property
    def ok(self) -> bool:
        """Whether the item has an answer."""
        return self.error is None


@dataclass(frozen=True)
class Job:
    """One input ready to run.

    Attributes:
        index: Position in ``inputs``.
        id: The input's id, else its index.
        key: What resume matches on: the id, or for inputs without one a hash of the input,
            its metadata and the model's config (so inserting a line never shifts answers).
        input: What to send.
        metadata: Extra call metadata.
        input_hash: Hash of the input, its metadata and the model's config.
    """

    index: int
    id: Any
    key: str
    input: Any
    metadata: dict[str, Any] = field(default_factory=dict)
    input_hash: str = ""


def item_key(item_id: Any) -> str:
    """A canonical string for an id, equal before and after a JSON round trip.

    ``json.dumps(item_id, sort_keys=True, default=repr)`` (stored files hold it), by one
    shared encoder instead of a new one per id.
    """
    return _KEY_ENCODER.encode(item_id)


_KEY_ENCODER = json.JSONEncoder(sort_keys=True, default=repr)


def make_jobs(
    inputs: Sequence[Any],
    id_key: str,
    input_key: str,
    fingerprint: str = "",
    *,
    hashed: bool = True,
) -> list[Job]:
    """Normalise inputs into jobs, refusing duplicate ids before anything is sent.

    Args:
        inputs: The batch's inputs.
        id_key: Key of the id in mapping inputs.
        input_key: Key of the input in mapping inputs.
        fingerprint: The model configuration that shapes answers (part of every hash).
        hashed: Compute the input hashes resume matches on. Without an output file nothing is
            matched, so ``False`` skips them: items without an id are keyed ``#<index>``
            and ``input_hash`` stays empty.

    Raises:
        ValueError: An id occurs more than once, or a mapping lacks ``input_key``.
    """
    jobs: list[Job] = []
    seen: Counter[str] = Counter()  # identical inputs without ids: 1st, 2nd, ... occurrence
    for index, raw in enumerate(inputs):
        item_id, item_input, metadata = _unpack(index, raw, id_key, input_key)
        digest = content_hash(item_input, metadata, fingerprint) if hashed else ""
        if item_id is not None:
            jobs.append(Job(index, item_id, item_key(item_id), item_input, metadata, digest))
        elif hashed:
            key = f"sha256:{digest}#{seen[digest]}"
            seen[digest] += 1
            jobs.append(Job(index, index, key, item_input, metadata, digest))
        else:  # never written, never matched: unique by position (no JSON id reads "#...")
            jobs.append(Job(index, index, f"#{index}", item_input, metadata))
    counts = Counter(job.key for job in jobs)
    if len(counts) < len(jobs):
        duplicates = [job.id for job in jobs if counts[job.key] > 1]
        names = ", ".join(dict.fromkeys(repr(d) for d in duplicates))
        msg = f"duplicate ids in inputs: {names}; give every item a unique {id_key!r}"
        raise ValueError(msg)
    return jobs


def _unpack(index: int, raw: Any, id_key: str, input_key: str) -> tuple[Any, Any, dict[str, Any]]:
    if not isinstance(raw, Mapping):
        return None, raw, {}
    if input_key not in raw:
        msg = (
            f"inputs[{index}] is a mapping without {input_key!r}; pass "
            f"{{{id_key!r}: ..., {input_key!r}: ..., 'metadata': {{...}}}} or the input itself"
        )
        raise ValueError(msg)
    return raw.get(id_key), raw[input_key], dict(raw.get("metadata") or {})


def content_hash(item_input: Any, metadata: Mapping[str, Any], fingerprint: str) -> str:
    """A stable hash of what shapes an item's answer: input, metadata, model config.

    Output files of earlier versions store it, so its text must never change: it is the
    SHA-256 of ``json.dumps({"input", "metadata", "config"}, sort_keys=True,
    ensure_ascii=False, default=_stable)``, encoded by one shared encoder (what ``json.dumps``
    builds anew per call with these options).
    """
    data = {"input": item_input, "metadata": metadata, "config": fingerprint}
    return hashlib.sha256(_ENCODER.encode(data).encode("utf-8")).hexdigest()


def _stable(value: Any) -> Any:
    """JSON for messages and models; a type name for anything else (never a memory address)."""
    if isinstance(value, BaseMessage):
        return message_to_dict(value)
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    return f"<{type(value).__module__}.{type(value).__qualname__}>"


# Stateless between calls (each encode builds its own iterator), so threads may share it.
_ENCODER = json.JSONEncoder(sort_keys=True, ensure_ascii=False, default=_stable)


def ok_item(job: Job, output: Any, latency_s: float) -> BatchItem:
    """The item for an answer; a non-message answer fails, since it cannot be stored."""
    if isinstance(output, str):
        output = AIMessage(content=output)
    if not isinstance(output, BaseMessage):
        error = TypeError(
            f"the model returned {type(output).__name__}; run_batch needs a chat "
            "model or a runnable returning messages or strings"
        )
        return failed_item(job, error, latency_s)
    meta = output.response_metadata.get("tiered") or {}
    return _item(job, output, None, meta, latency_s=latency_s)


def failed_item(job: Job, error: Exception, latency_s: float) -> BatchItem:
    """The item for a failure, keeping the exception object and every attempt it knows of."""
    return _item(job, None, error, {"attempts": _attempts_of(error)}, latency_s=latency_s)


def _item(
    job: Job,
    output: BaseMessage | None,
    error: Exception | None,
    meta: Mapping[str, Any],
    *,
    latency_s: float,
    skipped_resumed: bool = False,
) -> BatchItem:
    """The item of ``job``; ``meta`` gives attempts, tier, cost_usd and fallback_triggered.

    ``meta`` is the answer's ``tiered`` metadata or a stored line, so absent or ``None``
    fields read as no attempts, no tier, $0 and no fallback.
    """
    return BatchItem(
        index=job.index,
        id=job.id,
        input=job.input,
        output=output,
        error=error,
        error_type=None if error is None else type(error).__name__,
        attempts=list(meta.get("attempts") or []),
        tier=meta.get("tier"),
        cost_usd=float(meta.get("cost_usd") or 0.0),
        latency_s=latency_s,
        skipped_resumed=skipped_resumed,
        fallback_triggered=bool(meta.get("fallback_triggered")),
    )


def _attempts_of(error: Exception) -> list[dict[str, Any]]:
    attempts = getattr(error, "attempts", None)
    if isinstance(attempts, list):
        return list(attempts)
    if isinstance(error, TieredError):
        return []  # refused before any network call (budget, context window, pricing)
    # A plain chat model (or a tier's fatal error re-raised as is): one attempt was made.
    info = classify_error(error)
    return [
        {
            "tier": None,
            "error_type": info.error_type,
            "status": info.status,
            "kind": info.kind.value,
            "message": info.message,
        }
    ]


def unknown_item(job: Job) -> BatchItem:
    """The item for an input an earlier run sent but never recorded an answer for."""
    error = OutcomeUnknownError(
        f"item {job.id!r} was sent by an earlier run that stopped before its answer was "
        "recorded; the provider may have billed it. Pass resend_unknown=True "
        "(batch --resend-unknown) to send it again."
    )
    return _item(job, None, error, {}, latency_s=0.0, skipped_resumed=True)


def _tidy(usd: float | None) -> float | None:
    """Drop float noise (1.6400000000000002e-05 -> 1.64e-05); 15 significant digits round-trip."""
    return None if usd is None else float(f"{usd:.15g}")


def item_line(item: BatchItem, job: Job, secrets: Iterable[str] = ()) -> dict[str, Any]:
    """The JSON object stored for an item; error text is redacted, exception objects dropped.

    Args:
        item: The finished item.
        job: Its job (the resume key and input hash are stored with it).
        secrets: Configured credentials to mask wherever they appear in error text.
    """
    secrets = tuple(secrets)
    line: dict[str, Any] = {
        "id": item.id,
        "key": job.key,
        "input_hash": job.input_hash,
        "index": item.index,
        "status": "ok" if item.ok else "error",
        "tier": item.tier,
        "cost_usd": _tidy(item.cost_usd),
        "latency_s": item.latency_s,
        "fallback_triggered": item.fallback_triggered,
        "attempts": [_clean_attempt(a, secrets) for a in item.attempts],
    }
    if item.output is not None:
        out = item.output
        line.update(
            content=out.content,
            tool_calls=getattr(out, "tool_calls", []),
            usage_metadata=getattr(out, "usage_metadata", None),
            response_metadata=out.response_metadata,
            message_id=out.id,
        )
    if item.error is not None:
        message = redact(classify_error(item.error).message, secrets)
        line.update(error_type=item.error_type, error_message=message)
    return line


def _clean_attempt(attempt: Mapping[str, Any], secrets: tuple[str, ...]) -> dict[str, Any]:
    """An attempt without its exception object, its text masked."""
    return {
        k: _redact_short(v, secrets) if isinstance(v, str) else v
        for k, v in attempt.items()
        if k != "error"
    }


def _redact_short(text: str, secrets: tuple[str, ...]) -> str:
    # Every attempt repeats the same short strings (tier, model, kind, error type): masking
    # them once per batch instead of once per item saves five regex passes each. Long text
    # (error messages) is masked every time and never kept.
    if len(text) > _MEMO_MAX_CHARS:
        return redact(text, secrets)
    return _redact_memo(text, secrets)


_MEMO_MAX_CHARS = 128
_redact_memo = functools.lru_cache(maxsize=1024)(redact)


def item_from_line(job: Job, line: Mapping[str, Any]) -> BatchItem:
    """A resumed item: the stored answer rebuilt as an ``AIMessage``."""
    output = AIMessage(
        content=line.get("content", ""),
        tool_calls=line.get("tool_calls") or [],
        usage_metadata=line.get("usage_metadata"),
        response_metadata=line.get("response_metadata") or {},
        id=line.get("message_id"),
    )
    latency_s = float(line.get("latency_s") or 0)
    return _item(job, output, None, line, latency_s=latency_s, skipped_resumed=True)
