"""InProcessRunner: background jobs on a thread pool, periodic jobs from one scheduler thread,
job state in the database.

- Submitted jobs run on `workers` threads; each gets a row in `jobs` (state, progress,
  result or error) written as it moves, progress at most every `progress_every_s`.
- Periodic jobs (`schedule`, see cerebra.jobs.periodic) run on a small pool of their own,
  started by one scheduler thread for all of them; one row each in `job_schedules`.
- While it has jobs queued or running, the scheduler refreshes their heartbeat every
  `heartbeat_s`. On start (and every `stale_after_s`) rows left queued or running by a
  runner that is gone (a dead pid on this host, or no heartbeat for `stale_after_s`) become
  failed with INTERRUPTED — except jobs of a kind registered `resumable=True`: registering
  the kind here claims them and runs them again (attempt + 1, `ctx.resumed`); one whose
  kind nobody here registers by the next recovery pass is failed too. Closing the runner
  stops such a job at its next check and leaves it queued (not cancelled) for the next
  runner to resume: a graceful restart loses no resumable job either.
- With the heartbeat it also cancels its jobs whose row another process flagged
  (`cerebra jobs cancel`: SQLJobStore.cancel_from_outside).
- `clock` (monotonic seconds) drives scheduling; with `scheduler=False` nothing runs a
  periodic job but `run_due()`, so tests move time by hand.

Without an engine the state lives in this process only (MemoryJobStore): for helpers
used on their own, such as a HealthMonitor built without a runner.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import math
import os
import socket
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from cerebra.db.schema import DEFAULT_TENANT
from cerebra.errors import CerebraError, InvalidInput, NotFound
from cerebra.jobs.base import JobCancelled, JobFn, JobInfo, JobState
from cerebra.jobs.context import (
    Context,
    celery_owned,
    check_name,
    describe,
    pid_alive,
    stored_result,
)
from cerebra.jobs.periodic import Periodic, PeriodicJobs
from cerebra.jobs.store import JobStore, MemoryJobStore, Orphan, SQLJobStore, jsonable

if TYPE_CHECKING:
    from sqlalchemy import Engine

log = logging.getLogger("cerebra.jobs")


@dataclass
class _Live:
    """A submitted job while it is queued or running."""

    info: JobInfo
    ctx: Context
    fn: JobFn
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    written_at: float = -math.inf
    resumable: bool = False  # closing the runner parks it (queued) for the next runner
    cancelled: bool = False  # cancel() asked it to stop: never parked


class InProcessRunner(PeriodicJobs):
    """A JobRunner in this process (see the module docstring)."""

    def __init__(self, engine: Engine | None = None, *, workers: int = 4,
                 periodic_workers: int = 4, clock: Callable[[], float] = time.monotonic,
                 scheduler: bool = True, record_every_s: float = 5.0,
                 progress_every_s: float = 0.5, heartbeat_s: float = 10.0,
                 stale_after_s: float = 60.0, tenant_id: str = DEFAULT_TENANT,
                 keep_recent: int = 1000) -> None:
        if workers < 1 or periodic_workers < 1:
            raise InvalidInput("a runner needs at least one worker of each kind",
                               field="workers")
        if not heartbeat_s > 0 or not stale_after_s > heartbeat_s:
            raise InvalidInput("stale_after_s must exceed heartbeat_s > 0",
                               field="stale_after_s")
        self.store: JobStore = MemoryJobStore() if engine is None else SQLJobStore(engine)
        self.host, self.pid = socket.gethostname(), os.getpid()
        self.owner = f"{self.host}:{self.pid}:{uuid.uuid4().hex[:8]}"
        self.clock = clock
        self.record_every_s, self.progress_every_s = record_every_s, progress_every_s
        self.heartbeat_s, self.stale_after_s = heartbeat_s, stale_after_s
        self.tenant_id = tenant_id
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="cerebra-job")
        self._cond = threading.Condition()
        self._periodic = Periodic(self.store, owner=self.owner, tenant_id=tenant_id,
                                  workers=periodic_workers, clock=clock,
                                  record_every_s=record_every_s, cond=self._cond)
        self._live: dict[str, _Live] = {}
        self._recent: OrderedDict[str, JobInfo] = OrderedDict()  # finished here, newest last
        self._keep_recent = keep_recent
        self._unsaved: dict[str, dict[str, Any]] = {}  # final states the database refused
        self._kinds: dict[str, JobFn] = {}
        self._resumable: set[str] = set()
        self.resumed: builtins.list[str] = []  # ids of interrupted jobs this runner took over
        self._closed = False
        self._beat_at = self._recover_at = clock()
        self.interrupted = self._recover(initial=True)
        self._thread: threading.Thread | None = None
        if scheduler:
            self._thread = threading.Thread(target=self._loop, name="cerebra-scheduler",
                                            daemon=True)
            self._thread.start()

    # -- submitted jobs -------------------------------------------------------------------
    def register(self, kind: str, fn: JobFn, *, resumable: bool = False) -> None:
        if not callable(fn):
            raise InvalidInput("a job kind needs a callable", field="fn")
        self._kinds[check_name(kind)] = fn
        if resumable:
            self._resumable.add(kind)
            self._recover(initial=True)  # take over this kind's interrupted jobs
        else:
            self._resumable.discard(kind)

    def submit(self, name: str, fn: JobFn | str, args: Sequence[Any] = (),
               kwargs: Mapping[str, Any] | None = None, *,
               tenant_id: str = DEFAULT_TENANT) -> str:
        check_name(name)
        payload: dict[str, Any] | None = None
        if isinstance(fn, str):
            if fn not in self._kinds:
                raise NotFound(f"no job kind {fn!r}; known: {', '.join(sorted(self._kinds))}",
                               field="kind")
            kind, target = fn, self._kinds[fn]
            try:  # what a later runner needs to resume it
                payload = {"args": jsonable(list(args)), "kwargs": jsonable(dict(kwargs or {}))}
            except (TypeError, ValueError):
                payload = None
        elif callable(fn):
            kind = f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', 'job')}"[:200]
            target = fn
        else:
            raise InvalidInput("a job is a function or a registered kind", field="fn")
        job_id = uuid.uuid4().hex
        info = JobInfo(job_id, name, kind, "queued", 0.0, "", None, None, tenant_id,
                       time.time(), None, None)
        ctx = Context(job_id, name, lambda f, m, x: self._progress(job_id, f, m, x))
        with self._cond:
            if self._closed:
                raise CerebraError("the job runner is closed")
            resumable = payload is not None and kind in self._resumable
            self.store.insert(info, self.owner, payload=payload, resumable=resumable)
            self._live[job_id] = _Live(info, ctx, target, tuple(args), dict(kwargs or {}),
                                       resumable=resumable)
        self._pool.submit(self._execute, job_id)
        return job_id

    def _requeue(self, row: dict[str, Any]) -> None:
        """Run a claimed interrupted job again, with its stored arguments."""
        payload = row.get("payload") or {}
        info = JobInfo(row["id"], row["name"], row["kind"], "queued", row["progress"],
                       row["message"], None, None, row["tenant_id"], row["created_at"], None,
                       None, row["attempt"], row["metrics"])
        job_id = info.id
        ctx = Context(job_id, info.name, lambda f, m, x: self._progress(job_id, f, m, x),
                      attempt=info.attempt)
        with self._cond:
            self._live[job_id] = _Live(info, ctx, self._kinds[info.kind],
                                       tuple(payload.get("args", ())),
                                       dict(payload.get("kwargs", {})), resumable=True)
        self.resumed.append(job_id)
        self._pool.submit(self._execute, job_id)

    def _execute(self, job_id: str) -> None:
        with self._cond:
            live = self._live.get(job_id)
            if live is None or live.info.state != "queued":
                return  # cancelled while queued
            live.info = replace(live.info, state="running", started_at=time.time())
        self._write(job_id, state="running", started_at=live.info.started_at)
        state: JobState = "succeeded"
        result: Any = None
        error: str | None = None
        try:
            result = live.fn(live.ctx, *live.args, **live.kwargs)
        except JobCancelled:
            state = "cancelled"
        except Exception as exc:  # the job's failure is its outcome, never the runner's
            state, error = "failed", describe(exc)
            log.warning("job %s (%s) failed: %s", live.info.name, job_id, error)
        if state == "succeeded" and live.ctx.cancelled:
            state, result = "cancelled", None  # stopped early: what it returned is partial
        if state == "cancelled" and self._parks(live):
            self._park(live)
            return
        result = stored_result(result)
        with self._cond:
            progress = 1.0 if state == "succeeded" else live.info.progress
            final = replace(live.info, state=state, result=result, error=error,
                            progress=progress, finished_at=time.time())
        self._finish(final)

    def _parks(self, live: _Live) -> bool:
        """A resumable job stopped by closing the runner (not by cancel) waits, queued, for
        the next runner, which resumes it from its checkpoint."""
        with self._cond:
            return self._closed and live.resumable and not live.cancelled

    def _park(self, live: _Live) -> None:
        with self._cond:
            info = live.info
        self._write(info.id, state="queued", progress=info.progress, message=info.message,
                    metrics=info.metrics)
        with self._cond:
            self._live.pop(info.id, None)
            self._cond.notify_all()

    def _finish(self, final: JobInfo) -> None:
        values = {"state": final.state, "result": final.result, "error": final.error,
                  "progress": final.progress, "message": final.message,
                  "metrics": final.metrics, "finished_at": final.finished_at}
        if not self._write(final.id, **values):
            with self._cond:
                self._unsaved[final.id] = values
        with self._cond:
            self._live.pop(final.id, None)
            self._recent[final.id] = final
            while len(self._recent) > self._keep_recent:
                self._recent.popitem(last=False)
            self._cond.notify_all()

    def _write(self, job_id: str, **values: Any) -> bool:
        try:
            self.store.update(job_id, **values)
            return True
        except Exception:
            log.exception("job %s: writing its state failed", job_id)
            return False

    def _progress(self, job_id: str, fraction: float, message: str,
                  metrics: dict[str, Any] | None = None) -> None:
        now = self.clock()
        with self._cond:
            live = self._live.get(job_id)
            if live is None:
                return
            metrics = live.info.metrics if metrics is None else metrics
            live.info = replace(live.info, progress=fraction, message=message, metrics=metrics)
            due = now - live.written_at >= self.progress_every_s or fraction >= 1.0
            if due:
                live.written_at = now
        if due:
            self._write(job_id, progress=fraction, message=message, metrics=metrics)

    def status(self, job_id: str) -> JobInfo:
        with self._cond:
            found = self._live.get(job_id)
            info = found.info if found is not None else self._recent.get(job_id)
        if info is None:
            info = self.store.get(job_id) if isinstance(job_id, str) else None
        if info is None:
            raise NotFound(f"no job with id {job_id!r}", field="job_id")
        return info

    def cancel(self, job_id: str) -> bool:
        with self._cond:
            live = self._live.get(job_id)
            if live is not None:
                live.cancelled = True
            if live is not None and live.info.state == "running":
                live.ctx.cancel()
                return True
            if live is not None:  # queued: it never runs (the worker sees the new state)
                live.ctx.cancel()
                final = live.info = replace(live.info, state="cancelled",
                                            finished_at=time.time())
        if live is None:
            self.status(job_id)  # NotFound for an unknown id
            return False
        self._finish(final)
        return True

    def join(self, job_id: str, timeout: float | None = None) -> JobInfo:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            ours = self._cond.wait_for(lambda: job_id not in self._live, timeout)
        if not ours:
            raise TimeoutError(f"job {job_id} still running after {timeout:g} s")
        info = self.status(job_id)
        while not info.done:  # another process's job: watch its row
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"job {job_id} still running after {timeout:g} s")
            time.sleep(0.2)
            info = self.status(job_id)
        return info

    async def ajoin(self, job_id: str, timeout: float | None = None) -> JobInfo:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            info = self.status(job_id)
            if info.done:
                return info
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"job {job_id} still running after {timeout:g} s")
            await asyncio.sleep(0.02 if job_id in self._live else 0.2)

    def list(self, *, state: JobState | None = None, name: str | None = None,
             tenant_id: str | None = None, limit: int = 100) -> builtins.list[JobInfo]:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidInput("limit must be a positive integer", field="limit")
        found = self.store.list(state=state, name=name, tenant_id=tenant_id, limit=limit)
        with self._cond:  # a live job's progress is newer here than in its row
            return [self._live[j.id].info if j.id in self._live else j for j in found]

    # -- upkeep ---------------------------------------------------------------------------
    def _gone(self, owner: str) -> bool:
        parts = owner.rsplit(":", 2)  # host:pid:runner
        if len(parts) != 3 or not parts[1].isdigit():
            return False
        host, pid = parts[0], int(parts[1])
        return host == self.host and pid != self.pid and not pid_alive(pid)

    def _recover(self, initial: bool = False) -> int:
        """Resume the interrupted jobs of kinds registered resumable here, fail the others
        (a resumable one waits for a registration until the next pass after start); the
        number failed."""
        now = time.time()
        try:
            orphans = self.store.interrupted(self.owner, now, self.stale_after_s, self._gone)
            failed: builtins.list[str] = []
            for orphan in orphans:
                if celery_owned(orphan.owner):
                    continue  # a Celery worker's job: the Celery runner recovers it
                if orphan.resumable and orphan.kind in self._resumable and not self._closed:
                    self._take_over(orphan, now)
                elif not (orphan.resumable and initial):
                    failed.append(orphan.id)
            n = self.store.fail(failed, now)
        except Exception:
            log.exception("job runner: recovering interrupted jobs")
            return 0
        if n:
            log.warning("job runner: %d job(s) of a process that ended marked failed "
                        "(interrupted)", n)
        return n

    def _take_over(self, orphan: Orphan, now: float) -> None:
        row = self.store.claim(orphan, self.owner, now)
        if row is not None:
            log.warning("job runner: resuming interrupted job %s (%s), attempt %d",
                        row["name"], row["id"], row["attempt"])
            self._requeue(row)

    def _maintain(self) -> None:
        """Heartbeat of this runner's active jobs, retried writes, interrupted jobs."""
        now = self.clock()
        if now - self._beat_at >= self.heartbeat_s:
            self._beat_at = now
            with self._cond:
                active, unsaved = bool(self._live), dict(self._unsaved)
            try:
                if active:
                    self.store.heartbeat(self.owner, time.time())
                    self._cancel_flagged()
                for job_id, values in unsaved.items():
                    self.store.update(job_id, **values)
                    with self._cond:
                        self._unsaved.pop(job_id, None)
            except Exception:
                log.exception("job runner: heartbeat failed")
        if now - self._recover_at >= self.stale_after_s:
            self._recover_at = now
            self._recover()

    def _cancel_flagged(self) -> None:
        """Cancel the live jobs another process asked to stop (`cerebra jobs cancel`)."""
        if not isinstance(self.store, SQLJobStore):
            return
        with self._cond:
            ids = builtins.list(self._live)
        for job_id in self.store.flagged(ids):
            self.cancel(job_id)

    def _loop(self) -> None:
        while True:
            try:
                self._periodic.launch_due()
            except RuntimeError:  # the interpreter is shutting down: no new threads
                return
            self._maintain()
            with self._cond:
                if self._closed:
                    return
                beat = self._beat_at + self.heartbeat_s - self.clock()
                due = self._periodic.next_wait()
                self._cond.wait(max(0.001, beat if due is None else min(due, beat)))
                if self._closed:
                    return

    def close(self, timeout: float = 10.0) -> None:
        with self._cond:
            if self._closed:
                return
            self._closed = True
            queued = [j for j in self._live.values() if j.info.state == "queued"]
            for job in self._live.values():
                job.ctx.cancel()
            self._cond.notify_all()
        for job in queued:
            if self._parks(job):
                self._park(job)  # the next runner resumes it
            else:
                self.cancel(job.info.id)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        stopped = self._periodic.close(timeout)
        with self._cond:
            done = self._cond.wait_for(lambda: not self._live, timeout)
            names = [j.info.name for j in self._live.values()]
        if not (done and stopped):
            log.warning("job runner closed with jobs still running: %s",
                        ", ".join(names) or "(periodic)")
        self._pool.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> InProcessRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
