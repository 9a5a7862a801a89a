"""Rate limits and spend budgets: the limits of an API key or a tenant, the errors they raise,
the `Limiter` protocol (reserve before dispatch, settle after) and the in-process limiter.

Rates are sliding-window logs: every admitted request is an entry (its time and its amount —
1 for requests/min, tokens for tokens/min) and a request is admitted only if the entries of
the last 60 seconds plus its own stay within the limit, so no 60-second window ever holds
more than the limit (no burst at a window's edge, unlike fixed windows or a token bucket).
Budgets are per UTC day and per UTC month in the ledger's currency (USD), counted in integer
nano-dollars so that sums are exact. A reservation holds the worst-case amount of every
check at once (all or nothing); `settle` replaces each hold by the real amount, `release`
drops the holds (a request that failed or was cancelled spends nothing; it still counts as
a request). A hold not settled by its deadline (its server died) lapses.

A budget's spend survives restarts: the first time a process uses a budget (in-process), or
when Redis no longer holds it (restarted, flushed), the limiter asks its `Seeder` — the
ledger's sum of `interactions.cost_usd` for that tenant, key or user in that period
(`cerebra.auth.limits_ledger`) — and counts from there.

`cerebra.auth.limits_redis.RedisLimiter` keeps the same state in Redis, changed by Lua
scripts, so several server processes share it atomically; both pass one conformance suite.
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from cerebra.errors import CerebraError, InvalidInput
from cerebra.ids import new_id

WINDOW_S = 60.0
NANO = 1_000_000_000  # nano-dollars per dollar


def to_nano(usd: float) -> int:
    return round(usd * NANO)


@dataclass(frozen=True)
class Limits:
    """Limits of one key or tenant; None: unlimited (0 from settings means the same)."""

    requests_per_min: int | None = None
    tokens_per_min: int | None = None
    daily_budget: float | None = None  # USD per UTC day
    monthly_budget: float | None = None  # USD per UTC month

    @classmethod
    def parse(cls, data: Mapping[str, Any] | None, *, field_name: str = "limits") -> Limits:
        """Limits from JSON (unknown names and negative or non-numeric values refused)."""
        if not data:
            return cls()
        if not isinstance(data, Mapping):
            raise InvalidInput(f"{field_name} must be an object", field=field_name)
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise InvalidInput(f"unknown limits {', '.join(sorted(unknown))} (known: "
                               f"{', '.join(sorted(names))})", field=field_name)
        values: dict[str, Any] = {}
        for name, value in data.items():
            if value is None:
                continue
            integral = name in ("requests_per_min", "tokens_per_min")
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0 or (
                    integral and value != int(value)):
                kind = "a whole number" if integral else "a number"
                raise InvalidInput(f"{field_name}.{name} must be {kind} >= 0",
                                   field=f"{field_name}.{name}")
            values[name] = int(value) if integral else float(value)
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def over(self, defaults: Limits) -> Limits:
        """These limits, each one unset taken from `defaults`; 0 means unlimited."""
        merged = {f.name: getattr(self, f.name) if getattr(self, f.name) is not None
                  else getattr(defaults, f.name) for f in fields(self)}
        return Limits(**{k: (v or None) for k, v in merged.items()})

    @property
    def unlimited(self) -> bool:
        return all(not getattr(self, f.name) for f in fields(self))


# -- what a reservation checks ----------------------------------------------------------------
@dataclass(frozen=True)
class Window:
    """A rate check: at most `limit` (requests or tokens) in any 60 s; this request: `amount`."""

    key: str
    limit: int
    amount: int
    unit: Literal["requests", "tokens"]
    subject: str  # "key" | "tenant": whose limit, for the error


@dataclass(frozen=True)
class Budget:
    """A spend check in nano-dollars for one period (the period is part of `key`)."""

    key: str
    limit: int
    amount: int  # the worst case held until settled
    period: Literal["daily", "monthly"]
    resets_at: float  # when the period ends (epoch seconds)
    subject: str
    starts_at: float = 0.0  # when the period began (the ledger's sum counts from here)
    tenant_id: str = ""  # whose spend: the tenant, and for a key or user budget its id
    owner: str = ""


Check = Window | Budget


@dataclass(frozen=True)
class Reservation:
    id: str
    checks: tuple[Check, ...]
    deadline: float  # holds lapse after this time (a settle that never came)


def new_reservation(checks: Sequence[Check], now: float, hold_s: float) -> Reservation:
    return Reservation(new_id(), tuple(checks), now + hold_s)


def period_range(now: float, period: str) -> tuple[float, float]:
    """(start, end) of the UTC day or month holding `now`, in epoch seconds."""
    _, begins, ends = _period(now, period)
    return begins, ends


def period_bounds(now: float, period: str) -> tuple[str, float]:
    """(period id, end of the period) in UTC: a day ("2026-11-30") or a month ("2026-11")."""
    pid, _, ends = _period(now, period)
    return pid, ends


_LAST_PERIOD: dict[str, tuple[str, float, float]] = {}  # period -> the last one computed


def _period(now: float, period: str) -> tuple[str, float, float]:
    """(id, start, end) of the UTC day or month holding `now`; the last one computed per
    kind is reused while `now` falls in it (every request asks, the answer changes daily)."""
    last = _LAST_PERIOD.get(period)
    if last is not None and last[1] <= now < last[2]:
        return last
    t = datetime.fromtimestamp(now, UTC)
    if period == "daily":
        start = t.replace(hour=0, minute=0, second=0, microsecond=0)
        found = (start.strftime("%Y-%m-%d"), start.timestamp(), start.timestamp() + 86400)
    else:
        start = t.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        nxt = (start.replace(year=start.year + 1, month=1) if start.month == 12
               else start.replace(month=start.month + 1))
        found = (start.strftime("%Y-%m"), start.timestamp(), nxt.timestamp())
    _LAST_PERIOD[period] = found
    return found


# -- errors -------------------------------------------------------------------------------------
class RateLimited(CerebraError):
    """Requests/min or tokens/min of a key or tenant used up. HTTP 429 with Retry-After."""

    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after_s: float, limit: str, subject: str) -> None:
        super().__init__(message, field=None)
        self.retry_after_s = max(1, int(retry_after_s + 0.999))
        self.extra = {"retry_after_s": self.retry_after_s, "limit": limit, "subject": subject}

    def headers(self) -> dict[str, str] | None:
        return {"Retry-After": str(self.retry_after_s)}


class BudgetExhausted(CerebraError):
    """A daily or monthly spend budget would be exceeded. HTTP 402 naming when it resets
    (in the body and in the Retry-After and X-Budget-Reset headers)."""

    status_code = 402
    code = "budget_exhausted"

    def __init__(self, message: str, *, resets_at: float, period: str, subject: str,
                 now: float) -> None:
        super().__init__(message, field=None)
        self.resets_at = resets_at
        self.retry_after_s = max(1, int(resets_at - now + 0.999))
        reset = datetime.fromtimestamp(resets_at, UTC).isoformat().replace("+00:00", "Z")
        self.extra = {"budget": period, "subject": subject, "resets_at": reset,
                      "retry_after_s": self.retry_after_s}

    def headers(self) -> dict[str, str] | None:
        return {"Retry-After": str(self.retry_after_s),
                "X-Budget-Reset": str(self.extra["resets_at"])}


class LimitsUnavailable(CerebraError):
    """The limits store (Redis) cannot be reached, so limits cannot be checked: the request
    is refused (HTTP 503) unless `limits.redis_fail_open` lets it through unchecked."""

    status_code = 503
    code = "limits_unavailable"

    def __init__(self, message: str) -> None:
        super().__init__(message, field=None)
        self.extra = {"retry_after_s": 5}

    def headers(self) -> dict[str, str] | None:
        return {"Retry-After": "5"}


Seeder = Callable[[Budget], int]
"""What a budget had spent in its period before this limiter knew it (nano-dollars)."""


def refusal(check: Check, now: float, retry_after_s: float) -> CerebraError:
    """The error for a check that did not fit (`retry_after_s`: when a window frees enough)."""
    if isinstance(check, Budget):
        usd = check.limit / NANO
        return BudgetExhausted(
            f"the {check.subject}'s {check.period} budget of ${usd:.2f} would be exceeded "
            f"(this request may cost up to ${check.amount / NANO:.6f})",
            resets_at=check.resets_at, period=check.period, subject=check.subject, now=now)
    name = "requests_per_min" if check.unit == "requests" else "tokens_per_min"
    if check.amount > check.limit:
        message = (f"this request may use {check.amount} tokens; the {check.subject}'s limit "
                   f"is {check.limit} tokens per minute")
    else:
        message = f"the {check.subject}'s limit of {check.limit} {check.unit} per minute is used"
    return RateLimited(message, retry_after_s=retry_after_s, limit=name, subject=check.subject)


class Limiter(Protocol):
    """Reserve before dispatch, settle (or release) after; atomic over all checks."""

    def reserve(self, checks: Sequence[Check], *, now: float, hold_s: float) -> Reservation:
        """Hold every check's amount, or raise RateLimited / BudgetExhausted holding none."""
        ...

    def settle(self, reservation: Reservation, *, tokens: int, cost: int, now: float) -> None:
        """Replace the holds by what the request really used (tokens; cost in nano-USD)."""
        ...

    def release(self, reservation: Reservation, *, now: float) -> None:
        """Drop the holds: the request spent nothing (it still counts as a request)."""
        ...

    def usage(self, key: str, *, now: float) -> tuple[int, int]:
        """(settled, held) nano-dollars of a budget key."""
        ...

    def close(self) -> None: ...


