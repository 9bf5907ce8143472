"""SQL of :class:`~langchain_tiered.ledger.postgres.PostgresLedger`: tables and functions.

Every statement names its schema explicitly (no ``search_path`` games), and the schema name
is validated as an identifier by the ledger before it is formatted into the SQL here.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from langchain_tiered.ledger.base import SpendRecord, as_utc

__all__ = ["RECORD_COLUMNS", "Statements", "record_params"]

# Columns reports aggregate on; the whole record is also kept as JSON (``data``), so a field
# added to SpendRecord later round-trips without a migration.
RECORD_COLUMNS = (
    "time",
    "tier",
    "model",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "cost_usd",
    "estimated_cost_usd",
    "baseline_cost_usd",
    "fallback",
    "cached_response",
    "run_id",
)

_DDL = """
CREATE SCHEMA IF NOT EXISTS {s};
CREATE TABLE IF NOT EXISTS {s}.spend (key text PRIMARY KEY, amount bigint NOT NULL);
CREATE TABLE IF NOT EXISTS {s}.holds (
    id text PRIMARY KEY, amount bigint NOT NULL, expires_at double precision NOT NULL,
    keys text[] NOT NULL
);
CREATE TABLE IF NOT EXISTS {s}.reservations (
    id text NOT NULL, key text NOT NULL, amount bigint NOT NULL,
    expires_at double precision NOT NULL
);
CREATE INDEX IF NOT EXISTS reservations_by_key ON {s}.reservations (key, expires_at);
CREATE INDEX IF NOT EXISTS reservations_by_id ON {s}.reservations (id);
CREATE TABLE IF NOT EXISTS {s}.records (
    seq bigserial PRIMARY KEY, time timestamptz NOT NULL, tier text NOT NULL,
    model text NOT NULL, input_tokens bigint NOT NULL, output_tokens bigint NOT NULL,
    cached_tokens bigint NOT NULL, reasoning_tokens bigint NOT NULL,
    cost_usd double precision NOT NULL, estimated_cost_usd double precision NOT NULL,
    baseline_cost_usd double precision, fallback boolean NOT NULL,
    cached_response boolean NOT NULL, run_id text, budget_keys text[] NOT NULL,
    data jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS records_by_time ON {s}.records (time);
CREATE TABLE IF NOT EXISTS {s}.feedback (
    run_id text PRIMARY KEY, score double precision NOT NULL, prompt text,
    time timestamptz NOT NULL
);

-- Lock the keys' spend rows in key order (so reservations never deadlock), then check
-- committed + unexpired holds + amount against each cap; refuse with the first key over.
CREATE OR REPLACE FUNCTION {s}.reserve(
    p_id text, p_keys text[], p_caps bigint[], p_amount bigint,
    p_now double precision, p_expires double precision
) RETURNS TABLE (refused_key text, committed bigint, held bigint)
LANGUAGE plpgsql AS $$
DECLARE i int; c bigint; h bigint;
BEGIN
  INSERT INTO {s}.spend (key, amount)
    SELECT k, 0 FROM unnest(p_keys) AS k ORDER BY k ON CONFLICT DO NOTHING;
  PERFORM 1 FROM {s}.spend WHERE key = ANY(p_keys) ORDER BY key FOR UPDATE;
  FOR i IN 1 .. coalesce(array_length(p_keys, 1), 0) LOOP
    SELECT s.amount INTO c FROM {s}.spend s WHERE s.key = p_keys[i];
    SELECT coalesce(sum(r.amount), 0) INTO h FROM {s}.reservations r
      WHERE r.key = p_keys[i] AND r.expires_at > p_now;
    IF c + h + p_amount > p_caps[i] THEN
      RETURN QUERY SELECT p_keys[i], c, h;
      RETURN;
    END IF;
  END LOOP;
  INSERT INTO {s}.holds VALUES (p_id, p_amount, p_expires, p_keys);
  INSERT INTO {s}.reservations SELECT p_id, k, p_amount, p_expires FROM unnest(p_keys) AS k;
END $$;

-- Drop a hold (false if already finished or forgotten) and, unless p_actual is NULL
-- (a release), add the real cost to each of its keys.
CREATE OR REPLACE FUNCTION {s}.finish(p_id text, p_actual bigint) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE ks text[];
BEGIN
  DELETE FROM {s}.holds WHERE id = p_id RETURNING keys INTO ks;
  IF NOT FOUND THEN RETURN false; END IF;
  IF p_actual IS NOT NULL THEN
    PERFORM 1 FROM {s}.spend WHERE key = ANY(ks) ORDER BY key FOR UPDATE;
    UPDATE {s}.spend SET amount = amount + p_actual WHERE key = ANY(ks);
  END IF;
  DELETE FROM {s}.reservations WHERE id = p_id;
  RETURN true;
END $$;
"""


class Statements:
    """The SQL of one ledger schema."""

    def __init__(self, schema: str) -> None:
        s = schema
        self.ddl = _DDL.replace("{s}", s)
        # Many processes may create the schema at once; CREATE OR REPLACE FUNCTION is not
        # safe to race, so serialise on an advisory lock for the length of the transaction.
        self.lock_ddl = f"SELECT pg_advisory_xact_lock(hashtext('langchain_tiered:{s}'))"
        # A reservation is ephemeral (it expires anyway) and a crashed server refuses every
        # call until it is back, so its commit need not wait for the WAL flush; settlements
        # (spend and records) keep the default, fully durable commit.
        self.fast_commit = "SET LOCAL synchronous_commit = off"
        self.reserve = f"SELECT * FROM {s}.reserve(%s, %s, %s, %s, %s, %s)"  # noqa: S608
        self.finish = f"SELECT {s}.finish(%s, %s)"
        self.spent = f"SELECT amount FROM {s}.spend WHERE key = %s"  # noqa: S608
        self.held = (
            f"SELECT coalesce(sum(amount), 0) FROM {s}.reservations "  # noqa: S608
            "WHERE key = %s AND expires_at > %s"
        )
        self.cleanup = f"DELETE FROM {s}.holds WHERE expires_at < %s"  # noqa: S608
        cols = ", ".join((*RECORD_COLUMNS, "budget_keys", "data"))
        marks = ", ".join(["%s"] * (len(RECORD_COLUMNS) + 2))
        self.insert_record = f"INSERT INTO {s}.records ({cols}) VALUES ({marks})"  # noqa: S608
        self._select = f"SELECT data FROM {s}.records"  # noqa: S608
        # Last one wins; a later outcome without a prompt keeps the earlier prompt.
        self.upsert_feedback = (
            f"INSERT INTO {s}.feedback AS f VALUES (%s, %s, %s, %s) "  # noqa: S608
            "ON CONFLICT (run_id) DO UPDATE SET score = excluded.score, "
            "prompt = COALESCE(excluded.prompt, f.prompt), time = excluded.time"
        )
        self.select_feedback = (
            f"SELECT run_id, score, prompt, time FROM {s}.feedback ORDER BY time, run_id"  # noqa: S608
        )

    def select_records(self, since: datetime | None) -> tuple[str, tuple[Any, ...]]:
        """The query reading records back in insertion order, with its parameters."""
        if since is None:
            return f"{self._select} ORDER BY seq", ()
        return f"{self._select} WHERE time >= %s ORDER BY seq", (as_utc(since),)


def record_params(record: SpendRecord) -> tuple[Any, ...]:
    """Parameters of ``insert_record`` for one record."""
    values = tuple(getattr(record, c) for c in RECORD_COLUMNS)
    return (*values, list(record.budget_keys), json.dumps(record.to_dict()))
