"""The emulator's Anthropic Messages endpoint (``POST /v1/messages``).

Same scripts, faults, context windows and request log as the OpenAI endpoint; only the wire
differs (:mod:`~langchain_tiered.testing._anthropic_wire`). Point ``ChatAnthropic`` at it
with ``base_url=emu.root_url``. Overload, rate limits and server errors can arrive as HTTP
errors or, after the stream opened with 200, as an ``event: error``, as Anthropic sends them.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterable, Mapping
from typing import Any

from aiohttp import web

from langchain_tiered.testing import _anthropic_wire as wire
from langchain_tiered.testing._accounting import build_completion, count_prompt, encoding
from langchain_tiered.testing._aio import SSE_HEADERS, cut, json_response, truncated_body
from langchain_tiered.testing._aio import stall as stall_for
from langchain_tiered.testing._faults import BODY_KINDS, IN_STREAM_KINDS, Fault
from langchain_tiered.testing._records import RequestRecord
from langchain_tiered.testing._replies import Reply
from langchain_tiered.testing._state import EmulatorState
from langchain_tiered.testing._wire import Completion, parse_json

__all__ = ["AnthropicHandler"]

_OPENED = 1  # message_start: the stream is open, no content yet
_DEFAULT_BREAK_AFTER = 4  # message_start, ping, block start, one text delta
_STALL_SECONDS = 30.0


class AnthropicHandler:
    """``POST /v1/messages`` over one emulator's state."""

    def __init__(self, state: EmulatorState) -> None:
        self._state = state

    async def messages(self, request: web.Request) -> web.StreamResponse:
        """Answer one Messages request."""
        arrived = time.time()
        body, _ = parse_json(await request.read())
        error = wire.validate_messages_request(body)
        if error is not None:
            model = body.get("model") if isinstance(body, dict) else None
            self._log(model, arrived, body, outcome="bad_request", status=400)
            return json_response(400, error)
        try:
            return await self._answer(request, body, arrived)
        except Exception as exc:  # a bug or a failing user responder must not kill the server
            self._log(body["model"], arrived, body, outcome="internal_error", status=500)
            text = f"emulator internal error: {type(exc).__name__}: {exc}"
            return json_response(500, wire.anthropic_error("api_error", text))

    async def _answer(
        self, request: web.Request, body: dict[str, Any], arrived: float
    ) -> web.StreamResponse:
        model: str = body["model"]
        seq = self._state.next_seq(model)
        openai_body = wire.to_openai_body(body)
        prompt = count_prompt(openai_body)
        verdict = self._state.judge(model)
        fault = verdict.fault
        if verdict.delay and (fault is None or fault.kind != "stall"):
            await asyncio.sleep(verdict.delay)
        stream = bool(body.get("stream"))
        window = self._state.context_window(model)
        if fault is not None and fault.kind == "disconnect":
            self._log(model, arrived, body, outcome="disconnect", status=0, prompt=prompt)
            cut(request)
            return web.Response(status=499)  # never sent: the transport is closed
        if fault is not None and _as_http_error(fault, stream=stream):
            status, error, headers = wire.fault_status(fault, window, prompt)
            self._log(model, arrived, body, outcome=fault.kind, status=status, prompt=prompt)
            return json_response(status, error, headers)
        if window is not None and prompt + body["max_tokens"] > window:
            self._log(model, arrived, body, outcome="context_length", status=400, prompt=prompt)
            return json_response(400, wire.overflow_error(window, prompt))
        reply = self._state.reply_for(openai_body)
        if fault is not None and fault.kind == "refusal":
            reply = Reply(content=None, finish_reason="content_filter")
        completion = build_completion(reply, openai_body, seq=seq, prompt=prompt)
        cache = self._cache(body, prompt)
        outcome = fault.kind if fault is not None else verdict.outcome
        self._log(
            model, arrived, body, outcome=outcome, status=200, completion=completion, cache=cache
        )
        if fault is not None and fault.kind != "refusal":
            return await self._broken(request, completion, cache, fault, stream=stream)
        if stream:
            return await self._stream(request, wire.message_events(completion, cache))
        return json_response(
            200, wire.message_json(completion, cache), {"request-id": completion.id}
        )

    def _cache(self, body: Mapping[str, Any], prompt: int) -> tuple[int, int]:
        marked = wire.cache_prefix(body)
        if marked is None:
            return 0, 0
        identity, text = marked
        tokens = min(len(encoding().encode(text, disallowed_special=())), prompt)
        return self._state.cache.anthropic_cached(body["model"], identity, tokens)

    async def _broken(
        self,
        request: web.Request,
        completion: Completion,
        cache: tuple[int, int],
        fault: Fault,
        *,
        stream: bool,
    ) -> web.StreamResponse:
        events = wire.message_events(completion, cache)
        after = fault.break_after_chunks
        if fault.kind in IN_STREAM_KINDS:
            stop = _OPENED if after is None else after
            return await self._stream(request, events, stop, [wire.in_stream_error(fault)])
        stall = (fault.latency or _STALL_SECONDS) if fault.kind == "stall" else None
        if stream:
            default = _OPENED if stall else _DEFAULT_BREAK_AFTER
            return await self._stream(
                request, events, default if after is None else after, stall=stall
            )
        payload = json.dumps(wire.message_json(completion, cache)).encode()
        return await truncated_body(request, payload, stall)

    @staticmethod
    async def _stream(
        request: web.Request,
        events: Iterable[bytes],
        stop_after: int | None = None,
        then: Iterable[bytes] = (),
        stall: float | None = None,
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers=SSE_HEADERS)
        await response.prepare(request)
        for sent, event in enumerate(events):
            if stop_after is not None and sent >= stop_after:
                tail = list(then)
                for extra in tail:
                    await response.write(extra)
                if tail:
                    await response.write_eof()
                    return response
                if stall:
                    await stall_for(request, stall)
                cut(request)
                return response
            await response.write(event)
        await response.write_eof()
        return response

    def _log(
        self,
        model: Any,
        arrived: float,
        body: Any,
        *,
        outcome: str,
        status: int,
        prompt: int = 0,
        completion: Completion | None = None,
        cache: tuple[int, int] = (0, 0),
    ) -> None:
        ok = isinstance(body, dict)
        self._state.record(
            RequestRecord(
                model=model if isinstance(model, str) else "",
                prompt_tokens=completion.prompt_tokens if completion is not None else prompt,
                completion_tokens=completion.completion_tokens if completion is not None else 0,
                outcome=outcome,
                status=status,
                stream=ok and bool(body.get("stream")),
                tools=len(body.get("tools") or []) if ok else 0,
                time=arrived,
                cached_tokens=cache[0],
                cache_creation_tokens=cache[1],
            )
        )


def _as_http_error(fault: Fault, *, stream: bool) -> bool:
    if fault.kind in IN_STREAM_KINDS:
        return not stream
    return fault.kind not in BODY_KINDS
