"""Per-deployment statistics and the policies that order deployments by them.

A policy is a plain callable over :class:`DeploymentStats` values, so a custom one is a
function, not a subclass or a string option.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_tiered._clock import Clock

__all__ = ["DeploymentStats", "Policy", "least_in_flight", "least_tpm_used", "lowest_latency"]

_LATENCY_WEIGHT = 0.3  # EWMA weight of the newest latency sample
_WINDOW = 60.0


@dataclass(frozen=True)
class DeploymentStats:
    """What a policy sees of one deployment (this replica's view).

    Attributes:
        name: The deployment's name.
        index: Its position in the list (ties go to the earlier one).
        in_flight: Calls running on it now.
        latency_s: Moving average of its recent call latencies, ``None`` before the first.
        tokens_last_minute: Tokens its answered calls used in the last 60 seconds.
    """

    name: str
    index: int
    in_flight: int
    latency_s: float | None
    tokens_last_minute: int


Policy = Callable[[Sequence[DeploymentStats]], Sequence[DeploymentStats]]
"""Orders the available deployments, best first."""


def least_in_flight(stats: Sequence[DeploymentStats]) -> Sequence[DeploymentStats]:
    """Fewest calls running first (the default: spreads load without any history)."""
    return sorted(stats, key=lambda s: (s.in_flight, s.index))


def lowest_latency(stats: Sequence[DeploymentStats]) -> Sequence[DeploymentStats]:
    """Fastest recent latency first; deployments not measured yet go first, to be measured."""
    return sorted(stats, key=lambda s: (s.latency_s is not None, s.latency_s or 0.0, s.index))


def least_tpm_used(stats: Sequence[DeploymentStats]) -> Sequence[DeploymentStats]:
    """Fewest tokens used in the last minute first (keeps clear of each key's TPM limit)."""
    return sorted(stats, key=lambda s: (s.tokens_last_minute, s.in_flight, s.index))


class StatsBook:
    """This replica's in-flight counts, latencies and token log per deployment (locked)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.in_flight: dict[str, int] = {}
        self.latency: dict[str, float] = {}
        self._tokens: dict[str, deque[tuple[float, int]]] = {}

    def stats(self, deployments: Sequence[Any]) -> list[DeploymentStats]:
        now = self._clock.monotonic()
        with self._lock:
            return [
                DeploymentStats(
                    d.name,
                    i,
                    self.in_flight.get(d.name, 0),
                    self.latency.get(d.name),
                    self._recent(d.name, now),
                )
                for i, d in enumerate(deployments)
            ]

    def start(self, name: str) -> float:
        with self._lock:
            self.in_flight[name] = self.in_flight.get(name, 0) + 1
        return self._clock.monotonic()

    def end(self, name: str, started: float, tokens: int | None) -> None:
        now = self._clock.monotonic()
        with self._lock:
            self.in_flight[name] -= 1
            if tokens is None:
                return
            old = self.latency.get(name)
            sample = now - started
            self.latency[name] = sample if old is None else old + _LATENCY_WEIGHT * (sample - old)
            self._tokens.setdefault(name, deque()).append((now, tokens))

    def _recent(self, name: str, now: float) -> int:
        log = self._tokens.get(name)
        if not log:
            return 0
        while log and log[0][0] <= now - _WINDOW:
            log.popleft()
        return sum(n for _, n in log)
