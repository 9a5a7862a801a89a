"""The Redis limiter: rate windows and budget holds in Redis, changed only by Lua scripts
(EVALSHA, loaded on first use), so every server process sharing the Redis sees one state
and a reservation over several checks is all or nothing.

Per check two keys: a sorted set (window: reservation id → admission time; budget: id →
hold deadline) and a hash (id → amount, plus `_total` for a window, `_spent` and `_held` for
a budget). Window keys expire a minute after their last entry, budget keys a day after their
period ends. Times come from the caller (one clock for the in-process and Redis limiters,
injectable in tests); servers sharing a Redis should keep their clocks in sync (NTP).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cerebra.auth.limits import (
    WINDOW_S,
    Check,
    Reservation,
    Window,
    new_reservation,
    refusal,
)

PREFIX = "cerebra:limits:"
_KEEP_BUDGET_S = 86400  # a budget's keys outlive its period by a day

# KEYS: (zset, hash) per check. ARGV: now, id, deadline, window, then per check:
# kind ('w' | 'b'), amount, limit, expire-at (budgets). Returns {0} or {failed check, wait}.
_RESERVE = """
local now, rid, deadline, window = tonumber(ARGV[1]), ARGV[2], ARGV[3], tonumber(ARGV[4])
local n = #KEYS / 2
local function int(x) return string.format('%d', x) end
for i = 1, n do
  local z, h = KEYS[2 * i - 1], KEYS[2 * i]
  local base = 4 + (i - 1) * 4
  local kind, amount, limit = ARGV[base + 1], tonumber(ARGV[base + 2]), tonumber(ARGV[base + 3])
  if kind == 'w' then
    local old = redis.call('ZRANGEBYSCORE', z, '-inf', now - window)
    for _, id in ipairs(old) do
      local a = redis.call('HGET', h, id)
      if a then redis.call('HINCRBY', h, '_total', int(-tonumber(a))); redis.call('HDEL', h, id) end
    end
    if #old > 0 then redis.call('ZREMRANGEBYSCORE', z, '-inf', now - window) end
    local total = tonumber(redis.call('HGET', h, '_total') or '0')
    if total + amount > limit then
      if amount > limit then return {i, tostring(window)} end
      local excess = total + amount - limit
      local entries = redis.call('ZRANGE', z, 0, -1, 'WITHSCORES')
      for j = 1, #entries, 2 do
        excess = excess - tonumber(redis.call('HGET', h, entries[j]) or '0')
        if excess <= 0 then return {i, tostring(tonumber(entries[j + 1]) + window - now)} end
      end
      return {i, tostring(window)}
    end
  else
    local lapsed = redis.call('ZRANGEBYSCORE', z, '-inf', now)
    for _, id in ipairs(lapsed) do
      local a = redis.call('HGET', h, id)
      if a then redis.call('HINCRBY', h, '_held', int(-tonumber(a))); redis.call('HDEL', h, id) end
    end
    if #lapsed > 0 then redis.call('ZREMRANGEBYSCORE', z, '-inf', now) end
    local used = tonumber(redis.call('HGET', h, '_spent') or '0')
               + tonumber(redis.call('HGET', h, '_held') or '0')
    if used + amount > limit then return {i, '0'} end
  end
end
for i = 1, n do
  local z, h = KEYS[2 * i - 1], KEYS[2 * i]
  local base = 4 + (i - 1) * 4
  local kind, amount = ARGV[base + 1], ARGV[base + 2]
  if kind == 'w' then
    redis.call('ZADD', z, now, rid)
    redis.call('HSET', h, rid, amount)
    redis.call('HINCRBY', h, '_total', amount)
    redis.call('PEXPIRE', z, int((window + 1) * 1000))
    redis.call('PEXPIRE', h, int((window + 1) * 1000))
  else
    redis.call('ZADD', z, deadline, rid)
    redis.call('HSET', h, rid, amount)
    redis.call('HINCRBY', h, '_held', amount)
    redis.call('EXPIREAT', z, ARGV[base + 4])
    redis.call('EXPIREAT', h, ARGV[base + 4])
  end
