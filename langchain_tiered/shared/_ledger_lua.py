"""Lua scripts and key layout of :class:`~langchain_tiered.ledger.redis.RedisLedger`.

Each budget key ``K`` lives in three Redis keys under one hash tag (so a cluster keeps them on
one shard and a script may touch them together):

* ``{prefix}:spent:K`` - committed nano-dollars (an integer string);
* ``{prefix}:held:K`` - nano-dollars held by unexpired reservations;
* ``{prefix}:exp:K`` - a sorted set of ``"<reservation id>:<nanos>"`` scored by expiry, so
  expired holds are found and subtracted lazily by the next script that reads the key.

One reservation is ``{prefix}:hold:<id>`` holding its amount, kept for the TTL plus a grace
period: a holder that was slow (not crashed) can still settle after expiry and have its real
cost counted, exactly as the in-memory ledger does. Settled records go to the stream
``{prefix}:records`` in the same script, so a record exists if and only if its spend does.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

__all__ = [
    "COMMIT_LUA",
    "FEEDBACK_LUA",
    "HELD_LUA",
    "RESERVE_LUA",
    "RedisKeys",
    "period_expiry",
]

# Shared by every script that reads a budget key: drop holds whose expiry has passed.
_PURGE = """
local function purge(held, exp, now)
  local gone = redis.call('ZRANGEBYSCORE', exp, '-inf', now)
  if #gone == 0 then return end
  local sum = 0
  for _, m in ipairs(gone) do sum = sum + tonumber(string.match(m, ':(%d+)$')) end
  redis.call('ZREMRANGEBYSCORE', exp, '-inf', now)
  redis.call('DECRBY', held, string.format('%.0f', sum))
end
local function expire_at(key, at)
  if at ~= '0' then redis.call('EXPIREAT', key, at) end
end
"""

RESERVE_LUA = (
    _PURGE
    + """
-- KEYS: hold, then (spent, held, exp) per budget key.
-- ARGV: id, nanos, now, ttl, grace, then (cap, expire_at) per budget key.
local amount, now, ttl = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local n = (#KEYS - 1) / 3
for i = 1, n do
  local spent, held, exp = KEYS[3*i-1], KEYS[3*i], KEYS[3*i+1]
  purge(held, exp, now)
  local committed = tonumber(redis.call('GET', spent) or '0')
  local holding = tonumber(redis.call('GET', held) or '0')
  if committed + holding + amount > tonumber(ARGV[4+2*i]) then
    return {i, string.format('%.0f', committed), string.format('%.0f', holding)}
  end
end
local expires = now + ttl
local member = ARGV[1] .. ':' .. ARGV[2]
for i = 1, n do
  local spent, held, exp = KEYS[3*i-1], KEYS[3*i], KEYS[3*i+1]
  redis.call('INCRBY', held, ARGV[2])
  redis.call('ZADD', exp, expires, member)
  expire_at(held, ARGV[5+2*i]); expire_at(exp, ARGV[5+2*i])
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', math.ceil((ttl + tonumber(ARGV[5])) * 1000))
return {0, tostring(expires)}
"""
)

COMMIT_LUA = (
    _PURGE
    + """
-- Settle, release or upload spend made locally during an outage.
-- KEYS: hold, records, then (spent, held, exp) per budget key.
-- ARGV: id ('' = no hold to drop; 'upload-...' = local spend, KEYS[1] marks it applied),
--       nanos ('' = release), record json ('' = none), records to keep ('' = all),
--       then expire_at per budget key.
local n = (#KEYS - 2) / 3
if string.sub(ARGV[1], 1, 7) == 'upload-' then
  -- A reply lost after this ran makes the replica send the upload again: apply it once.
  if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', 86400) then return 0 end
elseif ARGV[1] ~= '' then
  local amount = redis.call('GET', KEYS[1])
  if not amount then return 0 end
  redis.call('DEL', KEYS[1])
  local member = ARGV[1] .. ':' .. amount
  for i = 1, n do
    if redis.call('ZREM', KEYS[3*i+2], member) == 1 then
      redis.call('DECRBY', KEYS[3*i+1], amount)
    end
  end
end
if ARGV[2] ~= '' then
  for i = 1, n do
    redis.call('INCRBY', KEYS[3*i], ARGV[2])
    expire_at(KEYS[3*i], ARGV[4+i])
  end
end
if ARGV[3] ~= '' then
  if ARGV[4] ~= '' then
    redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', 'r', ARGV[3])
  else
    redis.call('XADD', KEYS[2], '*', 'r', ARGV[3])
  end
end
return 1
"""
)

HELD_LUA = (
    _PURGE
    + """
-- KEYS: held, exp. ARGV: now. Returns the unexpired held nanos.
purge(KEYS[1], KEYS[2], tonumber(ARGV[1]))
return redis.call('GET', KEYS[1]) or '0'
"""
)


FEEDBACK_LUA = """
-- KEYS: the feedback hash. ARGV: run id, score, has prompt ('1'/'0'), prompt, time (ISO).
-- Last one wins; a later outcome without a prompt keeps the earlier prompt.
local prompt = cjson.null
if ARGV[3] == '1' then
  prompt = ARGV[4]
else
  local old = redis.call('HGET', KEYS[1], ARGV[1])
  if old then prompt = cjson.decode(old)['prompt'] end
end
redis.call('HSET', KEYS[1], ARGV[1],
  cjson.encode({score = ARGV[2], prompt = prompt, time = ARGV[5]}))
return 1
"""


class RedisKeys:
    """Names of the Redis keys one ledger uses, all under the hash tag ``{prefix}``."""

    def __init__(self, prefix: str) -> None:
        if not prefix or any(c in prefix for c in "{}"):
            msg = f"prefix must be a non-empty string without braces, got {prefix!r}"
            raise ValueError(msg)
        self._tag = "{" + prefix + "}"
        self.records = f"{self._tag}:records"
        self.feedback = f"{self._tag}:feedback"

    def hold(self, reservation_id: str) -> str:
        """The key holding one reservation's amount."""
        return f"{self._tag}:hold:{reservation_id}"

    def budget(self, key: str) -> list[str]:
        """The (spent, held, exp) keys of one budget key."""
        return [f"{self._tag}:spent:{key}", f"{self._tag}:held:{key}", f"{self._tag}:exp:{key}"]

    def pattern(self) -> str:
        """A ``SCAN`` pattern matching every key of this ledger (for tests and cleanup)."""
        return f"{self._tag}:*"


_DAY = re.compile(r":day:(\d{4})-(\d{2})-(\d{2})$")
_MONTH = re.compile(r":month:(\d{4})-(\d{2})$")
# Keep a period's keys a day past its end: a call reserved at 23:59 may settle after midnight.
PERIOD_GRACE = timedelta(days=1)


def period_expiry(key: str) -> int:
    """Epoch seconds at which a budget key's Redis keys may be deleted, or 0 for never.

    Keys made by :class:`~langchain_tiered.Budget` end in ``day:YYYY-MM-DD`` or
    ``month:YYYY-MM``; once that period (plus a day's grace) is over nothing can charge them.
    """
    if match := _DAY.search(key):
        y, m, d = (int(g) for g in match.groups())
        end = datetime(y, m, d, tzinfo=timezone.utc) + timedelta(days=1)
    elif match := _MONTH.search(key):
        y, m = int(match.group(1)), int(match.group(2))
        end = datetime(y + m // 12, m % 12 + 1, 1, tzinfo=timezone.utc)
    else:
        return 0
    return int((end + PERIOD_GRACE).timestamp())
