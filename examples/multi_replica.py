"""Four replicas of one service sharing a budget, a TPM limit and cooldowns through Redis.

Each replica is a separate process with its own ``TieredChatModel``, as four pods behind a
load balancer would be. They share, through Redis:

* a $0.02 daily budget (``RedisLedger``): the four together never spend more;
* the "fast" tier's two deployments (two keys of one model), each limited to 20,000 tokens
  per minute *across all replicas* (``Deployments`` + ``RedisState``);
* cooldowns: a deployment that answers 429 is skipped by every replica for a second while
  its sibling takes over (not a tier fallback; the answer names the deployment).

Every answer bills 200 output tokens, so the budget runs out after about 60 of the 80 calls:
after that each replica's calls are refused before anything is sent.

Spend records also go to PostgreSQL when it is reachable (``copy_records_to``), for finance.
Offline: the tiers talk to the bundled emulator. Needs Redis (``docker run -p 6379:6379
redis:7``) and, optionally, PostgreSQL.

    .venv/bin/python examples/multi_replica.py
"""

from __future__ import annotations

import multiprocessing
import os
import uuid
from typing import Any

import psycopg
import redis
from langchain_openai import ChatOpenAI

from langchain_tiered import Budget, BudgetExceededError, ModelPrice, Tier, TieredChatModel
from langchain_tiered.deployments import Deployment, Deployments, least_tpm_used
from langchain_tiered.ledger import PostgresLedger, RedisLedger
from langchain_tiered.shared import RedisState
from langchain_tiered.testing import Fault, OpenAICompatibleEmulator, Reply

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
PG_DSN = os.environ.get("PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
PRICE = ModelPrice(input_per_mtok=0.40, output_per_mtok=1.60)


def build(base_url: str, prefix: str, pg: Any) -> TieredChatModel:
    """One replica's model: everything shared lives under ``prefix`` in Redis."""
    state = RedisState(REDIS_URL, prefix=prefix)

    def key(name: str) -> ChatOpenAI:  # in production: two API keys, regions or providers
        return ChatOpenAI(model=name, base_url=base_url, api_key="sk-emulator", max_retries=0)

    fast = Deployments(
        deployments=[
            Deployment(name="eu", model=key("gpt-4.1-mini"), tokens_per_minute=20_000),
            Deployment(name="us", model=key("gpt-4.1-mini"), tokens_per_minute=20_000),
        ],
        policy=least_tpm_used,
        shared_state=state,
        cooldown_seconds=1.0,
        max_tokens=200,
    )
    return TieredChatModel(
        tiers=[Tier(name="fast", model=fast, price=PRICE, max_output_tokens=200)],
        budget=Budget(limit_usd=0.02, period="day", ledger=state.ledger(copy_records_to=pg)),
        on_budget_exceeded="raise",
        cooldown_seconds=1.0,
        shared_state=state,  # the tier's own cooldowns (and any tier limits) shared too
    )


def replica(base_url: str, prefix: str, queue: Any) -> None:
    pg = _postgres(prefix)
    model = build(base_url, prefix, pg)
    served: dict[str, int] = {}
    refused = 0
    for i in range(20):
        try:
            msg = model.invoke(f"replica {os.getpid()} question {i}")
        except BudgetExceededError:
            refused += 1
            continue
        except Exception as exc:  # every deployment limited: the tier has no fallback here
            served[type(exc).__name__] = served.get(type(exc).__name__, 0) + 1
            continue
        name = msg.response_metadata.get("deployment", "?")
        served[name] = served.get(name, 0) + 1
    queue.put({"pid": os.getpid(), "served": served, "refused": refused})


def _postgres(prefix: str) -> Any:
    try:
        return PostgresLedger(PG_DSN, schema=prefix, connect_timeout=2)
    except Exception:  # optional: the example runs without PostgreSQL
        return None


def bill_200(request: Any) -> Reply:
    return Reply(content="(an answer)", completion_tokens=200)


def main() -> None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.exceptions.ConnectionError:
        print(f"Redis is not reachable at {REDIS_URL}: docker run -d -p 6379:6379 redis:7")
        return
    prefix = f"example_{uuid.uuid4().hex[:8]}"
    faults = [Fault("rate_limit", probability=0.05, seed=7, retry_after=1)]
    with OpenAICompatibleEmulator(faults=faults) as emu:
        emu.respond_with(bill_200)
        ctx = multiprocessing.get_context("spawn")
        queue = ctx.Queue()
        procs = [ctx.Process(target=replica, args=(emu.base_url, prefix, queue)) for _ in range(4)]
        for p in procs:
            p.start()
        results = [queue.get(timeout=120) for _ in procs]
        for p in procs:
            p.join()
    for r in sorted(results, key=lambda r: r["pid"]):
        print(f"replica {r['pid']}: served {r['served']}, refused by budget {r['refused']}")
    ledger = RedisLedger(REDIS_URL, prefix=prefix)
    key = next(iter(ledger.records()[0].budget_keys)) if ledger.records() else None
    if key:
        calls = len(ledger.records())
        print(f"shared spend {ledger.spent(key):.6f} USD of 0.020000 over {calls} calls")
    pg = _postgres(prefix)
    if pg is not None:
        print(f"PostgreSQL copy: {len(pg.records())} spend records in schema {prefix}")
    _cleanup(prefix, pg)


def _cleanup(prefix: str, pg: Any) -> None:
    """Remove the example's keys and schema (a real service keeps them, of course)."""
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match="{" + prefix + "}:*"))
    if keys:
        client.delete(*keys)
    if pg is not None:
        pg.close()
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {prefix} CASCADE")


if __name__ == "__main__":
    main()
