"""Lua of the shared rate limiter and circuit breaker (one round-trip per decision).

Rate limits are a sliding-window log: every admitted request is a member of a sorted set
scored by its admission time, and its token weight is a member of a second set (with a running
sum), so "requests and tokens admitted in the last window" is exact. A token bucket would let
a full bucket plus a window's refill through in one window - twice the limit.
"""

from __future__ import annotations

__all__ = ["BREAKER_LUA", "LIMIT_LUA"]

_NOW = """
local function clock(arg)
  local now = tonumber(arg)
  if now >= 0 then return now end
  local t = redis.call('TIME')  -- one clock for every replica: the server's
  return tonumber(t[1]) + tonumber(t[2]) / 1e6
end
"""

LIMIT_LUA = (
    _NOW
    + """
-- KEYS: requests log, tokens log, tokens sum.
-- ARGV: now (-1 = server time), window, rpm (0 = none), tpm (0 = none), tokens, id,
--       mode ('take', 'peek' or 'add': add tokens without a request, for corrections).
-- Returns {status, wait}: status 1 = taken, 0 = must wait `wait` seconds, -1 = never fits.
local now, window = clock(ARGV[1]), tonumber(ARGV[2])
local rpm, tpm, tokens = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local cutoff = now - window
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', cutoff)
local gone = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', cutoff)
if #gone > 0 then
  local sum = 0
  for _, m in ipairs(gone) do sum = sum + tonumber(string.match(m, ':(%d+)$')) end
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', cutoff)
  redis.call('DECRBY', KEYS[3], string.format('%.0f', sum))
end
local ttl = math.ceil(window * 1000) + 1000
local member = ARGV[6] .. ':' .. ARGV[5]
if ARGV[7] == 'add' then
  redis.call('ZADD', KEYS[2], now, member)
  redis.call('INCRBY', KEYS[3], ARGV[5])
  redis.call('PEXPIRE', KEYS[2], ttl); redis.call('PEXPIRE', KEYS[3], ttl)
  return {1, '0'}
end
if tpm > 0 and tokens > tpm then return {-1, '0'} end
local wait = 0
if rpm > 0 then
  local count = redis.call('ZCARD', KEYS[1])
  if count + 1 > rpm then
    local e = redis.call('ZRANGE', KEYS[1], count - rpm, count - rpm, 'WITHSCORES')
    wait = math.max(wait, tonumber(e[2]) + window - now)
  end
end
local used = tonumber(redis.call('GET', KEYS[3]) or '0')
if tpm > 0 and used + tokens > tpm then
  local need, freed = used + tokens - tpm, 0
  local entries = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
  for i = 1, #entries, 2 do
    freed = freed + tonumber(string.match(entries[i], ':(%d+)$'))
    if freed >= need then
      wait = math.max(wait, tonumber(entries[i + 1]) + window - now)
      break
    end
  end
end
if wait > 0 or ARGV[7] == 'peek' then return {0, tostring(wait)} end
redis.call('ZADD', KEYS[1], now, ARGV[6])
redis.call('ZADD', KEYS[2], now, member)
redis.call('INCRBY', KEYS[3], ARGV[5])
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ttl) end
return {1, '0'}
"""
)

BREAKER_LUA = (
    _NOW
    + """
-- KEYS: the circuit hash {failures, open_until, probe_deadline, rate_limits, backoff_until}.
-- ARGV: now (-1 = server time), op, threshold, cooldown, then per op:
--   'streak' a: a = 1 if this failure is a rate limit; returns the new streak (0 if not)
--   'apply' pause counts open_now: the failure_effect computed from that streak
--   'hold' seconds | 'check' | 'state' | 'success'
-- 'check' and 'state' return {state, seconds left}; 'check' answers 'probe' to the one
-- caller let through after an outage cooldown.
local now, op = clock(ARGV[1]), ARGV[2]
local threshold, cooldown = tonumber(ARGV[3]), tonumber(ARGV[4])
local k = KEYS[1]
local function num(field)
  local v = redis.call('HGET', k, field)
  if v then return tonumber(v) end
  return nil
end
local function keep(extra)
  redis.call('PEXPIRE', k, math.ceil((cooldown * 2 + extra) * 1000) + 60000)
end
if op == 'success' then redis.call('DEL', k); return {'closed', '0'} end
if op == 'streak' then
  local streak = 0
  if ARGV[5] == '1' then streak = redis.call('HINCRBY', k, 'rate_limits', 1)
  else redis.call('HSET', k, 'rate_limits', 0) end
  keep(0)
  return {'streak', tostring(streak)}
end
local open_until, backoff = num('open_until'), num('backoff_until')
if op == 'apply' then
  local pause = tonumber(ARGV[5])
  if pause > 0 then
    redis.call('HSET', k, 'backoff_until', tostring(math.max(backoff or 0, now + pause)))
  end
  if ARGV[6] == '1' then
    local failures = redis.call('HINCRBY', k, 'failures', 1)
    if ARGV[7] == '1' or failures >= threshold or open_until then
      redis.call('HSET', k, 'open_until', tostring(now + cooldown))
      redis.call('HDEL', k, 'probe_deadline')
    end
  end
  keep(pause)
  return {'ok', '0'}
end
if op == 'hold' then
  local untill = now + tonumber(ARGV[5])
  if open_until and open_until > untill then untill = open_until end
  redis.call('HSET', k, 'open_until', tostring(untill))
  redis.call('HDEL', k, 'probe_deadline')
  keep(tonumber(ARGV[5]))
  return {'open', tostring(untill - now)}
end
local left = math.max(0, (open_until or 0) - now, (backoff or 0) - now)
if op == 'state' then
  if open_until then
    if now < open_until then return {'open', tostring(left)} end
    return {'half_open', tostring(left)}
  end
  if backoff and now < backoff then return {'backoff', tostring(left)} end
  return {'closed', tostring(left)}
end
-- op == 'check'
if backoff and now < backoff then return {'backoff', tostring(left)} end
if not open_until then return {'closed', '0'} end
if now < open_until then return {'open', tostring(left)} end
local probe = num('probe_deadline')
if probe and now < probe then return {'half_open', '0'} end
redis.call('HSET', k, 'probe_deadline', tostring(now + cooldown))
keep(0)
return {'probe', '0'}
"""
)
