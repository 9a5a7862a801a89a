"""A bounded hand-off from logging handlers to one background thread that works in batches.

A handler's `emit` must cost next to nothing and must never block the code that logs:
`submit()` is a length check and a deque append; past `max_items` waiting, a record is
dropped and counted (a log flood costs memory up to the bound, never more). The thread wakes
every `interval_s` (or when a batch fills, or on `flush()`), and hands what waits to
`handle` in batches. Records logged *by that thread* (while `handle` writes) are refused by
the handlers (`on_worker_thread()`): a failing write that logs must not feed itself.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

log = logging.getLogger("cerebra.logs")

T = TypeVar("T")


@dataclass(frozen=True)
class DrainStats:
    handled: int  # items handed to `handle` that it took
    failed: int  # items in batches `handle` raised on (lost: logs are not spilled)
    dropped: int  # items refused because `max_items` were already waiting
    waiting: int


class BoundedDrain(Generic[T]):
    """`submit()` from any thread; one daemon thread (started on first use) drains."""

    def __init__(self, handle: Callable[[list[T]], None], *, name: str,
                 max_items: int = 10_000, batch_size: int = 500,
                 interval_s: float = 0.2) -> None:
        self._handle = handle
        self._name = name
        self._max = max(1, max_items)
        self._batch = max(1, batch_size)
        self._interval_s = interval_s
        self._items: collections.deque[T | threading.Event] = collections.deque()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._ident: int | None = None
        self._closed = False
        self._handled = self._failed = self._dropped = 0

    # -- the callers' side ------------------------------------------------------------------
    def submit(self, item: T) -> bool:
        """Queue `item`; False (counted as dropped) when closed or full."""
        if self._closed or len(self._items) >= self._max:
            self._dropped += 1  # approximate under contention; a counter, not an invariant
            return False
        self._items.append(item)
        if self._thread is None:
            self._start()
        elif len(self._items) >= self._batch:
            self._wake.set()
        return True

    def on_worker_thread(self) -> bool:
        return threading.get_ident() == self._ident

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything submitted before the call is handled; False on timeout."""
        if self._thread is None or self.on_worker_thread():
            return True
        marker = threading.Event()
        self._items.append(marker)
        self._wake.set()
        return marker.wait(timeout)

    def close(self, timeout: float = 10.0) -> None:
        self.flush(timeout)
        self._closed = True
        thread = self._thread
        if thread is not None:
            self._wake.set()
            thread.join(timeout)

    def stats(self) -> DrainStats:
        waiting = sum(1 for i in list(self._items) if not isinstance(i, threading.Event))
        return DrainStats(self._handled, self._failed, self._dropped, waiting)

    # -- the worker -------------------------------------------------------------------------
    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                thread.start()
                self._thread = thread

    def _run(self) -> None:
        self._ident = threading.get_ident()
        while True:
            self._wake.wait(self._interval_s)
            self._wake.clear()
            self._drain()
            if self._closed:
                self._drain()
                return

    def _drain(self) -> None:
        while self._items:
            batch: list[T] = []
            marker: threading.Event | None = None
            while self._items and len(batch) < self._batch:
                item = self._items.popleft()
                if isinstance(item, threading.Event):
                    marker = item
                    break
                batch.append(item)
            if batch:
                try:
                    self._handle(batch)
                except Exception:  # a broken database must not stop the thread
                    self._failed += len(batch)
                    log.exception("%s: %d log records not kept", self._name, len(batch))
                else:
                    self._handled += len(batch)
            if marker is not None:
                marker.set()
