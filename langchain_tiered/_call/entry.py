"""The bodies of ``TieredChatModel._generate``/``_agenerate``/``_stream``/``_astream``.

Each assembles the request, hands a cascade to the cascade loop, or runs the plan, settles
the answer (or relays the stream and settles it), checks budget alerts and adds what only
the entry point knows (latency, time to first token, structured-output notes). Sync and
async twins sit side by side and share every helper.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncGenerator, Generator, Iterator
from typing import TYPE_CHECKING, Any

from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.utils.utils import LC_ID_PREFIX

from langchain_tiered._call.cascade import cascade_call
from langchain_tiered._call.cascade_stream import acascade_stream, cascade_stream
from langchain_tiered._call.drivers import adrive, drive
from langchain_tiered._call.plan import plan_call
from langchain_tiered._call.relay import Relay, finish_meta
from langchain_tiered._call.request import build_request
from langchain_tiered._call.settle import settle_call
from langchain_tiered.alerts import alerts_after_settle

if TYPE_CHECKING:
    from langchain_core.messages import AIMessage, BaseMessage

    from langchain_tiered._call.actions import Action
    from langchain_tiered._call.state import CallRequest, Runtime
    from langchain_tiered.cascade import Cascade
    from langchain_tiered.metadata import TieredMetadata

__all__ = ["agenerate", "astream", "generate", "stream"]


def _result(message: AIMessage, meta: TieredMetadata, run_id: str | None) -> ChatResult:
    update: dict[str, Any] = {"response_metadata": {**message.response_metadata, "tiered": meta}}
    if message.id is None and run_id is not None:
        # The id LangChain's generate path stamps on an id-less answer, set in the same copy
        # (the run id is already a string here; LangChain would format the UUID again).
        update["id"] = f"{LC_ID_PREFIX}-{run_id}-0"
    return ChatResult(generations=[ChatGeneration(message=message.model_copy(update=update))])


def _alerts(
    rt: Runtime, meta: TieredMetadata, req: CallRequest, run_manager: Any
) -> Generator[Any, Any, Any]:
    """Budget alerts this call's spend set off (see :mod:`langchain_tiered.alerts`)."""
    return alerts_after_settle(
        rt.budgets,
        meta["budget_keys"],
        req.metadata,
        rt.clock.now(),
        meta["cost_usd"] + meta["unknown_outcome_usd"],  # requests charged unanswered too
        listening=req.listening,
    )


def _alerting(rt: Runtime, req: CallRequest) -> bool:
    """Whether a budget alert could reach anyone: an ``on_alert``, or a listening handler."""
    if not rt.budgets:
        return False
    return req.listening or any(b.alert_at and b.on_alert is not None for b in rt.budgets)


def _drive_kw(rt: Runtime, run_manager: Any) -> dict[str, Any]:
    return {"clock": rt.clock, "ledger": rt.ledger, "run_manager": run_manager}


def _answer(
    rt: Runtime, req: CallRequest, cascade: Cascade | None, run_manager: Any
) -> Generator[Action, Any, tuple[AIMessage, TieredMetadata]]:
    """The whole blocking call as one plan: cascade, or route and call, settle, alerts."""
    run_id = req.run_id
    if cascade is not None:
        return (yield from cascade_call(rt, req, cascade, run_id=run_id))
    sel = yield from plan_call(rt, req)
    meta = yield from settle_call(rt, sel, sel.result, run_id=run_id)
    if _alerting(rt, req):
        yield from _alerts(rt, meta, req, run_manager)
    return sel.result, meta


def generate(
    rt: Runtime,
    messages: list[BaseMessage],
    stop: list[str] | None,
    run_manager: Any,
    kwargs: dict[str, Any],
) -> ChatResult:
    """One blocking call: route, pre-flight, call with fallbacks, settle."""
    started, spec = rt.clock.monotonic(), kwargs.get("tiered_structured_output")
    cascade = kwargs.pop("cascade", rt.settings.cascade)
    req = build_request(rt, messages, stop, kwargs, run_manager, stream=False)
    message, meta = drive(_answer(rt, req, cascade, run_manager), **_drive_kw(rt, run_manager))
    return _result(message, finish_meta(meta, rt.clock, started, spec), req.run_id)


