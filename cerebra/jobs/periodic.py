"""Periodic jobs of an InProcessRunner: the schedules, their runs and their rows.

Each schedule runs one run at a time on a small pool of its own (a slow run, such as a
health round waiting on a probe timeout, never holds up another schedule); the next run
is due `every_s` after the last one ended, by the runner's clock. A schedule's counters
and last outcome go to `job_schedules` (one row per schedule) when the outcome changes and
otherwise at most every `record_every_s`, so a 0.2 s exchange does not write five rows a
second. The runner's scheduler thread calls `launch_due`; tests call the runner's
`run_due`, which waits for the runs.
"""

from __future__ import annotations

import builtins
import logging
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass
from typing import Any

from cerebra.errors import CerebraError, InvalidInput
from cerebra.jobs.base import JobCancelled, JobFn, ScheduleInfo
from cerebra.jobs.context import Context, check_name, describe, stored_result
from cerebra.jobs.store import JobStore

log = logging.getLogger("cerebra.jobs")


@dataclass
class _Schedule:
    name: str
    fn: JobFn
    every_s: float
    next_due: float
    runs: int = 0
    failures: int = 0
    last_started_at: float | None = None
    last_finished_at: float | None = None
    last_ok_at: float | None = None
    last_error: str | None = None
    last_result: Any = None
    message: str = ""
    running: bool = False
    ctx: Context | None = None
    thread: threading.Thread | None = None
    written_at: float | None = None  # by the clock; None: never written
    written_error: str | None = None

    def info(self) -> ScheduleInfo:
        return ScheduleInfo(self.name, self.every_s, self.runs, self.failures, self.running,
                            self.last_started_at, self.last_finished_at, self.last_ok_at,
                            self.last_error, self.last_result, self.message)


class Periodic:
    """The schedules of one runner; `cond` is the runner's lock, notified on every change."""

    def __init__(self, store: JobStore, *, owner: str, tenant_id: str, workers: int,
                 clock: Callable[[], float], record_every_s: float,
                 cond: threading.Condition) -> None:
        self.store, self.owner, self.tenant_id = store, owner, tenant_id
        self.clock, self.record_every_s = clock, record_every_s
        self._cond = cond
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="cerebra-periodic")
        self._schedules: dict[str, _Schedule] = {}
        self.closed = False

    def add(self, name: str, fn: JobFn, every_s: float, run_now: bool) -> None:
        check_name(name)
        if (isinstance(every_s, bool) or not isinstance(every_s, int | float)
                or not 0 < every_s < math.inf):
            raise InvalidInput("every_s must be a positive number of seconds", field="every_s")
        if not callable(fn):
            raise InvalidInput("a periodic job needs a callable", field="fn")
        with self._cond:
            if self.closed:
                raise CerebraError("the job runner is closed")
            old = self._schedules.get(name)
            if old is not None and old.ctx is not None:
                old.ctx.cancel()
            first = self.clock() + (0.0 if run_now else float(every_s))
            self._schedules[name] = _Schedule(name, fn, float(every_s), first)
            self._cond.notify_all()

    def remove(self, name: str, timeout: float) -> bool:
        with self._cond:
            found = self._schedules.pop(name, None)
            if found is None:
                return False
            if found.ctx is not None:
                found.ctx.cancel()
            if found.thread is not threading.current_thread():
                self._cond.wait_for(lambda: not found.running, timeout)
        self._record(found, force=True)
        return True

    def infos(self) -> list[ScheduleInfo]:
        with self._cond:
            return [s.info() for s in self._schedules.values()]

    def next_wait(self) -> float | None:
        """Seconds until the next run is due (call under `cond`); None without schedules."""
        now = self.clock()
        waits = [s.next_due - now for s in self._schedules.values() if not s.running]
        return min(waits) if waits else None

    def launch_due(self) -> list[tuple[str, Future[None]]]:
        now = self.clock()
        with self._cond:
            if self.closed:
                return []
            due = [s for s in self._schedules.values() if not s.running and s.next_due <= now]
            for s in due:
                s.running = True
        try:
            return [(s.name, self._pool.submit(self._run, s)) for s in due]
        except RuntimeError:  # the pool is shut down (closing, or the interpreter exiting)
            with self._cond:
                for s in due:
                    s.running = False
                self._cond.notify_all()
            raise

    def _run(self, s: _Schedule) -> None:
        def note(_: float, message: str, __: Any = None) -> None:
            s.message = message

        ctx = Context(f"schedule:{s.name}", s.name, note)
        with self._cond:
            if self.closed or self._schedules.get(s.name) is not s:  # stopped meanwhile
                s.running = False
                self._cond.notify_all()
                return
            s.ctx, s.thread, s.last_started_at = ctx, threading.current_thread(), time.time()
        result: Any = None
        error: str | None = None
        try:
            result = s.fn(ctx)
        except JobCancelled:
            pass
        except Exception as exc:  # recorded; the schedule runs again next interval
            error = describe(exc)
            log.warning("scheduled job %s failed: %s", s.name, error)
        result = stored_result(result)
        with self._cond:
            s.runs += 1
            s.last_finished_at = time.time()
            if error is None:
                s.last_ok_at, s.last_result, s.last_error = s.last_finished_at, result, None
            else:
                s.failures += 1
                s.last_error = error
            s.running, s.ctx, s.thread = False, None, None
            s.next_due = self.clock() + s.every_s
            self._cond.notify_all()
        self._record(s, force=s.written_at is None or s.written_error != s.last_error)

    def _record(self, s: _Schedule, *, force: bool) -> None:
        now = self.clock()
        with self._cond:
            if not force and s.written_at is not None and now - s.written_at < self.record_every_s:
                return
            s.written_at, s.written_error = now, s.last_error
            info = s.info()
        try:
            self.store.save_schedule(self.tenant_id, info, self.owner, time.time())
        except Exception:
            log.exception("schedule %s: writing its last run failed", s.name)

    def close(self, timeout: float) -> bool:
        """Stop every schedule (runs in progress are asked to stop and waited for up to
        `timeout`), write their last state; False when some run did not stop in time."""
        with self._cond:
            self.closed = True
            schedules = list(self._schedules.values())
            self._schedules.clear()
            for s in schedules:
                if s.ctx is not None:
                    s.ctx.cancel()
            me = threading.current_thread()
            stopped = self._cond.wait_for(
                lambda: not any(s.running and s.thread is not me for s in schedules), timeout)
        for s in schedules:
            self._record(s, force=True)
        self._pool.shutdown(wait=False, cancel_futures=True)
        return stopped


class PeriodicJobs:
    """The JobRunner's periodic half for a runner holding a `Periodic` (`_periodic`) and an
    upkeep step (`_maintain`): both runners run their schedules in their own process."""

    _periodic: Periodic

    def _maintain(self) -> None:
        """The runner's own upkeep after the due runs (each runner overrides it; none
        here)."""

    def schedule(self, name: str, fn: JobFn, every_s: float, *, run_now: bool = False) -> None:
        self._periodic.add(name, fn, every_s, run_now)

    def unschedule(self, name: str, timeout: float = 10.0) -> bool:
        return self._periodic.remove(name, timeout)

    def schedules(self) -> builtins.list[ScheduleInfo]:
        return self._periodic.infos()

    def run_due(self) -> builtins.list[str]:
        started = self._periodic.launch_due()
        wait_futures([f for _, f in started])
        self._maintain()
        return [name for name, _ in started]
