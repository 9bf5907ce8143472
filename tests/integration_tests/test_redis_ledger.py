"""RedisLedger against the real Redis: the protocol, period expiry, outages and reconnects."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any

import pytest

from langchain_tiered.errors import BudgetExceededError
from langchain_tiered.shared.errors import SharedStateUnavailableError
from langchain_tiered.testing import FakeClock
from tests.integration_tests import _services
from tests.integration_tests._ledger_contract import T0, LedgerContract, rec
from tests.integration_tests._services import REDIS_URL

pytestmark = pytest.mark.integration
pg_schema = _services.pg_schema
redis_prefix = _services.redis_prefix

UNREACHABLE = "redis://127.0.0.1:1/0"


@pytest.fixture
def make(redis_prefix: str) -> Iterator[Callable[..., Any]]:
    from langchain_tiered.ledger.redis import RedisLedger

    made: list[RedisLedger] = []

    def factory(**kwargs: Any) -> RedisLedger:
        made.append(RedisLedger(REDIS_URL, prefix=redis_prefix, **kwargs))
        return made[-1]

    yield factory
    for ledger in made:
        ledger.close()


class TestRedisLedgerContract(LedgerContract):
    pass


def test_period_keys_expire_a_day_after_their_period(make: Callable[..., Any]) -> None:
    import redis

    ledger = make(clock=FakeClock(start=T0))
    key = "budget:global:day:2026-11-30"
    ledger.settle(ledger.reserve({key: 1.0, "budget:global:all": 5.0}, 0.1), 0.1)
    client = redis.Redis.from_url(REDIS_URL)
    spent_key, held_key, _ = ledger.keys.budget(key)
    end = int(datetime(2026, 12, 2, tzinfo=timezone.utc).timestamp())  # day's end + 1 day
    assert client.expiretime(spent_key) == end
    assert client.expiretime(held_key) == end
    assert client.ttl(ledger.keys.budget("budget:global:all")[0]) == -1  # lifetime: no expiry
    client.close()


def test_fails_closed_with_a_typed_error_when_redis_is_unreachable() -> None:
    from langchain_tiered.ledger.redis import RedisLedger

    ledger = RedisLedger(UNREACHABLE, socket_timeout=0.2)
    with pytest.raises(SharedStateUnavailableError) as info:
        ledger.reserve({"g": 1.0}, 0.1)
    assert info.value.backend == "Redis"
    assert "on_unavailable='local'" in str(info.value)


async def test_async_fails_closed_too() -> None:
    from langchain_tiered.ledger.redis import RedisLedger

    ledger = RedisLedger(UNREACHABLE, socket_timeout=0.2)
    with pytest.raises(SharedStateUnavailableError):
        await ledger.areserve({"g": 1.0}, 0.1)


def test_local_fallback_spends_only_its_share() -> None:
    from langchain_tiered.ledger.redis import RedisLedger

    ledger = RedisLedger(UNREACHABLE, socket_timeout=0.2, on_unavailable="local", local_share=0.5)
    held = ledger.reserve({"g": 1.0}, 0.3)
    with pytest.raises(BudgetExceededError):
        ledger.reserve({"g": 1.0}, 0.3)  # 0.3 + 0.3 > 0.5 of the limit
    ledger.settle(held, 0.2, rec(0.2))
    assert ledger.pending == 1  # queued for upload once Redis answers


def test_local_spend_uploaded_twice_is_counted_once(make: Callable[..., Any]) -> None:
    # A reply lost after Redis ran the upload makes the ledger send the same upload again.
    ledger = make(on_unavailable="local", local_share=0.5)
    held = ledger._outage.local_reserve({"g": 1.0}, 0.3, 600.0, None)
    ledger._outage.local_finish(held, 200_000_000, rec(0.2))
    (upload,) = ledger._outage.take_pending()
    ledger._send(upload)
    ledger._send(upload)
    assert ledger.spent("g") == pytest.approx(0.2)
    assert [r.cost_usd for r in ledger.records()] == [pytest.approx(0.2)]


def test_local_share_must_be_given_with_local_mode() -> None:
    from langchain_tiered.ledger.redis import RedisLedger

    with pytest.raises(ValueError, match="local_share"):
        RedisLedger(UNREACHABLE, on_unavailable="local")


def test_dropped_connections_reconnect_without_restart(
    make: Callable[..., Any],
    redis_prefix: str,
) -> None:
    import redis

    name = f"{redis_prefix}_conn"
    from langchain_tiered.ledger.redis import RedisLedger

    ledger = RedisLedger(f"{REDIS_URL}?client_name={name}", prefix=redis_prefix)
    ledger.settle(ledger.reserve({"g": 1.0}, 0.1), 0.1)
    admin = redis.Redis.from_url(REDIS_URL)
    killed = 0
    for client in admin.client_list():
        if client.get("name") == name:
            admin.client_kill_filter(_id=client["id"])
            killed += 1
    assert killed >= 1
    ledger.settle(ledger.reserve({"g": 1.0}, 0.1), 0.1)  # one transparent retry
    assert ledger.spent("g") == pytest.approx(0.2)
    admin.close()
    ledger.close()


def test_copies_records_to_postgres(make: Callable[..., Any], pg_schema: str) -> None:
    from langchain_tiered.ledger.postgres import PostgresLedger
    from tests.integration_tests._services import PG_DSN

    pg = PostgresLedger(PG_DSN, schema=pg_schema)
    ledger = make(copy_records_to=pg)
    ledger.settle(ledger.reserve({"g": 1.0}, 0.5), 0.25, rec(0.25))
    ledger.record(rec(0.0, tier="cached"))
    assert [(r.tier, r.cost_usd) for r in pg.records()] == [("t", 0.25), ("cached", 0.0)]
    assert pg.records() == ledger.records()
    pg.close()


def test_a_hold_outlives_its_ttl_by_the_grace_only(make: Callable[..., Any]) -> None:
    import redis

    ledger = make()
    held = ledger.reserve({"g": 1.0}, 0.1, ttl_seconds=5)
    client = redis.Redis.from_url(REDIS_URL)
    ttl_ms = client.pttl(ledger.keys.hold(held.id))
    assert 86_400_000 < ttl_ms <= 86_405_000
    assert held.expires_at == pytest.approx(time.time() + 5, abs=2)
    client.close()


def test_keep_records_trims_the_stream_but_not_the_spend(make: Callable[..., Any]) -> None:
    import redis

    ledger = make(keep_records=10)
    for _ in range(500):
        ledger.settle(ledger.reserve({"g": 100.0}, 0.01), 0.01, rec(0.01))
    assert ledger.spent("g") == pytest.approx(5.0)
    client = redis.Redis.from_url(REDIS_URL)
    assert 10 <= client.xlen(ledger.keys.records) < 500  # approximate trimming (MAXLEN ~)
    client.close()


def _lose_reserve_replies(ledger: Any) -> Callable[[], None]:
    """The server runs the reserve script, then the connection dies before the reply arrives.

    Returns a function that restores the real client.
    """
    import redis

    real_call, real_acall = ledger._redis.call, ledger._redis.acall

    def call(name: str, keys: Any, args: Any) -> Any:
        result = real_call(name, keys, args)
        if name == "reserve":
            raise redis.ConnectionError("connection reset after the script ran")
        return result

    async def acall(name: str, keys: Any, args: Any) -> Any:
        result = await real_acall(name, keys, args)
        if name == "reserve":
            raise redis.ConnectionError("connection reset after the script ran")
        return result

    def restore() -> None:
        ledger._redis.call, ledger._redis.acall = real_call, real_acall

    ledger._redis.call, ledger._redis.acall = call, acall
    return restore


def test_a_reserve_whose_reply_is_lost_leaves_no_hold_behind(make: Callable[..., Any]) -> None:
    ledger = make()
    key = "budget:global:all"
    restore = _lose_reserve_replies(ledger)
    with pytest.raises(SharedStateUnavailableError):
        ledger.reserve({key: 1.0}, 0.4)
    assert ledger.reserved(key) == pytest.approx(0.4)  # the script did run on the server
    restore()  # the connection is back: the next reserve first releases the orphaned hold
    ledger.settle(ledger.reserve({key: 1.0}, 0.1), 0.1)
    assert ledger.reserved(key) == 0.0  # not 0.4 held until the TTL
    assert ledger.spent(key) == pytest.approx(0.1)


async def test_an_async_reserve_whose_reply_is_lost_leaves_no_hold_behind(
    make: Callable[..., Any],
) -> None:
    ledger = make()
    key = "budget:global:all"
    restore = _lose_reserve_replies(ledger)
    with pytest.raises(SharedStateUnavailableError):
        await ledger.areserve({key: 1.0}, 0.4)
    restore()
    await ledger.asettle(await ledger.areserve({key: 1.0}, 0.1), 0.1)
    assert ledger.reserved(key) == 0.0
    await ledger.aclose()
