"""Admission to a local model: a bounded wait queue with a pluggable order.

A local model (llama.cpp, transformers) runs one generation at a time. `Admission` hands out
that slot: a request runs at once when the model is free, waits in a bounded queue when it is
busy, and is refused with `Overloaded` (HTTP 429, Retry-After estimated from recent service
times and the queue length) when the queue is full. Which waiting request goes next is a
`QueuePolicy`: FIFO by default; a per-tenant fair policy can plug in (each waiter carries the
request's tenant as `key`). Threads and coroutines wait alike — a queued coroutine parks no
thread — and a waiter leaves the queue when its Cancellation trips or its task is cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from cerebra.errors import Overloaded
from cerebra.models.cancellation import CANCELLED, Cancellation


class Waiter:
    """One request waiting for the model; `wake()` tells it to look again."""

    __slots__ = ("enqueued_at", "granted", "key", "wake")

    def __init__(self, key: str, wake: Callable[[], None]) -> None:
        self.key = key
        self.wake = wake
        self.granted = False
        self.enqueued_at = time.monotonic()


class QueuePolicy(Protocol):
    """The order in which waiting requests get the model."""

    def push(self, waiter: Waiter) -> None: ...

    def pop(self) -> Waiter | None: ...

    def remove(self, waiter: Waiter) -> bool: ...

    def __len__(self) -> int: ...


class FifoPolicy:
    """First come, first served."""

    def __init__(self) -> None:
        self._items: deque[Waiter] = deque()

    def push(self, waiter: Waiter) -> None:
        self._items.append(waiter)

    def pop(self) -> Waiter | None:
        return self._items.popleft() if self._items else None

    def remove(self, waiter: Waiter) -> bool:
        try:
            self._items.remove(waiter)
        except ValueError:
            return False
        return True

    def __len__(self) -> int:
        return len(self._items)


@dataclass(frozen=True)
class AdmissionStats:
    active: int  # generations running
    queued: int  # requests waiting
    admitted: int  # slots granted so far
    rejected: int  # refused: queue full
    timed_out: int  # gave up in the queue: the request's time ran out
    left: int  # left the queue: cancelled while waiting
    mean_service_s: float | None  # over recent generations


class Admission:
    """The slot(s) of one model and the queue in front of them."""

    def __init__(
        self,
        *,
        name: str = "model",
        queue_size: int = 16,
        concurrency: int = 1,
        policy: QueuePolicy | None = None,
        history: int = 32,
        default_service_s: float = 1.0,
    ) -> None:
        if queue_size < 0 or concurrency < 1:
            raise ValueError("queue_size must be >= 0 and concurrency >= 1")
        self.name = name
        self.queue_size = queue_size
        self.concurrency = concurrency
        self.default_service_s = default_service_s
        self._policy: QueuePolicy = policy if policy is not None else FifoPolicy()
        self._cond = threading.Condition()  # guards the state; notified on every change
        self._active = 0
        self._services: deque[float] = deque(maxlen=history)
        self._admitted = self._rejected = self._timed_out = self._left = 0

    # -- state ------------------------------------------------------------------------------
    def _stats(self) -> AdmissionStats:
        services = self._services
        return AdmissionStats(self._active, len(self._policy), self._admitted, self._rejected,
                              self._timed_out, self._left,
                              sum(services) / len(services) if services else None)

    def stats(self) -> AdmissionStats:
        with self._cond:
            return self._stats()

    def wait_until(self, predicate: Callable[[AdmissionStats], bool],
                   timeout: float | None = None) -> bool:
        """Block until `predicate(stats)` holds (tests and diagnostics synchronise on it)."""
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self._stats()), timeout)

    def _retry_after(self) -> int:
        """Seconds until this request could be served: the work ahead × recent service time."""
        services = self._services
        mean = sum(services) / len(services) if services else self.default_service_s
        ahead = self._active + len(self._policy)
        return max(1, math.ceil(mean * ahead / self.concurrency))

    def retry_after_s(self) -> int:
        with self._cond:
            return self._retry_after()

    # -- entering and leaving ---------------------------------------------------------------
    def try_enter(self) -> bool:
        """Take a free slot without waiting (a health probe); False when the model is busy."""
        with self._cond:
            if self._active < self.concurrency and not len(self._policy):
                self._active += 1
                self._cond.notify_all()
                return True
            return False

    def _enqueue(self, key: str, wake: Callable[[], None]) -> Waiter | None:
        """None: the slot is the caller's now. Else the queued waiter; Overloaded when full."""
        with self._cond:
            if self._active < self.concurrency and not len(self._policy):
                self._active += 1
                self._admitted += 1
                self._cond.notify_all()
                return None
            if len(self._policy) >= self.queue_size:
                self._rejected += 1
                raise Overloaded(
                    f"model {self.name} is busy and {len(self._policy)} requests are waiting; "
                    "try again later", retry_after_s=self._retry_after())
            waiter = Waiter(key, wake)
            self._policy.push(waiter)
            self._cond.notify_all()
            return waiter

    def _give_up(self, waiter: Waiter, reason: str | None) -> bool:
        """Leave the queue; True when the slot was granted meanwhile (then it is passed on)."""
        with self._cond:
            granted = waiter.granted
            if not granted:
                self._policy.remove(waiter)
                if reason == CANCELLED or reason is None:
                    self._left += 1
                else:
                    self._timed_out += 1
                self._cond.notify_all()
        if granted:
            self.leave()
        return granted

    def _outcome(self, waiter: Waiter, cancellation: Cancellation | None) -> bool:
        if waiter.granted:
            return True
        reason = cancellation.reason if cancellation is not None else None
        self._give_up(waiter, reason)
        if reason == CANCELLED:
            return False
        raise Overloaded(
            f"model {self.name} stayed busy for the whole time this request may take; "
            "try again later", retry_after_s=self.retry_after_s())

    def enter(self, key: str = "", cancellation: Cancellation | None = None) -> bool:
        """Wait in this thread for the slot. True: the caller holds it and must `leave()`;
        False: cancelled while waiting. Overloaded: queue full, or the deadline passed."""
        event = threading.Event()
        waiter = self._enqueue(key, event.set)
        if waiter is None:
            return True
        unsubscribe = cancellation.on_cancel(lambda _: event.set()) if cancellation else None
        try:
            while not waiter.granted and not (cancellation and cancellation.stopped):
                event.wait(cancellation.remaining() if cancellation else None)
                event.clear()
        except BaseException:
            self._give_up(waiter, CANCELLED)
            raise
        finally:
            if unsubscribe is not None:
                unsubscribe()
        return self._outcome(waiter, cancellation)

    async def aenter(self, key: str = "", cancellation: Cancellation | None = None) -> bool:
        """`enter` for coroutines: waits on the event loop, no thread parked."""
        loop = asyncio.get_running_loop()
        event = asyncio.Event()

        def wake() -> None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits now
                loop.call_soon_threadsafe(event.set)

        waiter = self._enqueue(key, wake)
        if waiter is None:
            return True
        unsubscribe = cancellation.on_cancel(lambda _: wake()) if cancellation else None
        try:
            while not waiter.granted and not (cancellation and cancellation.stopped):
                event.clear()
                if waiter.granted:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(),
                                           cancellation.remaining() if cancellation else None)
        except BaseException:  # the task was cancelled while queued: its client is gone
            self._give_up(waiter, CANCELLED)
            raise
        finally:
            if unsubscribe is not None:
                unsubscribe()
        return self._outcome(waiter, cancellation)

    def leave(self, service_s: float | None = None) -> None:
        """Give the slot back (to the next waiter, by the policy); `service_s` is how long it
        was held, for the Retry-After estimate (None: a probe, not counted)."""
        with self._cond:
            if service_s is not None:
                self._services.append(service_s)
            nxt = self._policy.pop()
            if nxt is None:
                self._active -= 1
            else:
                nxt.granted = True
                self._admitted += 1
            self._cond.notify_all()
        if nxt is not None:
            nxt.wake()
