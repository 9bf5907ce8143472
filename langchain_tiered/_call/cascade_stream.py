"""Streaming a cascade: validated earlier steps as one chunk, the last possible step live.

Steps that may still escalate run without streaming and are validated whole; only an accepted
answer is emitted (as one chunk carrying the metadata). The last possible step streams live
through the engine's :class:`~langchain_tiered._call.relay.Relay` and is validated afterwards
(only to mark it; with ``on_rejected="raise"`` it is buffered and validated first). Text of a
rejected step never reaches the caller.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import AsyncGenerator, Iterator
from typing import TYPE_CHECKING, Any, cast

from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.outputs import ChatGenerationChunk

from langchain_tiered._call.cascade import CascadeRun, answer_step, take_steps
from langchain_tiered._call.drivers import adrive, drive
from langchain_tiered._call.relay import Relay, finish_meta, run_id_of
from langchain_tiered._call.run_context import StreamRun

if TYPE_CHECKING:
    from langchain_tiered._call.state import CallRequest, Runtime
    from langchain_tiered.cascade import Cascade
    from langchain_tiered.metadata import TieredMetadata

__all__ = ["acascade_stream", "cascade_stream"]


def _whole(message: AIMessage, meta: TieredMetadata) -> ChatGenerationChunk:
    """An accepted, already validated answer as one stream chunk carrying the metadata."""
    calls: list[tuple[str | None, str | None, str | None]]
    calls = [(c["name"], json.dumps(c["args"]), c["id"]) for c in message.tool_calls]
    calls += [(c["name"], c["args"], c["id"]) for c in message.invalid_tool_calls]
    chunk = AIMessageChunk(
        content=message.content,
        additional_kwargs=message.additional_kwargs,
        response_metadata={**message.response_metadata, "tiered": meta},
        tool_call_chunks=[
            {"name": name, "args": args, "id": id_, "index": i}
            for i, (name, args, id_) in enumerate(calls)
        ],
        usage_metadata=message.usage_metadata,
        id=message.id,
        chunk_position="last",
    )
    return ChatGenerationChunk(message=chunk)


def _merged(relay: Relay) -> AIMessage:
    if not relay.chunks:
        return AIMessage(content="")
    first, *rest = relay.chunks
    merged = first + rest if rest else first
    return AIMessage(**{k: v for k, v in merged.model_dump().items() if k != "type"})


def _quiet(drive_kw: dict[str, Any]) -> dict[str, Any]:
    """Driver settings whose tier runs do not inherit streaming handlers.

    ``astream_events``/``astream_log`` attach a streaming handler that makes every child chat
    model stream its tokens as events; a step that may be rejected must not show its text
    there either. The tier runs stay visible to every other handler (tracers, our cost
    callback), and the tiered run's own stream still carries the emitted answer.
    """
    rm = drive_kw.get("run_manager")
    if rm is None:
        return drive_kw
    keep = [h for h in rm.inheritable_handlers if not hasattr(h, "tap_output_iter")]
    if len(keep) == len(rm.inheritable_handlers):
        return drive_kw
    if isinstance(rm, StreamRun):
        return {**drive_kw, "run_manager": dataclasses.replace(rm, inheritable_handlers=keep)}
    quiet = type(rm)(
        run_id=rm.run_id,
        handlers=rm.handlers,
        inheritable_handlers=keep,
        parent_run_id=rm.parent_run_id,
        tags=rm.tags,
        inheritable_tags=rm.inheritable_tags,
        metadata=rm.metadata,
        inheritable_metadata=rm.inheritable_metadata,
    )
    return {**drive_kw, "run_manager": quiet}


def cascade_stream(
    rt: Runtime, req: CallRequest, cascade: Cascade, drive_kw: dict[str, Any], relay: Relay
) -> Iterator[ChatGenerationChunk]:
    """Stream a cascade: validated earlier steps as one chunk, the last step live.

    ``drive_kw`` are the keyword arguments of :func:`~langchain_tiered._call.drivers.drive`;
    ``relay`` was started with the call (its clock times the whole cascade).
    """
    run = CascadeRun(rt, req, cascade, run_id_of(drive_kw["run_manager"]))
    kw = _quiet(drive_kw)
    kind, a, b = drive(take_steps(run), **kw)
    if kind == "done":
        yield _whole(a, finish_meta(b, rt.clock, relay.started, relay.spec))
        return
    step_rt, sel = a, b
    head, rest = sel.result
    relay.opened(head)
    try:
        for chunk in itertools.chain(head, rest):
            yield relay.wrap(chunk)
    except BaseException as exc:
        drive(answer_step(run, step_rt, sel, _merged(relay), interrupted=True, cut_by=exc), **kw)
        raise
    meta, _ = drive(answer_step(run, step_rt, sel, _merged(relay)), **kw)
    assert meta is not None  # the last step always ends the cascade
    yield relay.final(cast("TieredMetadata", meta))


async def acascade_stream(
    rt: Runtime, req: CallRequest, cascade: Cascade, drive_kw: dict[str, Any], relay: Relay
) -> AsyncGenerator[ChatGenerationChunk, None]:
    """Async twin of :func:`cascade_stream`."""
    run = CascadeRun(rt, req, cascade, run_id_of(drive_kw["run_manager"]))
    kw = _quiet(drive_kw)
    kind, a, b = await adrive(take_steps(run), **kw)
    if kind == "done":
        yield _whole(a, finish_meta(b, rt.clock, relay.started, relay.spec))
        return
    step_rt, sel = a, b
    head, rest = sel.result
    relay.opened(head)
    try:
        for chunk in head:
            yield relay.wrap(chunk)
        async for chunk in rest:
            yield relay.wrap(chunk)
    except BaseException as exc:
        step = answer_step(run, step_rt, sel, _merged(relay), interrupted=True, cut_by=exc)
        await adrive(step, **kw)
        raise
    meta, _ = await adrive(answer_step(run, step_rt, sel, _merged(relay)), **kw)
    assert meta is not None  # the last step always ends the cascade
    yield relay.final(cast("TieredMetadata", meta))
