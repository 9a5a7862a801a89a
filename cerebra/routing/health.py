"""Backend health for the router: consecutive failures, cooldown windows and recovery.

A backend that fails `failure_threshold` times in a row (or answers "rate limited, retry
after N s") leaves rotation until its cooldown ends; then it is tried again (half-open):
a success clears its record, a failure sends it back for a longer cooldown. An optional
`listener` hears each cooldown entered and each recovery (to share them between replicas),
and `apply_remote` takes those heard from other replicas.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cerebra.routing.policy import CooldownPolicy

# name, cooldown seconds, strikes (0 = recovered), last error
HealthListener = Callable[[str, float, int, str], None]


@dataclass
class _Record:
    consecutive_failures: int = 0
    strikes: int = 0  # cooldowns in a row without a success between them
    cooling_until: float = 0.0
    successes: int = 0
    failures: int = 0
    last_error: str = ""


class BackendHealth:
    """Thread-safe failure counters and cooldowns, keyed by backend name."""

    def __init__(self, policy: CooldownPolicy = CooldownPolicy(),
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy
        self._clock = clock
        self._lock = threading.Lock()
        self._records: dict[str, _Record] = {}
        self.listener: HealthListener | None = None

    def _rec(self, name: str) -> _Record:
        rec = self._records.get(name)
        if rec is None:
            rec = self._records[name] = _Record()
        return rec

    def is_cooling(self, name: str) -> bool:
        rec = self._records.get(name)
        return rec is not None and rec.cooling_until > self._clock()

    def available(self, names: Sequence[str]) -> list[str]:
        """The names not in cooldown, in their given order."""
        now = self._clock()
        return [n for n in names if (r := self._records.get(n)) is None or r.cooling_until <= now]

    def soonest(self, names: Sequence[str]) -> list[str]:
        """All names ordered by when their cooldown ends (for when every one is cooling)."""
        return sorted(names, key=lambda n: self._records[n].cooling_until
                      if n in self._records else 0.0)

    def record_success(self, name: str) -> None:
        with self._lock:
            rec = self._rec(name)
            recovered = rec.strikes > 0 or rec.cooling_until > 0.0
            rec.successes += 1
            rec.consecutive_failures = 0
            rec.strikes = 0
            rec.cooling_until = 0.0
        if recovered and self.listener is not None:
            self.listener(name, 0.0, 0, "")

    def record_failure(self, name: str, error: str = "", retry_after: float | None = None) -> bool:
        """Count a failure; True when the backend has just entered cooldown."""
        with self._lock:
            rec = self._rec(name)
            rec.failures += 1
            rec.consecutive_failures += 1
            rec.last_error = error[:500]
            now = self._clock()
            entered = False
            if retry_after is not None and retry_after > 0:
                rec.cooling_until = max(rec.cooling_until, now + retry_after)
                entered = True
            elif rec.strikes > 0 or rec.consecutive_failures >= self.policy.failure_threshold:
                # (strikes > 0: just back from a cooldown, so one failure sends it back)
                rec.strikes += 1
                rec.consecutive_failures = 0
                rec.cooling_until = now + self.policy.duration(rec.strikes)
                entered = True
            remaining, strikes = rec.cooling_until - now, max(rec.strikes, 1)
        if entered and self.listener is not None:
            self.listener(name, remaining, strikes, error)
        return entered

    def apply_remote(self, name: str, remaining_s: float, strikes: int, error: str) -> None:
        """A cooldown (strikes > 0) or a recovery (strikes == 0) seen by another replica."""
        with self._lock:
            if strikes <= 0:
                rec = self._records.get(name)
                if rec is not None:
                    rec.consecutive_failures = rec.strikes = 0
                    rec.cooling_until = 0.0
                return
            if remaining_s <= 0:
                return  # an old cooldown, over already
            rec = self._rec(name)
            rec.cooling_until = max(rec.cooling_until, self._clock() + remaining_s)
            rec.strikes = max(rec.strikes, strikes)
            rec.last_error = f"{error[:400]} (seen by another replica)"

    def reset(self, name: str) -> None:
        with self._lock:
            self._records.pop(name, None)

    def snapshot(self) -> dict[str, dict[str, Any]]:
        now = self._clock()
        with self._lock:
            return {
                name: {
                    "cooling": rec.cooling_until > now,
                    "cooldown_remaining_s": round(max(rec.cooling_until - now, 0.0), 3),
                    "consecutive_failures": rec.consecutive_failures,
                    "successes": rec.successes,
                    "failures": rec.failures,
                    "last_error": rec.last_error,
                }
                for name, rec in self._records.items()
            }
