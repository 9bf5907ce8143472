"""One Redis connection (sync, plus one asyncio client per event loop) running named scripts."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["ScriptClient", "unreachable_errors"]


def unreachable_errors() -> tuple[type[BaseException], ...]:
    """The exceptions that mean "Redis is down or too slow", as opposed to a bug."""
    from redis.exceptions import ConnectionError, TimeoutError  # noqa: PLC0415

    return (ConnectionError, TimeoutError, OSError)


def connect(url: str, socket_timeout: float, *, asyncio_client: bool = False) -> Any:
    """A redis-py client that reconnects by itself and gives up fast when the server is away.

    One retry on a fresh connection hides a dropped connection (server restart, ``CLIENT
    KILL``); more would only stretch an outage into every call's latency.
    """
    from redis.backoff import NoBackoff  # noqa: PLC0415

    options: dict[str, Any] = {
        "socket_timeout": socket_timeout,
        "socket_connect_timeout": socket_timeout,
    }
    if asyncio_client:
        import redis.asyncio as aredis  # noqa: PLC0415
        from redis.asyncio.retry import Retry as AsyncRetry  # noqa: PLC0415

        return aredis.Redis.from_url(url, retry=AsyncRetry(NoBackoff(), 1), **options)
    import redis as sredis  # noqa: PLC0415
    from redis.retry import Retry  # noqa: PLC0415

    return sredis.Redis.from_url(url, retry=Retry(NoBackoff(), 1), **options)


class ScriptClient:
    """Runs registered Lua scripts by name, sync or async (``EVALSHA``, reloaded if flushed).

    Args:
        url: Redis URL.
        scripts: Name -> Lua source.
        socket_timeout: Seconds before a command counts as failed.
    """

    def __init__(self, url: str, scripts: Mapping[str, str], socket_timeout: float) -> None:
        self.url = url
        self._sources = dict(scripts)
        self._timeout = socket_timeout
        self.client = connect(url, socket_timeout)
        self._scripts = {n: self.client.register_script(s) for n, s in self._sources.items()}
        self._async: tuple[Any, dict[str, Any]] | None = None

    def call(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """Run a script and return its reply."""
        return self._scripts[name](keys=list(keys), args=list(args))

    async def acall(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """Async twin of :meth:`call`."""
        return await self._async_scripts()[name](keys=list(keys), args=list(args))

    def close(self) -> None:
        """Close the sync connection pool."""
        self.client.close()

    async def aclose(self) -> None:
        """Close this event loop's asyncio client (call it before the loop ends)."""
        if self._async is not None and self._async[0] is asyncio.get_running_loop():
            client = self._async[1]["__client__"]
            self._async = None
            await client.aclose()

    def _async_scripts(self) -> dict[str, Any]:
        # redis.asyncio connections belong to the loop that opened them: one client per loop.
        loop = asyncio.get_running_loop()
        if self._async is None or self._async[0] is not loop:
            client = connect(self.url, self._timeout, asyncio_client=True)
            scripts: dict[str, Any] = {
                n: client.register_script(s) for n, s in self._sources.items()
            }
            scripts["__client__"] = client
            self._async = (loop, scripts)
        return self._async[1]
