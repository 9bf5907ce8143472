"""Restart Redis mid-run (a private server, killed with SIGKILL and started again).

With ``appendfsync always`` the restarted server has every committed byte back, as a
production Redis with AOF would. While it is down, budgeted calls are refused
(``on_unavailable="refuse"``) or served from a local share (``"local"``); a call in flight
when it died settles into a queue; after the restart the same model and ledger objects go on
(no process restart) and the queued settlement is uploaded, so nothing is lost or overspent.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_openai import ChatOpenAI

from langchain_tiered import Budget, ModelPrice, RouteDecision, Tier, TieredChatModel
from langchain_tiered.errors import BudgetExceededError
from langchain_tiered.fallbacks import RetryPolicy
from langchain_tiered.ledger.base import actual_nanos
from langchain_tiered.shared.errors import SharedStateUnavailableError
from langchain_tiered.testing import Fault, OpenAICompatibleEmulator
from tests.integration_tests._replicas import KEY

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PRICE = ModelPrice(input_per_mtok=2.0, output_per_mtok=8.0)


class PrivateRedis:
    """A redis-server of our own on a free port, so killing it disturbs nobody else."""

    def __init__(self, binary: str, directory: Path) -> None:
        self.binary = binary
        self.directory = directory
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        import redis

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                redis.Redis(port=self.port, socket_connect_timeout=0.2).ping()
                return
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
        pytest.fail(f"private redis-server on port {self.port} did not start")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)

    def holds(self) -> int:
        import redis

        client = redis.Redis(port=self.port)
        try:
            return sum(1 for _ in client.scan_iter(match="{restart}:hold:*"))
        finally:
            client.close()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    pytest.importorskip("redis")
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("no redis-server binary on PATH; `apt install redis-server` to run this test")
    server = PrivateRedis(binary, tmp_path)
    server.start()
    yield server
    if server.proc is not None and server.proc.poll() is None:
        server.kill()


def _model(emu: OpenAICompatibleEmulator, ledger: Any) -> TieredChatModel:
    def chat(name: str) -> ChatOpenAI:
        return ChatOpenAI(
            model=name, base_url=emu.base_url, api_key="sk-emulator", max_retries=0, max_tokens=40
        )

    return TieredChatModel(
        tiers=[
            Tier(name="main", model=chat("gpt-4.1-mini"), price=PRICE),
            Tier(name="slow", model=chat("gpt-4o"), price=PRICE),
        ],
        router=lambda _: RouteDecision(tier="main", reason="test: main unless told"),
        budget=Budget(limit_usd=0.01, ledger=ledger),
        on_budget_exceeded="raise",
        retry=RetryPolicy(max_attempts=1),
    )


def _cost(message: Any) -> int:
    return actual_nanos(message.response_metadata["tiered"]["cost_usd"])


@pytest.mark.parametrize("policy", ["refuse", "local"])
def test_restart_mid_run_refuses_or_serves_locally_then_resumes(
    private_redis: PrivateRedis, policy: str
) -> None:
    from langchain_tiered.ledger.redis import RedisLedger

    options: dict[str, Any] = {"on_unavailable": policy}
    if policy == "local":
        options["local_share"] = 0.05
    ledger = RedisLedger(private_redis.url, prefix="restart", socket_timeout=0.5, **options)
    costs: list[int] = []
    with OpenAICompatibleEmulator(faults=[Fault("latency", model="gpt-4o", latency=1.0)]) as emu:
        model = _model(emu, ledger)
        costs += [_cost(model.invoke(f"before {i}")) for i in range(5)]
        in_flight: list[Any] = []
        slow = threading.Thread(target=lambda: in_flight.append(model.invoke("slow", tier="slow")))
        slow.start()
        while private_redis.holds() < 1:
            time.sleep(0.01)
        private_redis.kill()  # the slow call is between reserve and settle
        during = [_try(model, f"during {i}") for i in range(12)]
        slow.join()
        assert ledger.pending >= 1  # its settlement waits for Redis
        costs.append(_cost(in_flight[0]))
        private_redis.start()
        after = [model.invoke(f"after {i}") for i in range(5)]  # same objects, no restart
    costs += [_cost(m) for m in after]
    if policy == "refuse":
        assert all(isinstance(d, SharedStateUnavailableError) for d in during)
    else:
        served = [d for d in during if not isinstance(d, BaseException)]
        assert served, "the local share served calls during the outage"
        assert isinstance(during[-1], BudgetExceededError)  # ... but only its share
        costs += [_cost(m) for m in served]
    assert ledger.pending == 0
    spent = round(ledger.spent(KEY) * 1e9)
    assert spent == sum(costs)  # every answered call is counted once, outage or not
    assert spent <= 10_000_000
    assert sum(actual_nanos(r.cost_usd) for r in ledger.records()) == spent
    assert ledger.reserved(KEY) == 0.0
    ledger.close()


def _try(model: TieredChatModel, prompt: str) -> Any:
    try:
        return model.invoke(prompt)
    except (SharedStateUnavailableError, BudgetExceededError) as exc:
        return exc


def test_a_slow_redis_counts_as_unavailable_and_recovers(private_redis: PrivateRedis) -> None:
    import redis

    from langchain_tiered.ledger.redis import RedisLedger

    ledger = RedisLedger(private_redis.url, prefix="restart", socket_timeout=0.2)
    ledger.settle(ledger.reserve({"g": 1.0}, 0.1), 0.1)
    admin = redis.Redis(port=private_redis.port)
    admin.execute_command("CLIENT", "PAUSE", "1500", "ALL")  # every command stalls 1.5 s
    with pytest.raises(SharedStateUnavailableError, match="too slow"):
        ledger.reserve({"g": 1.0}, 0.1)
    admin.execute_command("CLIENT", "UNPAUSE")
    ledger.settle(ledger.reserve({"g": 1.0}, 0.1), 0.1)  # the next call goes through
    assert ledger.spent("g") == pytest.approx(0.2)
    assert ledger.reserved("g") == 0.0
    admin.close()
    ledger.close()
