"""Preparing a batch: jobs, what earlier runs left in the output file, and what still has to run.

Resume rules (each protects against paying twice or attaching an answer to the wrong input):

- An item with an id is matched by its id; its stored answer is reused only if the stored
  input hash (input, metadata and model configuration) equals the current one. Otherwise
  a :class:`~langchain_tiered.batch.errors.BatchInputChangedWarning` names the ids and they
  run again.
- An item without an id is matched by that hash itself (plus its occurrence number among
  identical inputs), so inserting or removing lines never shifts answers between prompts.
- An item an earlier run sent without recording its answer (killed in flight) is reported as
  a dead letter with :class:`~langchain_tiered.batch.errors.OutcomeUnknownError` and not sent
  again unless ``resend_unknown=True``.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.runnables import Runnable, RunnableConfig
from pydantic import BaseModel, SecretStr

from langchain_tiered.batch.errors import BatchInputChangedWarning
from langchain_tiered.batch.items import (
    BatchItem,
    Job,
    item_from_line,
    make_jobs,
    unknown_item,
)
from langchain_tiered.batch.sink import Sink
from langchain_tiered.batch.store import JsonlStore, Loaded

__all__ = ["Plan", "item_config", "model_fingerprint", "model_secrets", "prepare"]

Timer = Callable[[], float]
_SHOWN = 5  # ids named in the changed-input warning


@dataclass
class Plan:
    """A prepared batch: the jobs still to run and where their items go."""

    jobs: list[Job]
    sink: Sink
    config: RunnableConfig | None
    timer: Timer
    workers: int


@dataclass(frozen=True)
class Options:
    """The caller's settings for one batch (see :func:`~langchain_tiered.batch.run_batch`)."""

    max_concurrency: int
    config: RunnableConfig | None
    output: str | os.PathLike[str] | None
    id_key: str
    input_key: str
    progress: bool
    return_exceptions: bool
    timer: Timer
    resend_unknown: bool


def prepare(model: Runnable[Any, Any], inputs: Sequence[Any], options: Options) -> Plan:
    """Validate, lock and read the output file, and decide what runs.

    Raises:
        ValueError: Duplicate ids, a mapping without the input key, ``max_concurrency < 1``.
        BatchOutputError: The output file is unusable or another run holds it.
    """
    if options.max_concurrency < 1:
        msg = f"max_concurrency must be at least 1, got {options.max_concurrency}"
        raise ValueError(msg)
    store = JsonlStore(options.output) if options.output is not None else None
    # Hashes only serve matching against an output file: without one, none are computed.
    fingerprint = model_fingerprint(model) if store is not None else ""
    jobs = make_jobs(
        inputs, options.id_key, options.input_key, fingerprint, hashed=store is not None
    )
    loaded = Loaded()
    if store is not None:
        store.open()
        try:
            loaded = store.load()
        except BaseException:
            store.close()
            raise
    earlier, todo = _split(jobs, loaded, store, resend_unknown=options.resend_unknown)
    sink = Sink(
        len(jobs),
        store,
        progress=options.progress,
        stop_on_error=not options.return_exceptions,
        secrets=model_secrets(model),
    )
    sink.resume(earlier)
    workers = min(options.max_concurrency, len(todo))
    return Plan(todo, sink, options.config, options.timer, workers)


def _split(
    jobs: list[Job], loaded: Loaded, store: JsonlStore | None, *, resend_unknown: bool
) -> tuple[list[BatchItem], list[Job]]:
    """Items settled by earlier runs (answered or unknown), and the jobs to run now."""
    earlier: list[BatchItem] = []
    todo: list[Job] = []
    changed: list[Any] = []
    for job in jobs:
        line = loaded.latest.get(job.key)
        if line is not None and line.get("status") == "ok":
            # Lines written before hashes were stored carry none: their id is trusted.
            if line.get("input_hash", job.input_hash) == job.input_hash:
                earlier.append(item_from_line(job, line))
                continue
            changed.append(job.id)
        sent = loaded.unknown.get(job.key)
        if sent is not None and sent.get("input_hash") == job.input_hash:
            if not resend_unknown:
                earlier.append(unknown_item(job))
                continue
            if store is not None:
                store.forget(sent["send_id"])
        todo.append(job)
    if changed:
        shown = ", ".join(repr(i) for i in changed[:_SHOWN]) + (
            " ..." if len(changed) > _SHOWN else ""
        )
        message = (
            f"{len(changed)} id(s) in the output file answered a different input or model "
            f"config ({shown}); they run again. Give changed prompts new ids to keep both."
        )
        warnings.warn(BatchInputChangedWarning(message), stacklevel=4)
    return earlier, todo


def item_config(base: RunnableConfig | None, job: Job) -> RunnableConfig | None:
    """The batch's config with the item's metadata merged over it (e.g. ``budget_key``)."""
    if not job.metadata:
        return base
    config: dict[str, Any] = dict(base or {})
    config["metadata"] = {**(config.get("metadata") or {}), **job.metadata}
    return config  # type: ignore[return-value]  # a plain dict with RunnableConfig's keys


def model_fingerprint(model: Runnable[Any, Any]) -> str:
    """The configuration that shapes a model's answers, as stable text.

    The model's (and, for a ``TieredChatModel``, every tier model's) type and LangChain
    identifying parameters: model names, temperature, max tokens and the like.
    """
    parts: list[Any] = [type(model).__qualname__, _params(model)]
    for tier in getattr(model, "tiers", None) or ():
        inner = getattr(tier, "model", None)
        parts.append([getattr(tier, "name", None), type(inner).__qualname__, _params(inner)])
    return json.dumps(parts, sort_keys=True, default=lambda v: f"<{type(v).__qualname__}>")


def _params(model: Any) -> Mapping[str, Any] | None:
    try:
        params = model._identifying_params
    except Exception:
        return None
    return dict(params) if isinstance(params, Mapping) else None


def model_secrets(model: Runnable[Any, Any]) -> tuple[str, ...]:
    """API keys configured on the model and its tier models, to mask in what a batch stores."""
    candidates = [model, *(getattr(t, "model", None) for t in getattr(model, "tiers", None) or ())]
    found: set[str] = set()
    for candidate in candidates:
        if not isinstance(candidate, BaseModel):
            continue
        for name in type(candidate).model_fields:
            value = getattr(candidate, name, None)
            if isinstance(value, SecretStr) and value.get_secret_value():
                found.add(value.get_secret_value())
    return tuple(sorted(found))
