"""Cancellation: the typed token that travels on a GenerationRequest and stops a generation.

Whoever starts a generation (an HTTP route, the Brain, a queueing wrapper) holds the token;
local backends check it between tokens. It trips when someone calls `cancel()` (the client
went away) or when its wall-clock deadline passes; `reason` says which ("cancelled" or
"timeout"), and a stopped generation reports that reason as its finish_reason.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

CANCELLED = "cancelled"  # the caller (an HTTP client) went away
TIMEOUT = "timeout"  # the wall-clock limit passed
STOP_REASONS = frozenset({CANCELLED, TIMEOUT})

Clock = Callable[[], float]


class Cancellation:
    """A cancel flag with an optional deadline; thread-safe, shared by caller and backend."""

    __slots__ = ("_callbacks", "_clock", "_event", "_lock", "_reason", "cancelled_at", "deadline")

    def __init__(self, *, timeout_s: float | None = None, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self.deadline: float | None = clock() + timeout_s if timeout_s else None
        self._reason: str | None = None
        self.cancelled_at: float | None = None  # on `clock`, when it tripped
        self._lock = threading.Lock()
        self._event = threading.Event()
        self._callbacks: list[Callable[[str], None]] = []

    def __repr__(self) -> str:
        return f"Cancellation(reason={self._reason!r}, deadline={self.deadline!r})"

    def cancel(self, reason: str = CANCELLED) -> bool:
        """Trip the token (the first reason wins); True if this call tripped it."""
        with self._lock:
            if self._reason is not None:
                return False
            self._reason = reason
            self.cancelled_at = self._clock()
            callbacks, self._callbacks = self._callbacks, []
        self._event.set()
        for callback in callbacks:
            try:
                callback(reason)
            except Exception:  # a listener must not stop the others hearing it
                log.exception("cancellation callback failed")
        return True

    @property
    def reason(self) -> str | None:
        """None while the generation may go on; else why it must stop."""
        if self._reason is None and self.deadline is not None and self._clock() >= self.deadline:
            self.cancel(TIMEOUT)
        return self._reason

    @property
    def stopped(self) -> bool:
        return self.reason is not None

    def remaining(self) -> float | None:
        """Seconds until the deadline (0 when past), or None without one."""
        if self.deadline is None:
            return None
        return max(0.0, self.deadline - self._clock())

    def since_cancelled(self) -> float | None:
        """Seconds since the token tripped, on its clock; None if it has not."""
        at = self.cancelled_at
        return None if at is None else max(0.0, self._clock() - at)

    def on_cancel(self, callback: Callable[[str], None]) -> Callable[[], None]:
        """Call `callback(reason)` when `cancel()` trips the token (at once if it has);
        returns a function that unsubscribes. A deadline passing calls it only once the
        deadline is observed (through `reason`)."""
        with self._lock:
            reason = self._reason
            if reason is None:
                self._callbacks.append(callback)
        if reason is not None:
            callback(reason)
            return lambda: None

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._callbacks:
                    self._callbacks.remove(callback)

        return unsubscribe

    def wait(self, timeout: float | None = None) -> bool:
        """Block until cancelled, the deadline or `timeout`; returns whether it tripped."""
        remaining = self.remaining()
        if remaining is not None:
            timeout = remaining if timeout is None else min(timeout, remaining)
        self._event.wait(timeout)
        return self.stopped
