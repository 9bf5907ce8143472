"""The emulator's HTTP layer: aiohttp routes, fault effects on the wire, request logging."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from langchain_tiered.testing._accounting import build_completion, count_prompt
from langchain_tiered.testing._faults import Fault, error_body, fault_error
from langchain_tiered.testing._faults import context_length_message as _overflow_message
from langchain_tiered.testing._records import RequestRecord
from langchain_tiered.testing._wire import (
    Completion,
    completion_json,
    max_tokens,
    parse_json,
    stream_events,
    validate_request,
)

if TYPE_CHECKING:
    from langchain_tiered.testing.emulator import OpenAICompatibleEmulator

__all__ = ["ChatHandler"]

_MAX_BODY = 64 * 1024 * 1024  # context-window tests send long prompts; aiohttp's default is 1 MiB
_DEFAULT_BREAK_AFTER = 2  # role chunk + one content chunk: some output arrived, then the cut
_SSE_HEADERS = {"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"}


def _json(status: int, body: Any, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(body, separators=(",", ":")).encode(),
        content_type="application/json",
        headers=dict(headers or {}),
    )


def _cut(request: web.Request) -> None:
    """Drop the connection: the client sees it close without a (complete) response."""
    if request.transport is not None:
        request.transport.close()


@dataclass(frozen=True)
class _Meta:
    """What the request log needs from a request besides its outcome."""

    arrived: float
    stream: bool = False
    tools: int = 0


class ChatHandler:
    """Routes of one emulator; holds no state of its own (the emulator does, under its lock)."""

    def __init__(self, emulator: OpenAICompatibleEmulator) -> None:
        self._emu = emulator

    def application(self) -> web.Application:
        """The aiohttp application serving ``/v1``."""
        app = web.Application(client_max_size=_MAX_BODY)
        app.router.add_post("/v1/chat/completions", self.chat)
        app.router.add_get("/v1/models", self.models)
        app.router.add_route("*", "/{tail:.*}", self.not_found)
        return app

    async def models(self, request: web.Request) -> web.Response:
        """``GET /v1/models``."""
        data = [
            {"id": name, "object": "model", "created": 0, "owned_by": "langchain-tiered-emulator"}
            for name in self._emu.model_names()
        ]
        return _json(200, {"object": "list", "data": data})

    async def not_found(self, request: web.Request) -> web.Response:
        """OpenAI's answer to an unknown route."""
        message = f"Invalid URL ({request.method} {request.path})"
        return _json(404, error_body(message, "invalid_request_error", None, None))

    async def chat(self, request: web.Request) -> web.StreamResponse:
        """``POST /v1/chat/completions``."""
        arrived = time.time()
        body, error = parse_json(await request.read())
        error = error or validate_request(body)
        if error is not None:
            model = body.get("model") if isinstance(body, dict) else None
            self._log(_Meta(arrived), model, outcome="bad_request", status=400)
            return _json(400, error)
        log = _Meta(arrived, bool(body.get("stream")), len(body.get("tools") or []))
        try:
            return await self._answer(request, body, log)
        except Exception as exc:  # a bug or a failing user responder must not kill the server
            self._log(log, body["model"], outcome="internal_error", status=500)
            text = f"emulator internal error: {type(exc).__name__}: {exc}"
            return _json(500, error_body(text, "server_error", None, None))

    async def _answer(
        self, request: web.Request, body: dict[str, Any], log: _Meta
    ) -> web.StreamResponse:
        model: str = body["model"]
        seq = self._emu._next_seq(model)
        prompt = count_prompt(body)
        verdict = self._emu._judge(model)
        if verdict.delay:
            await asyncio.sleep(verdict.delay)
        fault = verdict.fault
        window = self._emu._window(model)
        if fault is not None and fault.kind not in ("stream_break", "latency"):
            return self._fault(request, fault, model, window=window, prompt=prompt, log=log)
        overflow = self._overflow(window, prompt, max_tokens(body))
        if overflow is not None:
            self._log(log, model, prompt_tokens=prompt, outcome="context_length", status=400)
            return _json(400, overflow)
        reply = self._emu._reply_for(body)
        completion = build_completion(reply, body, seq=seq, prompt=prompt)
        if fault is not None:  # stream_break: cut a stream, or a JSON body half-way
            self._log(log, model, prompt_tokens=prompt, outcome=fault.kind, status=200)
            return await self._broken(request, body, completion, fault)
        self._log(
            log,
            model,
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
            outcome=verdict.outcome,
            status=200,
        )
        if log.stream:
            return await self._stream(request, body, completion)
        return _json(200, completion_json(completion), {"x-request-id": completion.id})

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
            _cut(request)
            return web.Response(status=499)  # never sent: the transport is closed
        status, error, headers = fault_error(fault, model, window, prompt)
        self._log(log, model, prompt_tokens=prompt, outcome=fault.kind, status=status)
        return _json(status, error, headers)

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
        break_after: int | None = None,
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers={**_SSE_HEADERS, "x-request-id": completion.id})
        await response.prepare(request)
        options = body.get("stream_options") or {}
        events: Iterable[bytes] = stream_events(
            completion, include_usage=bool(options.get("include_usage"))
        )
        for sent, event in enumerate(events):
            if break_after is not None and sent >= break_after:
                _cut(request)
                return response
            await response.write(event)
        await response.write_eof()
        return response

    async def _broken(
        self, request: web.Request, body: Mapping[str, Any], completion: Completion, fault: Fault
    ) -> web.StreamResponse:
        if body.get("stream"):
            after = fault.break_after_chunks
            return await self._stream(
                request, body, completion, _DEFAULT_BREAK_AFTER if after is None else after
            )
        payload = json.dumps(completion_json(completion)).encode()
        # Announce the full length, send half: the client sees a truncated body.
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = len(payload)
        await response.prepare(request)
        await response.write(payload[: len(payload) // 2])
        _cut(request)
        return response

    def _log(
        self,
        meta: _Meta,
        model: str | None,
        *,
        outcome: str,
        status: int,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
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
        )
        self._emu._record(record)
