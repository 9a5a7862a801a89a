"""The Redis limiter: rate windows and budget holds in Redis, changed only by Lua scripts
(EVALSHA, loaded on first use), so every server process sharing the Redis sees one state
and a reservation over several checks is all or nothing.

Per check two keys: a sorted set (window: reservation id → admission time; budget: id →
hold deadline) and a hash (id → amount, plus `_total` for a window, `_spent` and `_held` for
a budget). Window keys expire a minute after their last entry, budget keys a day after their
period ends. Times come from the caller (one clock for the in-process and Redis limiters,
injectable in tests); servers sharing a Redis should keep their clocks in sync (NTP).

A budget's hash carries `_seeded` once it holds the period's spend: when it is missing (a
new period, or a Redis restarted or flushed) the script asks for the ledger's sum (the
limiter's `Seeder`) and adds it to `_spent` before checking; a request settled between the
loss and the seed may be counted twice — an early refusal, never an overspend. Redis down:
`LimitsUnavailable` (503), never a raw connection error.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from cerebra.auth.limits import (
    WINDOW_S,
    Budget,
    Check,
    LimitsUnavailable,
    Reservation,
    Seeder,
    Window,
    new_reservation,
    refusal,
)

log = logging.getLogger("cerebra.limits")

PREFIX = "cerebra:limits:"
_KEEP_BUDGET_S = 86400  # a budget's keys outlive its period by a day

# KEYS: (zset, hash) per check. ARGV: now, id, deadline, window, then per check:
# kind ('w' | 'b'), amount, limit, expire-at (budgets), seed (budgets: nano-dollars spent
# before, or '-' when not known). Returns {0}, {failed check, wait} or {check, 'seed'}: that
# budget needs its seed (call again with the seeds).
_RESERVE = """
local now, rid, deadline, window = tonumber(ARGV[1]), ARGV[2], ARGV[3], tonumber(ARGV[4])
local n = #KEYS / 2
local function int(x) return string.format('%d', x) end
for i = 1, n do
  local z, h = KEYS[2 * i - 1], KEYS[2 * i]
  local base = 4 + (i - 1) * 5
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
    if redis.call('HEXISTS', h, '_seeded') == 0 then
      local seed = ARGV[base + 5]
      if seed == '-' then return {i, 'seed'} end
      redis.call('HINCRBY', h, '_spent', seed)
      redis.call('HSET', h, '_seeded', '1')
      redis.call('EXPIREAT', h, ARGV[base + 4])
    end
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
  local base = 4 + (i - 1) * 5
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
    """Limits shared by every process using the same Redis (`redis.url`); budgets Redis does
    not hold yet start from what `seeder` says was spent in their period (none: 0)."""

    def __init__(self, url: str, *, client: Any = None, seeder: Seeder | None = None) -> None:
        import redis

        self.seeder = seeder
        self.client: Any = client or redis.Redis.from_url(
            url, socket_connect_timeout=2.0, socket_timeout=5.0)
        parts = urlsplit(url)
        self.where = f"Redis at {parts.hostname or 'localhost'}:{parts.port or 6379}"
        self._error: type[Exception] = redis.RedisError
        self._reserve = self.client.register_script(_RESERVE)
        self._settle = self.client.register_script(_SETTLE)

    def _call(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        try:
            return script(keys=keys, args=args)
        except self._error as exc:
            log.warning("limits store unreachable: %s", exc)
            raise LimitsUnavailable(
                f"the limits store ({self.where}) cannot be reached, so limits and budgets "
                "cannot be checked; try again shortly") from None

    def reserve(self, checks: Sequence[Check], *, now: float, hold_s: float) -> Reservation:
        reservation = new_reservation(checks, now, hold_s)
        if not checks:
            return reservation
        keys: list[str] = []
        for check in checks:
            keys.extend(_keys(check))
        result = self._call(self._reserve, keys, self._args(reservation, now, None))
        if int(result[0]) != 0 and result[1] in (b"seed", "seed"):
            seeds = {c.key: self.seeder(c) if self.seeder is not None else 0
                     for c in checks if isinstance(c, Budget)}
            result = self._call(self._reserve, keys, self._args(reservation, now, seeds))
        if int(result[0]) != 0:
            check = checks[int(result[0]) - 1]
            wait = float(result[1]) if isinstance(check, Window) else check.resets_at - now
            raise refusal(check, now, wait)
        return reservation

    @staticmethod
    def _args(reservation: Reservation, now: float, seeds: dict[str, int] | None) -> list[Any]:
        args: list[Any] = [repr(now), reservation.id, repr(reservation.deadline), repr(WINDOW_S)]
        for check in reservation.checks:
            if isinstance(check, Window):
                args.extend(["w", check.amount, check.limit, 0, "-"])
            else:
                args.extend(["b", check.amount, check.limit,
                             int(check.resets_at) + _KEEP_BUDGET_S,
                             "-" if seeds is None else seeds[check.key]])
        return args

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
            self._call(self._settle, keys, args)

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
