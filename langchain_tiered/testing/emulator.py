"""An OpenAI-compatible chat-completions server with scripted replies and fault injection.

The server is aiohttp on its own event loop in a background thread, so synchronous tests and the
caller's asyncio code talk to it the same way: over real HTTP, through the real ``openai`` client.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any

from aiohttp import web

from langchain_tiered.testing._faults import Fault
from langchain_tiered.testing._http import ChatHandler
from langchain_tiered.testing._records import ModelStats, RequestRecord
from langchain_tiered.testing._replies import Responder, ScriptItem
from langchain_tiered.testing._state import EmulatorState

__all__ = ["ModelStats", "OpenAICompatibleEmulator", "RequestRecord"]
_BACKLOG = 2048  # benchmarks open hundreds of connections at once; the default 128 drops SYNs
_START_TIMEOUT = 10.0


class OpenAICompatibleEmulator:
    """A local OpenAI-compatible server for tests: deterministic replies, injectable faults.

    Example:
        .. code-block:: python

            with OpenAICompatibleEmulator(faults=[Fault("rate_limit", times=1)]) as emu:
                llm = ChatOpenAI(model="gpt-4o", base_url=emu.base_url, api_key="sk-emulator")
                emu.script("gpt-4o", Reply(content="hi"))
                llm.invoke("hello")  # 429 first; the client's retry then gets "hi"

    Args:
        host: Interface to bind; keep the loopback default for tests.
        port: TCP port; 0 picks a free one (read it from :attr:`port`).
        faults: Faults active from the start.
        context_windows: Per-model prompt limits; longer prompts get OpenAI's
            ``context_length_exceeded`` error.
        auto_tools: When nothing is scripted and tools are sent, call the first tool after a user
            turn and answer with the tool's result after a tool turn.
        responder: Computes every unscripted reply from the request JSON instead of the default.
        prompt_cache: Report ``cached_tokens`` for a repeated prompt prefix of 1,024+ tokens per
            model, as OpenAI does (Anthropic-style ``cache_control`` on ``/v1/messages`` is
            always honoured). :meth:`clear_prompt_cache` forgets it.

    Besides ``/v1/chat/completions`` the server answers Anthropic's ``/v1/messages`` (point
    ``ChatAnthropic(base_url=emu.root_url)`` at it), with the same scripts and faults.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: Iterable[Fault] = (),
        context_windows: Mapping[str, int] | None = None,
        auto_tools: bool = True,
        responder: Responder | None = None,
        prompt_cache: bool = False,
    ) -> None:
        self.host = host
        self._requested_port = port
        self.state = EmulatorState(
            faults=faults,
            context_windows=context_windows,
            auto_tools=auto_tools,
            responder=responder,
            prompt_cache=prompt_cache,
        )
        """What the HTTP handlers read and change; configure through the methods below."""
        self._port: int | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        state = f"serving at {self.base_url}" if self._port else "stopped"
        return f"{type(self).__name__}({state}, requests={len(self.state.requests())})"

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound TCP port (raises if not started)."""
        if self._port is None:
            msg = "the emulator is not running; call start() or use it as a context manager"
            raise RuntimeError(msg)
        return self._port

    @property
    def base_url(self) -> str:
        """The URL to pass as ``base_url`` to OpenAI clients, ending in ``/v1``."""
        return f"http://{self.host}:{self.port}/v1"

    @property
    def root_url(self) -> str:
        """The server's URL without ``/v1``, for clients that add it (``ChatAnthropic``)."""
        return f"http://{self.host}:{self.port}"

    @property
    def auto_tools(self) -> bool:
        """Whether unscripted requests with tools play an agent loop."""
        return self.state.auto_tools

    @auto_tools.setter
    def auto_tools(self, value: bool) -> None:
        self.state.auto_tools = value

    def start(self) -> OpenAICompatibleEmulator:
        """Start serving in a background thread; returns once the port is bound."""
        if self._thread is not None:
            msg = "the emulator is already running"
            raise RuntimeError(msg)
        loop = asyncio.new_event_loop()
        ready: list[BaseException | web.AppRunner] = []
        started = threading.Event()
        thread = threading.Thread(
            target=self._serve, args=(loop, ready, started), name="openai-emulator", daemon=True
        )
        thread.start()
        outcome = ready[0] if started.wait(_START_TIMEOUT) else TimeoutError("no port bound")
        if isinstance(outcome, BaseException):
            thread.join(_START_TIMEOUT)
            msg = f"the emulator could not start on {self.host}:{self._requested_port}: {outcome}"
            raise RuntimeError(msg) from outcome
        self._loop, self._thread = loop, thread
        return self

    def stop(self) -> None:
        """Stop serving and join the thread; idempotent."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(_START_TIMEOUT)
        self._loop = self._thread = None
        self._port = None

    def _serve(
        self,
        loop: asyncio.AbstractEventLoop,
        ready: list[BaseException | web.AppRunner],
        started: threading.Event,
    ) -> None:
        asyncio.set_event_loop(loop)
        try:
            runner = loop.run_until_complete(self._open())
        except Exception as exc:  # reported to start() in the caller's thread
            ready.append(exc)
            started.set()
            loop.close()
            return
        ready.append(runner)
        started.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(runner.cleanup())
            loop.close()

    async def _open(self) -> web.AppRunner:
        app = ChatHandler(self.state).application()
        # Short shutdown: tests stop the emulator with idle keep-alive connections still open.
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._requested_port, backlog=_BACKLOG)
        await site.start()
        self._port = int(runner.addresses[0][1])
        return runner

    def __enter__(self) -> OpenAICompatibleEmulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> OpenAICompatibleEmulator:
        # Starting blocks until the port is bound; do it off the caller's event loop.
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)

    # -- configuration (thread-safe while serving) ------------------------------------------

    def script(self, model: str, *items: ScriptItem) -> None:
        """Queue replies for ``model``, consumed one per request in order.

        Args:
            model: The model name requests must carry.
            *items: Replies, or callables computing a reply from the request JSON.
        """
        self.state.script(model, items)

    def respond_with(self, responder: Responder, *, model: str | None = None) -> None:
        """Answer every unscripted request (for ``model``, or all models) with ``responder``."""
        self.state.respond_with(responder, model=model)

    def add_fault(self, fault: Fault | None = None, /, **kwargs: Any) -> Fault:
        """Add a fault, given as a :class:`Fault` or as its keyword arguments.

        Returns:
            The fault added.
        """
        fault = fault if fault is not None else Fault(**kwargs)
        self.state.faults.add(fault)
        return fault

    def clear_faults(self) -> None:
        """Remove every fault."""
        self.state.faults.clear()

    def set_context_window(self, model: str, tokens: int | None) -> None:
        """Limit (or with ``None`` unlimit) the prompt tokens ``model`` accepts."""
        self.state.set_context_window(model, tokens)

    def clear_prompt_cache(self, model: str | None = None) -> None:
        """Forget the cached prompt prefixes of ``model`` (or of every model)."""
        self.state.cache.clear(model)

    def reset(self) -> None:
        """Clear the request log, scripts, responders, faults and prompt caches."""
        self.state.reset()

    # -- observation --------------------------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        """A snapshot of the request log, oldest first."""
        return self.state.requests()

    @property
    def stats(self) -> dict[str, ModelStats]:
        """Per-model counters over the request log."""
        totals: dict[str, ModelStats] = {}
        for record in self.requests:
            old = totals.get(record.model, ModelStats())
            totals[record.model] = ModelStats(
                requests=old.requests + 1,
                ok=old.ok + (record.status == 200),  # noqa: PLR2004 - HTTP OK
                failed=old.failed + (record.status != 200),  # noqa: PLR2004
                prompt_tokens=old.prompt_tokens + record.prompt_tokens,
                completion_tokens=old.completion_tokens + record.completion_tokens,
            )
        return totals

    def model_names(self) -> list[str]:
        """Models listed by ``GET /v1/models``: defaults plus every name scripted or seen."""
        return self.state.model_names()


def serve(port: int = 8000, host: str = "127.0.0.1", **options: Any) -> None:
    """Serve the emulator in the foreground until interrupted (Ctrl-C).

    Args:
        port: TCP port to bind (0 picks a free one).
        host: Interface to bind.
        **options: Further :class:`OpenAICompatibleEmulator` arguments (faults, context windows).
    """
    with OpenAICompatibleEmulator(host=host, port=port, **options) as emulator:
        # Announce inside the try: a Ctrl-C sent as soon as the line appears must be caught.
        try:
            print(f"OpenAI-compatible emulator serving at {emulator.base_url} (Ctrl-C to stop)")
            threading.Event().wait()
        except KeyboardInterrupt:
            print("stopping")
