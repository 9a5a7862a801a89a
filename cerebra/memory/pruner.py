"""The background pruner: runs a prune function now and then every `interval` seconds.

A daemon thread with a stop handle (`stop()` wakes it and waits for it to end); each run's
outcome is kept (`runs`, `last_deleted`, `last_error`) so callers and the dashboard can
see it. A failing run is recorded and retried at the next interval, never raised.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class Pruner:
    """Handle of a running pruning job."""

    def __init__(self, job: Callable[[], int], *, interval: float) -> None:
        self._job = job
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="cerebra-pruner", daemon=True)
        self.runs = 0
        self.deleted = 0
        self.last_deleted = 0
        self.last_run: float | None = None
        self.last_error: str | None = None
        self._ran = threading.Condition()

    def start(self) -> Pruner:
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                n = self._job()
                self.last_deleted, self.last_error = n, None
                self.deleted += n
            except Exception as exc:  # recorded, retried at the next interval
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("memory pruning failed: %s", self.last_error)
            with self._ran:
                self.runs += 1
                self.last_run = time.time()
                self._ran.notify_all()
            self._stop.wait(self.interval)

    def wait_for_runs(self, n: int, timeout: float = 10.0) -> bool:
        """Block until at least `n` runs have finished (for tests and shutdown hooks)."""
        with self._ran:
            return self._ran.wait_for(lambda: self.runs >= n, timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)
