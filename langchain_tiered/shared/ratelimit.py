"""A tier's RPM/TPM limit counted across every replica, in Redis.

:class:`RedisRateLimiter` has the methods of the in-process
:class:`~langchain_tiered.ratelimit.TierRateLimiter`, so the call engine waits (up to
``rate_limit_max_wait``) or routes elsewhere exactly as it does with the local one.
"""

from __future__ import annotations

import math
import uuid
from typing import Any

from langchain_tiered._clock import Clock, SystemClock
from langchain_tiered.errors import RateLimitExceededError
from langchain_tiered.ratelimit import TierRateLimiter, WaitsForAdmission
from langchain_tiered.shared._client import ScriptClient, unreachable_errors
from langchain_tiered.shared._limit_lua import LIMIT_LUA
from langchain_tiered.shared._outage import OnUnavailable
from langchain_tiered.shared.errors import unavailable

__all__ = ["RedisRateLimiter"]


class RedisRateLimiter(WaitsForAdmission):
    """Requests- and tokens-per-window limit of one tier, shared through Redis.

    Every admission is one Lua script over a sliding-window log, so N replicas together
    never admit more than the limit in any window (measured at admission). Token weights are
    the pre-flight worst case; :meth:`adjust` charges usage above it and ignores refunds,
    so the count never falls below what was really sent.

    Time is the Redis server's clock (one clock for all replicas) unless ``clock`` is given,
    which tests use to drive the window deterministically.

    Args:
        url: Redis URL (ignored when ``client`` is given).
        name: What is limited (a tier or deployment name); replicas share limits by name.
        requests_per_minute: Requests per window, or ``None``.
        tokens_per_minute: Tokens per window, or ``None``.
        prefix: Key namespace.
        window_seconds: Length of the window; 60 for per-minute limits.
        guard_seconds: Admissions are counted over ``window_seconds + guard_seconds``, so the
            requests *arriving* at the provider in any window stay under the limit even when
            some take up to this much longer to get there than others (connection set-up,
            a loaded host). Costs ``guard / window`` of the throughput (1/60 by default).
        clock: Optional time source instead of the server's clock.
        on_unavailable: ``"refuse"`` (raise ``SharedStateUnavailableError``) or ``"local"``
            (admit against a local limiter holding ``local_share`` of the limits).
        local_share: Fraction of the limits one replica may use while Redis is away.
        socket_timeout: Seconds before Redis counts as unavailable.
        client: A shared :class:`ScriptClient` (so one replica keeps one connection pool).
    """

    def __init__(
        self,
        url: str = "redis://localhost:6379/0",
        *,
        name: str,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        prefix: str = "langchain_tiered",
        window_seconds: float = 60.0,
        guard_seconds: float = 1.0,
        clock: Clock | None = None,
        on_unavailable: OnUnavailable = "refuse",
        local_share: float = 0.0,
        socket_timeout: float = 1.0,
        client: ScriptClient | None = None,
    ) -> None:
        if not (window_seconds > 0 and math.isfinite(window_seconds)):
            msg = f"window_seconds must be a positive number, got {window_seconds!r}"
            raise ValueError(msg)
        if not (0 <= guard_seconds < window_seconds):
            msg = f"guard_seconds must be >= 0 and below window_seconds, got {guard_seconds!r}"
            raise ValueError(msg)
        self._local = _local_limiter(
            requests_per_minute, tokens_per_minute, on_unavailable, local_share, clock
        )
        self.name = name
        self._rpm, self._tpm = requests_per_minute, tokens_per_minute
        self._window = window_seconds + guard_seconds
        self._given_clock = clock
        self._clock: Clock = clock or SystemClock()
        self._mode = on_unavailable
        self._client = client or ScriptClient(url, {"limit": LIMIT_LUA}, socket_timeout)
        tag = "{" + prefix + "}"
        self._keys = [f"{tag}:rl:{name}:{part}" for part in ("req", "tok", "sum")]

    def __repr__(self) -> str:
        return f"RedisRateLimiter({self.name!r}, rpm={self._rpm}, tpm={self._tpm})"

    @property
    def requests_per_minute(self) -> float | None:
        """The request limit per window, or ``None``."""
        return self._rpm

    @property
    def tokens_per_minute(self) -> float | None:
        """The token limit per window, or ``None``."""
        return self._tpm

    def wait_time(self, tokens: int) -> float:
        """Seconds until a request of ``tokens`` would be admitted (``inf`` if never)."""
        return self._decide(tokens, "peek")

    def try_acquire(self, tokens: int) -> bool:
        """Admit one request of ``tokens`` now if the shared window allows it."""
        return self._take(tokens) == 0.0

    def acquire(
        self, tokens: int, *, max_wait: float | None = None, tier: str | None = None
    ) -> float:
        """Block until admitted (see :meth:`TierRateLimiter.acquire`); returns seconds waited.

        Raises:
            RateLimitExceededError: Admission needs longer than ``max_wait`` (or never fits).
            SharedStateUnavailableError: Redis is away and ``on_unavailable="refuse"``.
        """
        return self._wait_and_take(tokens, max_wait, tier)

    async def aacquire(
        self, tokens: int, *, max_wait: float | None = None, tier: str | None = None
    ) -> float:
        """Async twin of :meth:`acquire`."""
        return await self._await_and_take(tokens, max_wait, tier)

    def adjust(self, tokens_delta: int) -> None:
        """Charge tokens used above the estimate; refunds are ignored (see the class)."""
        if self._tpm is None or tokens_delta <= 0:
            return
        try:
            self._client.call("limit", self._keys, self._args(tokens_delta, "add"))
        except unreachable_errors():
            if self._local is not None:
                self._local.adjust(tokens_delta)

    async def aclose(self) -> None:
        """Close the asyncio connection of the running event loop."""
        await self._client.aclose()

    # -- helpers ---------------------------------------------------------------------

    def _args(self, tokens: int, mode: str) -> list[Any]:
        if tokens < 0:
            msg = f"tokens must be non-negative, got {tokens}"
            raise ValueError(msg)
        now = repr(self._given_clock.now().timestamp()) if self._given_clock else "-1"
        return [now, repr(self._window), self._rpm or 0, self._tpm or 0, tokens,
                uuid.uuid4().hex, mode]  # fmt: skip

    def _take(self, tokens: int) -> float:
        return self._decide(tokens, "take")

    async def _atake(self, tokens: int) -> float:
        return await self._adecide(tokens, "take")

    def _decide(self, tokens: int, mode: str) -> float:
        args = self._args(tokens, mode)
        try:
            reply = self._client.call("limit", self._keys, args)
        except unreachable_errors() as exc:
            return self._fallback(exc, tokens, mode)
        return _wait_of(reply)

    async def _adecide(self, tokens: int, mode: str) -> float:
        args = self._args(tokens, mode)
        try:
            reply = await self._client.acall("limit", self._keys, args)
        except unreachable_errors() as exc:
            return self._fallback(exc, tokens, mode)
        return _wait_of(reply)

    def _fallback(self, exc: BaseException, tokens: int, mode: str) -> float:
        if self._local is None:
            raise unavailable("Redis", f"rate limit of {self.name!r}", exc) from exc
        if mode == "peek":
            return self._local.wait_time(tokens)
        return 0.0 if self._local.try_acquire(tokens) else self._local.wait_time(tokens) or 1e-3

    def _check_wait(
        self, tokens: int, waited: float, wait: float, max_wait: float | None, tier: str | None
    ) -> None:
        where = tier or self.name
        if math.isinf(wait):
            msg = (
                f"a request of {tokens} tokens exceeds {where!r}'s shared limit of "
                f"{self._tpm:g} tokens per window; raise tokens_per_minute, lower max_tokens "
                "or route the call to a tier with a larger limit"
            )
            raise RateLimitExceededError(msg, tier=tier, wait_seconds=math.inf)
        if max_wait is not None and waited + wait > max_wait:
            msg = (
                f"{where!r} is rate limited across replicas for another {wait:.2f}s, more than "
                f"the allowed wait of {max_wait:g}s; raise max_wait or fall back to another tier"
            )
            raise RateLimitExceededError(msg, tier=tier, wait_seconds=waited + wait)


def _wait_of(reply: Any) -> float:
    status, wait = int(reply[0]), float(reply[1])
    if status < 0:
        return math.inf
    return 0.0 if status == 1 else max(wait, 1e-3)


def _local_limiter(
    rpm: float | None,
    tpm: float | None,
    mode: OnUnavailable,
    share: float,
    clock: Clock | None,
) -> TierRateLimiter | None:
    if mode not in ("refuse", "local"):
        msg = f"on_unavailable must be 'refuse' or 'local', got {mode!r}"
        raise ValueError(msg)
    if mode == "refuse":
        return None
    if not 0 < share <= 1:
        msg = f"on_unavailable='local' needs 0 < local_share <= 1, got {share!r}"
        raise ValueError(msg)
    return TierRateLimiter(
        requests_per_minute=rpm * share if rpm else None,
        tokens_per_minute=tpm * share if tpm else None,
        clock=clock,
    )