end
return {0}
"""

# KEYS: (zset, hash) per check. ARGV: id, tokens, cost, mode ('settle' | 'release'), then per
# check: kind ('r' requests window, 't' tokens window, 'b' budget), expire-at (budgets).
_SETTLE = """
local rid, tokens, cost, mode = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local function int(x) return string.format('%d', x) end
for i = 1, #KEYS / 2 do
  local z, h = KEYS[2 * i - 1], KEYS[2 * i]
  local kind, expire = ARGV[4 + 2 * i - 1], ARGV[4 + 2 * i]
  local old = redis.call('HGET', h, rid)
  if kind == 't' and old then
    local new = (mode == 'settle') and tokens or '0'
    redis.call('HSET', h, rid, new)
    redis.call('HINCRBY', h, '_total', int(tonumber(new) - tonumber(old)))
  elseif kind == 'b' then
    if old then
      redis.call('HDEL', h, rid)
      redis.call('ZREM', z, rid)
      redis.call('HINCRBY', h, '_held', int(-tonumber(old)))
    end
    if mode == 'settle' then
      redis.call('HINCRBY', h, '_spent', cost)
      redis.call('EXPIREAT', h, expire)
    end
  end
end
return 0
"""


def _keys(check: Check) -> tuple[str, str]:
    kind = "w" if isinstance(check, Window) else "b"
    return f"{PREFIX}{kind}:{check.key}:z", f"{PREFIX}{kind}:{check.key}:h"


class RedisLimiter:
    """Limits shared by every process using the same Redis (`redis.url`)."""

    def __init__(self, url: str, *, client: Any = None) -> None:
        import redis

        self.client: Any = client or redis.Redis.from_url(url)
        self._reserve = self.client.register_script(_RESERVE)
        self._settle = self.client.register_script(_SETTLE)

    def reserve(self, checks: Sequence[Check], *, now: float, hold_s: float) -> Reservation:
        reservation = new_reservation(checks, now, hold_s)
        if not checks:
            return reservation
        keys: list[str] = []
        args: list[Any] = [repr(now), reservation.id, repr(reservation.deadline), repr(WINDOW_S)]
        for check in checks:
            keys.extend(_keys(check))
            if isinstance(check, Window):
                args.extend(["w", check.amount, check.limit, 0])
            else:
                args.extend(["b", check.amount, check.limit,
                             int(check.resets_at) + _KEEP_BUDGET_S])
        result = self._reserve(keys=keys, args=args)
        if int(result[0]) != 0:
            check = checks[int(result[0]) - 1]
            wait = float(result[1]) if isinstance(check, Window) else check.resets_at - now
            raise refusal(check, now, wait)
        return reservation

    def _finish(self, reservation: Reservation, tokens: int, cost: int, mode: str) -> None:
        keys: list[str] = []
        args: list[Any] = [reservation.id, tokens, cost, mode]
        for check in reservation.checks:
            keys.extend(_keys(check))
            if isinstance(check, Window):
                args.extend(["t" if check.unit == "tokens" else "r", 0])
            else:
                args.extend(["b", int(check.resets_at) + _KEEP_BUDGET_S])
        if keys:
            self._settle(keys=keys, args=args)

    def settle(self, reservation: Reservation, *, tokens: int, cost: int, now: float) -> None:
        self._finish(reservation, tokens, cost, "settle")

    def release(self, reservation: Reservation, *, now: float) -> None:
        self._finish(reservation, 0, 0, "release")

    def usage(self, key: str, *, now: float) -> tuple[int, int]:
        """(settled, held) nano-dollars of a budget key (lapsed holds left out)."""
        z, h = f"{PREFIX}b:{key}:z", f"{PREFIX}b:{key}:h"
        spent, held = self.client.hmget(h, "_spent", "_held")
        lapsed = self.client.zrangebyscore(z, "-inf", now)
        lapsed_amount = sum(int(a or 0) for a in self.client.hmget(h, lapsed)) if lapsed else 0
        return int(spent or 0), int(held or 0) - lapsed_amount

    def close(self) -> None:
        self.client.close()
