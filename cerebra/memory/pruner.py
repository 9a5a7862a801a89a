"""The background pruner: a prune function run now and then every `interval` seconds, as a
periodic job of a JobRunner (the runtime's, or a private one when none is given).

Each run's outcome is kept here too (`runs`, `deleted`, `last_deleted`, `last_run`,
`last_error`) so callers and the dashboard can see it; a failing run is recorded (and in
the runner's schedule row) and retried at the next interval, never raised. `stop()` ends
the schedule (waiting for a run in progress) and closes a private runner.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cerebra.jobs.base import JobContext, JobRunner


class Pruner:
    """Handle of a running pruning job."""

    def __init__(self, job: Callable[[], int], *, interval: float,
                 runner: JobRunner | None = None, name: str = "memory-prune") -> None:
        self._job = job
        self.interval = interval
        self.name = name
        self._runner = runner
        self._own = runner is None
        self._scheduled = False
        self.runs = 0
        self.deleted = 0
        self.last_deleted = 0
        self.last_run: float | None = None
        self.last_error: str | None = None
        self._ran = threading.Condition()

    def start(self) -> Pruner:
        if self._runner is None:
            from cerebra.jobs.inprocess import InProcessRunner

            self._runner = InProcessRunner(workers=1, periodic_workers=1)
        self._runner.schedule(self.name, self._run, self.interval, run_now=True)
        self._scheduled = True
        return self

    def _run(self, ctx: JobContext) -> int:
        try:
            n = self._job()
        except Exception as exc:  # recorded here and by the runner, retried next interval
            self.last_error = f"{type(exc).__name__}: {exc}"
            raise
        else:
            self.last_deleted, self.last_error = n, None
            self.deleted += n
            return n
        finally:
            with self._ran:
                self.runs += 1
                self.last_run = time.time()
                self._ran.notify_all()

    def wait_for_runs(self, n: int, timeout: float = 10.0) -> bool:
        """Block until at least `n` runs have finished (for tests and shutdown hooks)."""
        with self._ran:
            return self._ran.wait_for(lambda: self.runs >= n, timeout)

    @property
    def running(self) -> bool:
        return self._scheduled

    def stop(self, timeout: float = 10.0) -> None:
        if self._runner is None or not self._scheduled:
            return
        self._scheduled = False
        self._runner.unschedule(self.name, timeout)
        if self._own:
            self._runner.close(timeout)
