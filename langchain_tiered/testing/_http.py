"""The emulator's HTTP layer: aiohttp routes, fault effects on the wire, request logging."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from langchain_tiered.testing._accounting import build_completion, count_prompt, openai_cached
from langchain_tiered.testing._aio import SSE_HEADERS, cut, json_response, truncated_body
from langchain_tiered.testing._aio import stall as stall_for
from langchain_tiered.testing._anthropic import AnthropicHandler
from langchain_tiered.testing._faults import (
    BODY_KINDS,
    IN_STREAM_KINDS,
    Fault,
    error_body,
    fault_error,
    in_stream_error,
)
from langchain_tiered.testing._faults import context_length_message as _overflow_message
from langchain_tiered.testing._records import RequestRecord
from langchain_tiered.testing._replies import Reply
from langchain_tiered.testing._state import EmulatorState
from langchain_tiered.testing._wire import (
    Completion,
    completion_json,
    error_chunk,
    max_tokens,
    parse_json,
    stream_events,
    validate_request,
)

__all__ = ["ChatHandler"]

_MAX_BODY = 64 * 1024 * 1024  # context-window tests send long prompts; aiohttp's default is 1 MiB
_DEFAULT_BREAK_AFTER = 2  # role chunk + one content chunk: some output arrived, then the cut
_IN_STREAM_AFTER = 1  # the role chunk: the stream is open, no content yet
_STALL_SECONDS = 30.0  # far beyond any test client's read timeout


@dataclass(frozen=True)
class _Meta:
    """What the request log needs from a request besides its outcome."""

    arrived: float
    stream: bool = False
    tools: int = 0


class ChatHandler:
    """Routes of one emulator; holds no state of its own (:class:`EmulatorState` does)."""

    def __init__(self, state: EmulatorState) -> None:
        self._state = state

    def application(self) -> web.Application:
        """The aiohttp application serving ``/v1`` (OpenAI and Anthropic routes)."""
        app = web.Application(client_max_size=_MAX_BODY)
        app.router.add_post("/v1/chat/completions", self.chat)
        app.router.add_post("/v1/messages", AnthropicHandler(self._state).messages)
        app.router.add_get("/v1/models", self.models)
        app.router.add_route("*", "/{tail:.*}", self.not_found)
        return app

    async def models(self, request: web.Request) -> web.Response:
        """``GET /v1/models``."""
        data = [
            {"id": name, "object": "model", "created": 0, "owned_by": "langchain-tiered-emulator"}
            for name in self._state.model_names()
        ]
        return json_response(200, {"object": "list", "data": data})

    async def not_found(self, request: web.Request) -> web.Response:
        """OpenAI's answer to an unknown route."""
        message = f"Invalid URL ({request.method} {request.path})"
        return json_response(404, error_body(message, "invalid_request_error", None, None))

    async def chat(self, request: web.Request) -> web.StreamResponse:
        """``POST /v1/chat/completions``."""
        arrived = time.time()
        body, error = parse_json(await request.read())
        error = error or validate_request(body)
        if error is not None:
            model = body.get("model") if isinstance(body, dict) else None
            self._log(_Meta(arrived), model, outcome="bad_request", status=400)
            return json_response(400, error)
        log = _Meta(arrived, bool(body.get("stream")), len(body.get("tools") or []))
        try:
            return await self._answer(request, body, log)
        except Exception as exc:  # a bug or a failing user responder must not kill the server
            self._log(log, body["model"], outcome="internal_error", status=500)
            text = f"emulator internal error: {type(exc).__name__}: {exc}"
            return json_response(500, error_body(text, "server_error", None, None))

    async def _answer(
        self, request: web.Request, body: dict[str, Any], log: _Meta
    ) -> web.StreamResponse:
        model: str = body["model"]
        seq = self._state.next_seq(model)
        prompt = count_prompt(body)
        verdict = self._state.judge(model)
        if verdict.delay and (verdict.fault is None or verdict.fault.kind != "stall"):
            await asyncio.sleep(verdict.delay)
        fault = verdict.fault
        window = self._state.context_window(model)
        if fault is not None and _as_http_error(fault, stream=log.stream):
            return self._fault(request, fault, model, window=window, prompt=prompt, log=log)
        overflow = self._overflow(window, prompt, max_tokens(body))
        if overflow is not None:
            self._log(log, model, prompt_tokens=prompt, outcome="context_length", status=400)
            return json_response(400, overflow)
        reply = self._state.reply_for(body)
        if fault is not None and fault.kind == "refusal":
            reply = Reply(content=None, finish_reason="content_filter")
        cached = openai_cached(self._state.cache, body, prompt)
        completion = build_completion(reply, body, seq=seq, prompt=prompt, cached=cached)
        if fault is not None and fault.kind != "refusal":  # cut, stall or an error in the body
            self._log(log, model, prompt_tokens=prompt, outcome=fault.kind, status=200)
            return await self._broken(request, body, completion, fault)
        self._log(
            log,
            model,
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
            outcome=verdict.outcome,
            status=200,
            cached_tokens=completion.cached_tokens,
        )
        if log.stream:
            return await self._stream(request, body, completion)
        return json_response(200, completion_json(completion), {"x-request-id": completion.id})

    def _fault(
        self,
        request: web.Request,
        fault: Fault,
        model: str,
        *,
        window: int | None,
        prompt: int,
        log: _Meta,
    ) -> web.StreamResponse:
        if fault.kind == "disconnect":
            self._log(log, model, prompt_tokens=prompt, outcome="disconnect", status=0)
            cut(request)
            return web.Response(status=499)  # never sent: the transport is closed
        status, error, headers = fault_error(fault, model, window, prompt)
        self._log(log, model, prompt_tokens=prompt, outcome=fault.kind, status=status)
        return json_response(status, error, headers)

    @staticmethod
    def _overflow(window: int | None, prompt: int, completion: int | None) -> Any | None:
        if window is None or prompt + (completion or 0) <= window:
            return None
        message = _overflow_message(window, prompt, completion if prompt <= window else None)
        return error_body(message, "invalid_request_error", "messages", "context_length_exceeded")

    async def _stream(
        self,
        request: web.Request,
        body: Mapping[str, Any],
        completion: Completion,
        *,
        stop_after: int | None = None,
        then: Iterable[bytes] = (),
        stall: float | None = None,
    ) -> web.StreamResponse:
        """Send the SSE stream; with ``stop_after``, replace the rest by ``then``, or cut.

        After ``stop_after`` events the stream either sends ``then`` and ends cleanly (an
        error event), or, with nothing to send, waits ``stall`` seconds (a read timeout on
        the client) and drops the connection.
        """
        response = web.StreamResponse(headers={**SSE_HEADERS, "x-request-id": completion.id})
        await response.prepare(request)
        options = body.get("stream_options") or {}
        events: Iterable[bytes] = stream_events(
            completion, include_usage=bool(options.get("include_usage"))
        )
        for sent, event in enumerate(events):
            if stop_after is not None and sent >= stop_after:
                return await self._end_early(request, response, list(then), stall)
            await response.write(event)
        await response.write_eof()
        return response

    @staticmethod
    async def _end_early(
        request: web.Request, response: web.StreamResponse, then: list[bytes], stall: float | None
    ) -> web.StreamResponse:
        if then:
            for event in then:
                await response.write(event)
            await response.write_eof()
            return response
        if stall:
            await stall_for(request, stall)
        cut(request)
        return response

    async def _broken(
        self, request: web.Request, body: Mapping[str, Any], completion: Completion, fault: Fault
    ) -> web.StreamResponse:
        after = fault.break_after_chunks
        stall = (fault.latency or _STALL_SECONDS) if fault.kind == "stall" else None
        if fault.kind in IN_STREAM_KINDS:
            error = in_stream_error(fault)
            if not body.get("stream"):  # an error object in a 200 JSON body
                return json_response(200, {"error": error})
            finish = fault.kind in ("finish_error_in_stream", "finish_error_bare")
            bare = fault.kind == "finish_error_bare"  # finish_reason "error", no error object
            event = error_chunk(completion, None if bare else error, finish=finish)
            start = 0 if fault.kind == "server_error_on_200" else _IN_STREAM_AFTER
            stop = start if after is None else after
            return await self._stream(request, body, completion, stop_after=stop, then=[event])
        if body.get("stream"):
            default = _IN_STREAM_AFTER if fault.kind == "stall" else _DEFAULT_BREAK_AFTER
            stop = default if after is None else after
            return await self._stream(request, body, completion, stop_after=stop, stall=stall)
        payload = json.dumps(completion_json(completion)).encode()
        return await truncated_body(request, payload, stall)

    def _log(
        self,
        meta: _Meta,
        model: str | None,
        *,
        outcome: str,
        status: int,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
        cached_tokens: int = 0,
    ) -> None:
        record = RequestRecord(
            model=model if isinstance(model, str) else "",
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            outcome=outcome,
            status=status,
            stream=meta.stream,
            tools=meta.tools,
            time=meta.arrived,
            cached_tokens=cached_tokens,
        )
        self._state.record(record)


def _as_http_error(fault: Fault, *, stream: bool) -> bool:
    """Whether the fault is answered with an HTTP error status (before any body)."""
    if fault.kind in ("server_error_on_200", "finish_error_in_stream"):
        return False
    if fault.kind in IN_STREAM_KINDS:
        return not stream  # without a stream there is no event to carry it: HTTP error
    return fault.kind not in BODY_KINDS