# -- in-process ---------------------------------------------------------------------------------
@dataclass
class _WindowLog:
    """A window's entries, with a heap of (time, id) beside them: a purge pops what expired
    from the heap, so it costs what it drops rather than a scan of the whole minute's log
    (at hundreds of requests per second a full scan per request was most of the limits'
    price)."""

    entries: dict[str, tuple[float, int]] = field(default_factory=dict)  # id -> (time, amount)
    total: int = 0
    times: list[tuple[float, str]] = field(default_factory=list)  # heap of (time, id)

    def add(self, rid: str, at: float, amount: int) -> None:
        self.entries[rid] = (at, amount)
        self.total += amount
        heapq.heappush(self.times, (at, rid))

    def purge(self, now: float) -> None:
        cutoff = now - WINDOW_S
        times = self.times
        while times and times[0][0] <= cutoff:
            _, rid = heapq.heappop(times)
            gone = self.entries.pop(rid, None)
            if gone is not None:
                self.total -= gone[1]

    def retry_after(self, need: int, limit: int, now: float) -> float:
        """Seconds until enough entries leave the window for `need` more to fit."""
        excess = self.total + need - limit
        for at, amount in sorted(self.entries.values()):
            excess -= amount
            if excess <= 0:
                return at + WINDOW_S - now
        return WINDOW_S


