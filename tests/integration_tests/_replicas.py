"""Replicas for the multi-process tests: forked processes sharing one budget.

Each replica builds its own ``TieredChatModel`` over the emulator with a ledger on the shared
backend and runs its calls concurrently (threads via ``batch`` or asyncio via ``abatch``),
then reports what happened through a queue. Processes are forked from the test process,
which has already imported LangChain, so eight of them start in well under a second.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
from dataclasses import dataclass, field
from typing import Any

from langchain_openai import ChatOpenAI

from langchain_tiered import Budget, ModelPrice, RouteDecision, Tier, TieredChatModel
from langchain_tiered.errors import BudgetExceededError
from langchain_tiered.fallbacks import RetryPolicy
from langchain_tiered.ledger.base import actual_nanos

PRICE = ModelPrice(input_per_mtok=2.0, output_per_mtok=8.0)
KEY = "budget:global:all"


@dataclass(frozen=True)
class Replica:
    """What one replica runs."""

    backend: str  # "redis" or "postgres"
    url: str
    namespace: str
    base_url: str
    limit_usd: float
    calls: int = 50
    mode: str = "threads"  # or "asyncio"
    main: str = "gpt-4.1-mini"
    backup: str = "gpt-4.1-nano"
    ttl: float = 600.0
    ledger_options: dict[str, Any] = field(default_factory=dict)


def make_ledger(backend: str, url: str, namespace: str, **options: Any) -> Any:
    if backend == "redis":
        from langchain_tiered.ledger.redis import RedisLedger

        return RedisLedger(url, prefix=namespace, **options)
    from langchain_tiered.ledger.postgres import PostgresLedger

    return PostgresLedger(url, schema=namespace, **options)


def _model(r: Replica) -> tuple[TieredChatModel, Any]:
    def chat(name: str) -> ChatOpenAI:
        return ChatOpenAI(
            model=name, base_url=r.base_url, api_key="sk-emulator", max_retries=0, max_tokens=40
        )

    ledger = make_ledger(r.backend, r.url, r.namespace, **r.ledger_options)
    model = TieredChatModel(
        tiers=[
            Tier(name="main", model=chat(r.main), price=PRICE),
            Tier(name="backup", model=chat(r.backup), price=PRICE),
        ],
        router=lambda _: RouteDecision(tier="main", reason="test: main first"),
        budget=Budget(limit_usd=r.limit_usd, ledger=ledger),
        on_budget_exceeded="raise",
        retry=RetryPolicy(max_attempts=1),
        cooldown_failures=10_000,  # faults are random; keep both tiers in rotation
        reservation_ttl_seconds=r.ttl,
    )
    return model, ledger


def _summary(results: list[Any]) -> dict[str, Any]:
    ok = [m for m in results if not isinstance(m, BaseException)]
    return {
        "ok": len(ok),
        "refused": sum(isinstance(m, BudgetExceededError) for m in results),
        "failed": sum(
            isinstance(m, BaseException) and not isinstance(m, BudgetExceededError) for m in results
        ),
        "cost_nanos": sum(actual_nanos(m.response_metadata["tiered"]["cost_usd"]) for m in ok),
        "errors": sorted({type(m).__name__ for m in results if isinstance(m, BaseException)}),
    }


def run(r: Replica) -> dict[str, Any]:
    """Run one replica's calls in this process and summarise them."""
    model, ledger = _model(r)
    prompts = [f"replica {os.getpid()} call {i}: say hi" for i in range(r.calls)]
    config: Any = {"max_concurrency": r.calls}
    if r.mode == "asyncio":
        results = asyncio.run(model.abatch(prompts, config, return_exceptions=True))
    else:
        results = model.batch(prompts, config, return_exceptions=True)
    if hasattr(ledger, "flush"):
        assert ledger.flush() == 0, "settlements still queued at exit"
    return _summary(results)


def _child(r: Replica, queue: Any) -> None:
    try:
        queue.put(run(r))
    except BaseException as exc:  # report, never hang the parent
        queue.put({"crash": repr(exc)})


class Fleet:
    """Forked replica processes and their reports."""

    def __init__(self) -> None:
        self._ctx = multiprocessing.get_context("fork")
        self.queue = self._ctx.Queue()
        self.procs: list[Any] = []

    def start(self, replica: Replica) -> Any:
        proc = self._ctx.Process(target=_child, args=(replica, self.queue), daemon=True)
        proc.start()
        self.procs.append(proc)
        return proc

    def kill(self, proc: Any) -> None:
        os.kill(proc.pid, signal.SIGKILL)
        proc.join(10)

    def reports(self, n: int, timeout: float = 120.0) -> list[dict[str, Any]]:
        out = [self.queue.get(timeout=timeout) for _ in range(n)]
        for proc in self.procs:
            proc.join(10)
        crashes = [o["crash"] for o in out if "crash" in o]
        assert not crashes, crashes
        return out

    def stop(self) -> None:
        for proc in self.procs:
            if proc.is_alive():
                proc.kill()
                proc.join(5)
