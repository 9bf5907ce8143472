"""aiohttp helpers shared by the emulator's OpenAI and Anthropic handlers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web

__all__ = ["SSE_HEADERS", "cut", "json_response", "stall", "truncated_body"]

SSE_HEADERS = {"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"}
_POLL = 0.05


def json_response(status: int, body: Any, headers: Mapping[str, str] | None = None) -> web.Response:
    """A JSON response with compact separators, as the real APIs send."""
    return web.Response(
        status=status,
        body=json.dumps(body, separators=(",", ":")).encode(),
        content_type="application/json",
        headers=dict(headers or {}),
    )


def cut(request: web.Request) -> None:
    """Drop the connection: the client sees it close without a (complete) response."""
    if request.transport is not None:
        request.transport.close()


async def stall(request: web.Request, seconds: float) -> None:
    """Send nothing for up to ``seconds``, or until the client gives up and disconnects.

    Returning early when the client's read timeout closes the connection keeps no handler
    pending when the emulator stops.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        transport = request.transport
        if transport is None or transport.is_closing():
            return
        await asyncio.sleep(_POLL)


async def truncated_body(
    request: web.Request, payload: bytes, stall_seconds: float | None
) -> web.StreamResponse:
    """Announce ``payload``'s full length, send half of it (or nothing, then stall), and cut.

    The client sees a truncated body: the request was sent and possibly paid for.
    """
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.content_length = len(payload)
    await response.prepare(request)
    if stall_seconds:
        await stall(request, stall_seconds)
    else:
        await response.write(payload[: len(payload) // 2])
    cut(request)
    return response
