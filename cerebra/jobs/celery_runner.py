"""CeleryRunner: a JobRunner whose submitted jobs run on Celery workers (Redis broker), with
job state in the database (the same `jobs` table as the in-process runner).

- `submit` writes the row (owner BROKER, payload = target `module:function` + JSON
  arguments) and sends the job's id; a worker (cerebra.jobs.celery_worker) runs it. Jobs
  must be module-level functions the worker can import; `register(kind, fn)` names them.
- `status`, `list`, `join` and `ajoin` read the row; `cancel` marks a queued job cancelled
  (the worker then skips it) or raises the row's cancel flag, which the running job's
  context polls — cancel lands mid-step.
- Restart never loses a job: on start and every `stale_after_s`, running jobs whose worker
  is gone (a dead pid on this host, or no heartbeat for `stale_after_s`) are re-sent when
  their kind was registered `resumable=True` (attempt + 1: the function resumes from its
  checkpoint), else marked failed with INTERRUPTED. Only Celery workers' jobs: in-process
  runners on the same database recover their own. A worker stopped gracefully parks its
  resumable jobs itself (cerebra.jobs.celery_worker).
- Periodic jobs (`schedule`) run in this process, exactly as on the in-process runner
  (cerebra.jobs.periodic): they are the server's upkeep and may be closures.
- `close` stops scheduling and, with `cancel_on_close` (the protocol's default), cancels
  the jobs this runner submitted that are still active and waits for them.
"""

from __future__ import annotations

import asyncio
import builtins
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from cerebra.db.schema import DEFAULT_TENANT
from cerebra.errors import CerebraError, InvalidInput, NotFound
from cerebra.jobs.base import TERMINAL, JobFn, JobInfo, JobState
from cerebra.jobs.celery_worker import DEFAULT_QUEUE, TASK, make_app, target_of
from cerebra.jobs.context import celery_owned, check_name, owner_gone, owner_name
from cerebra.jobs.periodic import Periodic, PeriodicJobs
from cerebra.jobs.store import BROKER, SQLJobStore

if TYPE_CHECKING:
    from celery import Celery
    from sqlalchemy import Engine

log = logging.getLogger("cerebra.jobs")


