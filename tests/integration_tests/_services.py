"""Fixtures for tests against the real Redis and PostgreSQL services (issue 16).

Each test gets its own key prefix / schema and cleans it up, so tests (and helpers running
the suite at the same time) never see each other's state. Without the services the tests
skip with a reason that says how to start them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

REDIS_URL = os.environ.get("LANGCHAIN_TIERED_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PG_DSN = os.environ.get("LANGCHAIN_TIERED_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")

REDIS_HOWTO = (
    f"Redis is not reachable at {REDIS_URL}; start one with "
    "`docker run -d -p 6379:6379 redis:7` (or `redis-server`) or point "
    "LANGCHAIN_TIERED_TEST_REDIS_URL at one"
)
PG_HOWTO = (
    f"PostgreSQL is not reachable at {PG_DSN}; start one with `docker run -d -p 5432:5432 "
    "-e POSTGRES_HOST_AUTH_METHOD=trust -e POSTGRES_DB=test postgres:16` or point "
    "LANGCHAIN_TIERED_TEST_PG_DSN at one"
)
EXTRA_HOWTO = "install the test extra: pip install -e '.[test]'"


def unique(stem: str) -> str:
    """A fresh lower-case name for a prefix or schema."""
    return f"{stem}_{uuid.uuid4().hex[:10]}"


def drop_redis_prefix(prefix: str) -> None:
    """Delete every key under ``{prefix}``."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match="{" + prefix + "}:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A unique ledger prefix on the real Redis, deleted afterwards (skips without Redis)."""
    redis = pytest.importorskip("redis", reason=EXTRA_HOWTO)
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip(REDIS_HOWTO)
    finally:
        client.close()
    prefix = unique("lct_test")
    yield prefix
    drop_redis_prefix(prefix)


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A unique schema on the real PostgreSQL, dropped afterwards (skips without it)."""
    psycopg = pytest.importorskip("psycopg", reason=EXTRA_HOWTO)
    try:
        conn = psycopg.connect(PG_DSN, autocommit=True, connect_timeout=2)
    except psycopg.OperationalError:
        pytest.skip(PG_HOWTO)
    schema = unique("lct_test")
    try:
        yield schema
    finally:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.close()