@dataclass
class _BudgetState:
    ends: float  # the end of its period: forgotten a day after
    spent: int = 0
    holds: dict[str, tuple[float, int]] = field(default_factory=dict)  # id -> (deadline, amt)
    held: int = 0

    def purge(self, now: float) -> None:
        for rid, (deadline, amount) in list(self.holds.items()):
            if deadline <= now:
                del self.holds[rid]
                self.held -= amount


class InProcessLimiter:
    """The limiter of one process: the same state as the Redis one, under a lock. A budget
    first used here starts from what `seeder` says was spent in its period (none: 0)."""

    def __init__(self, seeder: Seeder | None = None) -> None:
        self.seeder = seeder
        self._lock = threading.Lock()
        self._windows: dict[str, _WindowLog] = {}
        self._budgets: dict[str, _BudgetState] = {}
        self._swept = 0.0

    def reserve(self, checks: Sequence[Check], *, now: float, hold_s: float) -> Reservation:
        reservation = new_reservation(checks, now, hold_s)
        seeds = {c.key: self.seeder(c) for c in checks if isinstance(c, Budget)
                 and self.seeder is not None and c.key not in self._budgets}  # off the lock
        with self._lock:
            self._expire(now)
            for check in checks:
                if isinstance(check, Window):
                    log = self._windows.setdefault(check.key, _WindowLog())
                    log.purge(now)
                    if log.total + check.amount > check.limit:
                        wait = (WINDOW_S if check.amount > check.limit
                                else log.retry_after(check.amount, check.limit, now))
                        raise refusal(check, now, wait)
                else:
                    state = self._budgets.setdefault(check.key, _BudgetState(
                        check.resets_at, spent=seeds.get(check.key, 0)))
                    state.purge(now)
                    if state.spent + state.held + check.amount > check.limit:
                        raise refusal(check, now, check.resets_at - now)
            for check in checks:
                if isinstance(check, Window):
                    self._windows[check.key].add(reservation.id, now, check.amount)
                else:
                    state = self._budgets[check.key]
                    state.holds[reservation.id] = (reservation.deadline, check.amount)
                    state.held += check.amount
        return reservation

    def settle(self, reservation: Reservation, *, tokens: int, cost: int, now: float) -> None:
        with self._lock:
            for check in reservation.checks:
                if isinstance(check, Window):
                    if check.unit == "tokens":
                        self._resize(check.key, reservation.id, tokens)
                else:
                    state = self._budgets.setdefault(check.key, _BudgetState(check.resets_at))
                    _, held = state.holds.pop(reservation.id, (0.0, 0))
                    state.held -= held
                    state.spent += cost

    def release(self, reservation: Reservation, *, now: float) -> None:
        with self._lock:
            for check in reservation.checks:
                if isinstance(check, Window):
                    if check.unit == "tokens":
                        self._resize(check.key, reservation.id, 0)
                else:
                    state = self._budgets.get(check.key)
                    if state is not None and reservation.id in state.holds:
                        state.held -= state.holds.pop(reservation.id)[1]

    def _resize(self, key: str, rid: str, amount: int) -> None:
        log = self._windows.get(key)
        if log is not None and rid in log.entries:
            at, old = log.entries[rid]
            log.entries[rid] = (at, amount)
            log.total += amount - old

    def _expire(self, now: float) -> None:
        """Once a minute: forget windows with nothing in the last minute and budgets a day
        past their period (as the Redis keys expire)."""
        if now - self._swept < WINDOW_S:
            return
        self._swept = now
        for key, log in list(self._windows.items()):
            log.purge(now)
            if not log.entries:
                del self._windows[key]
        for key, state in list(self._budgets.items()):
            if state.ends + 86400 <= now:
                del self._budgets[key]

    def usage(self, key: str, *, now: float) -> tuple[int, int]:
        """(settled, held) nano-dollars of a budget key (lapsed holds left out)."""
        with self._lock:
            state = self._budgets.get(key)
            if state is None:
                return 0, 0
            state.purge(now)
            return state.spent, state.held

    def close(self) -> None:
        return None