class CeleryRunner(PeriodicJobs):
    """A JobRunner on Celery workers (see the module docstring)."""

    def __init__(self, engine: Engine, broker_url: str, *, queue: str = DEFAULT_QUEUE,
                 app: Celery | None = None, clock: Callable[[], float] = time.monotonic,
                 scheduler: bool = True, periodic_workers: int = 4,
                 record_every_s: float = 5.0, poll_s: float = 0.05,
                 stale_after_s: float = 60.0, tenant_id: str = DEFAULT_TENANT,
                 cancel_on_close: bool = True) -> None:
        if not poll_s > 0 or not stale_after_s > 0:
            raise InvalidInput("poll_s and stale_after_s must be positive",
                               field="stale_after_s")
        self.store = SQLJobStore(engine)
        self.app = app if app is not None else make_app(broker_url, queue=queue)
        self.queue = queue
        self.owner = owner_name(f"celery-runner-{uuid.uuid4().hex[:8]}")
        self.clock, self.poll_s, self.stale_after_s = clock, poll_s, stale_after_s
        self.cancel_on_close = cancel_on_close
        self._cond = threading.Condition()
        self._periodic = Periodic(self.store, owner=self.owner, tenant_id=tenant_id,
                                  workers=periodic_workers, clock=clock,
                                  record_every_s=record_every_s, cond=self._cond)
        self._kinds: dict[str, tuple[str, bool]] = {}  # kind -> (target, resumable)
        self._mine: set[str] = set()  # ids submitted here, for close()
        self._closed = False
        self.resumed: builtins.list[str] = []
        self._recover_at = clock()
        self.interrupted = self.recover()
        self._thread: threading.Thread | None = None
        if scheduler:
            self._thread = threading.Thread(target=self._loop, name="cerebra-celery-scheduler",
                                            daemon=True)
            self._thread.start()

    # -- submitted jobs -------------------------------------------------------------------
    def register(self, kind: str, fn: JobFn, *, resumable: bool = False) -> None:
        if not callable(fn):
            raise InvalidInput("a job kind needs a callable", field="fn")
        self._kinds[check_name(kind)] = (target_of(fn), bool(resumable))

    def submit(self, name: str, fn: JobFn | str, args: Sequence[Any] = (),
               kwargs: Mapping[str, Any] | None = None, *,
               tenant_id: str = DEFAULT_TENANT) -> str:
        check_name(name)
        if isinstance(fn, str):
            if fn not in self._kinds:
                raise NotFound(f"no job kind {fn!r}; known: {', '.join(sorted(self._kinds))}",
                               field="kind")
            kind, (target, resumable) = fn, self._kinds[fn]
        elif callable(fn):
            target, resumable = target_of(fn), False
            kind = target.replace(":", ".")[:200]
        else:
            raise InvalidInput("a job is a function or a registered kind", field="fn")
        try:
            payload = {"target": target, "args": json.loads(json.dumps(list(args))),
                       "kwargs": json.loads(json.dumps(dict(kwargs or {})))}
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"a Celery job's arguments must be JSON: {exc}",
                               field="args") from exc
        job_id = uuid.uuid4().hex
        info = JobInfo(job_id, name, kind, "queued", 0.0, "", None, None, tenant_id,
                       time.time(), None, None)
        with self._cond:
            if self._closed:
                raise CerebraError("the job runner is closed")
            self.store.insert(info, BROKER, payload=payload, resumable=resumable)
            self._mine.add(job_id)
        self._send(job_id, 0)
        return job_id

    def _send(self, job_id: str, attempt: int) -> None:
        try:
            self.app.send_task(TASK, args=[job_id, attempt], queue=self.queue)
        except Exception as exc:
            self.store.transition(job_id, ("queued",), state="failed", finished_at=time.time(),
                                  error=f"the job could not be queued: {exc}")
            raise CerebraError(f"the job broker refused the job: {exc}") from exc

    def status(self, job_id: str) -> JobInfo:
        info = self.store.get(job_id) if isinstance(job_id, str) else None
        if info is None:
            raise NotFound(f"no job with id {job_id!r}", field="job_id")
        return info

    def cancel(self, job_id: str) -> bool:
        info = self.status(job_id)
        if info.state == "queued" and self.store.transition(
                job_id, ("queued",), state="cancelled", finished_at=time.time()):
            return True
        # running: raise the flag its context polls; False when it had finished already
        return self.store.transition(job_id, ("running",), cancel_requested=True)

    def join(self, job_id: str, timeout: float | None = None) -> JobInfo:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            info = self.status(job_id)
            if info.done:
                return info
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"job {job_id} still running after {timeout:g} s")
            time.sleep(self.poll_s)

    async def ajoin(self, job_id: str, timeout: float | None = None) -> JobInfo:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            info = await asyncio.to_thread(self.status, job_id)
            if info.done:
                return info
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"job {job_id} still running after {timeout:g} s")
            await asyncio.sleep(self.poll_s)

    def list(self, *, state: JobState | None = None, name: str | None = None,
             tenant_id: str | None = None, limit: int = 100) -> builtins.list[JobInfo]:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidInput("limit must be a positive integer", field="limit")
        return self.store.list(state=state, name=name, tenant_id=tenant_id, limit=limit)

    # -- recovery -------------------------------------------------------------------------
    def recover(self) -> int:
        """Re-send the resumable jobs of workers that are gone, fail the others; the
        number failed."""
        now = time.time()
        try:
            failed: builtins.list[str] = []
            for orphan in self.store.interrupted(self.owner, now, self.stale_after_s,
                                                 owner_gone):
                if not celery_owned(orphan.owner):
                    continue  # an in-process runner's job: its own runner recovers it
                row = self.store.claim(orphan, BROKER, now) if orphan.resumable else None
                if row is None:
                    failed.append(orphan.id)
                    continue
                log.warning("job runner: resuming interrupted job %s (%s), attempt %d",
                            row["name"], row["id"], row["attempt"])
                self.resumed.append(row["id"])
                self._send(row["id"], int(row["attempt"]))
            n = self.store.fail(failed, now)
        except Exception:
            log.exception("job runner: recovering interrupted jobs")
            return 0
        if n:
            log.warning("job runner: %d job(s) of a worker that ended marked failed "
                        "(interrupted)", n)
        return n

    def _maintain(self) -> None:
        now = self.clock()
        if now - self._recover_at >= self.stale_after_s:
            self._recover_at = now
            self.recover()

    def _loop(self) -> None:
        while True:
            try:
                self._periodic.launch_due()
            except RuntimeError:  # the interpreter is shutting down
                return
            self._maintain()
            with self._cond:
                if self._closed:
                    return
                due = self._periodic.next_wait()
                until_recover = self._recover_at + self.stale_after_s - self.clock()
                self._cond.wait(max(0.001, until_recover if due is None
                                    else min(due, until_recover)))
                if self._closed:
                    return

    def close(self, timeout: float = 10.0) -> None:
        with self._cond:
            if self._closed:
                return
            self._closed = True
            mine = builtins.list(self._mine)
            self._cond.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self._periodic.close(timeout)
        if self.cancel_on_close:
            active = [j for j in mine if self.status(j).state not in TERMINAL]
            for job_id in active:
                self.cancel(job_id)
            deadline = time.monotonic() + timeout
            for job_id in active:
                try:
                    self.join(job_id, timeout=max(0.0, deadline - time.monotonic()))
                except TimeoutError:
                    log.warning("job runner closed with job %s still running", job_id)

    def __enter__(self) -> CeleryRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