async def agenerate(
    rt: Runtime,
    messages: list[BaseMessage],
    stop: list[str] | None,
    run_manager: Any,
    kwargs: dict[str, Any],
) -> ChatResult:
    """Async twin of :func:`generate`."""
    started, spec = rt.clock.monotonic(), kwargs.get("tiered_structured_output")
    cascade = kwargs.pop("cascade", rt.settings.cascade)
    req = build_request(rt, messages, stop, kwargs, run_manager, stream=False)
    plan = _answer(rt, req, cascade, run_manager)
    message, meta = await adrive(plan, **_drive_kw(rt, run_manager))
    return _result(message, finish_meta(meta, rt.clock, started, spec), req.run_id)


def stream(
    rt: Runtime,
    messages: list[BaseMessage],
    stop: list[str] | None,
    run_manager: Any,
    kwargs: dict[str, Any],
) -> Iterator[ChatGenerationChunk]:
    """One streamed call: the tier's chunks relayed as they come, then the closing chunk."""
    kw = _drive_kw(rt, run_manager)
    relay = Relay.start(rt.clock, kwargs.get("tiered_structured_output"))
    cascade = kwargs.pop("cascade", rt.settings.cascade)
    req = build_request(rt, messages, stop, kwargs, run_manager, stream=True)
    if cascade is not None:
        yield from cascade_stream(rt, req, cascade, kw, relay)
        return
    sel = drive(plan_call(rt, req), **kw)
    head, rest = sel.result
    relay.opened(head)
    try:
        for chunk in itertools.chain(head, rest):
            yield relay.wrap(chunk)
    except BaseException as exc:  # cut by an error, or abandoned by the caller
        meta = drive(relay.interrupted(rt, sel, run_manager, exc), **kw)
        if _alerting(rt, req):  # charged like an answer: alerts too
            drive(_alerts(rt, meta, req, run_manager), **kw)
        raise
    meta = drive(relay.settle(rt, sel, run_manager), **kw)
    if _alerting(rt, req):
        drive(_alerts(rt, meta, req, run_manager), **kw)
    yield relay.final(meta)


async def astream(
    rt: Runtime,
    messages: list[BaseMessage],
    stop: list[str] | None,
    run_manager: Any,
    kwargs: dict[str, Any],
) -> AsyncGenerator[ChatGenerationChunk, None]:
    """Async twin of :func:`stream`."""
    kw = _drive_kw(rt, run_manager)
    relay = Relay.start(rt.clock, kwargs.get("tiered_structured_output"))
    cascade = kwargs.pop("cascade", rt.settings.cascade)
    req = build_request(rt, messages, stop, kwargs, run_manager, stream=True)
    if cascade is not None:
        steps = acascade_stream(rt, req, cascade, kw, relay)
        try:  # closed now when the caller stops reading: it settles what was paid
            async for chunk in steps:
                yield chunk
        finally:
            await steps.aclose()
        return
    sel = await adrive(plan_call(rt, req), **kw)
    head, rest = sel.result
    relay.opened(head)
    try:
        for chunk in head:
            yield relay.wrap(chunk)
        async for chunk in rest:
            yield relay.wrap(chunk)
    except BaseException as exc:  # cut by an error, or abandoned/cancelled by the caller
        meta = await adrive(relay.interrupted(rt, sel, run_manager, exc), **kw)
        if _alerting(rt, req):  # charged like an answer: alerts too
            await adrive(_alerts(rt, meta, req, run_manager), **kw)
        raise
    meta = await adrive(relay.settle(rt, sel, run_manager), **kw)
    if _alerting(rt, req):
        await adrive(_alerts(rt, meta, req, run_manager), **kw)
    yield relay.final(meta)
