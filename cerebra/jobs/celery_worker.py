"""The Celery side of CeleryRunner: the app, the one task that runs a job from its row, and
the worker's entry point.

A message carries only a job id and its attempt; everything else is in the `jobs` row (the
target `module:function`, arguments, tenant). The worker takes the row (queued -> running,
owner = this process), runs the function with a JobContext whose progress goes to the row
and whose `cancelled` follows the row's `cancel_requested` (polled every `poll_s`, so a
cancel lands mid-step), refreshes the heartbeat every `heartbeat_s`, and writes the outcome.
Messages are acknowledged on receipt: a worker killed mid-job leaves a `running` row with a
dead owner, which a runner's recovery resumes (resumable kinds) or marks failed. A worker
stopped gracefully (SIGTERM) asks its running jobs to stop; a resumable one is parked —
queued again, attempt + 1, its message re-sent — for another worker to resume.

Run a worker: `python -m cerebra.jobs.celery_worker --broker redis://... --database URL`
(or `celery -A cerebra.jobs.celery_worker:app_from_env worker` with CEREBRA_JOBS_BROKER_URL
and CEREBRA_JOBS_DATABASE_URL set). Celery is imported only when an app is made.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from cerebra.errors import InvalidInput
from cerebra.jobs.base import JobCancelled, JobFn, JobState
from cerebra.jobs.context import WORKER_TAG, Context, describe, owner_name, stored_result
from cerebra.jobs.store import SQLJobStore

if TYPE_CHECKING:
    from celery import Celery

log = logging.getLogger("cerebra.jobs")

TASK = "cerebra.jobs.run"
DEFAULT_QUEUE = "cerebra-jobs"

_running: dict[str, Context] = {}  # the jobs this worker process runs now
_running_lock = threading.Lock()
_stopping = threading.Event()  # the worker is shutting down: resumable jobs are parked


def stop_running_jobs(**_: Any) -> None:
    """Celery's `worker_shutting_down`: ask every running job to stop at its next check."""
    _stopping.set()
    with _running_lock:
        for ctx in _running.values():
            ctx.cancel()


def target_of(fn: JobFn) -> str:
    """`module:qualname` of an importable module-level function (what a worker imports)."""
    module, qualname = getattr(fn, "__module__", None), getattr(fn, "__qualname__", "")
    if not module or not qualname or "<" in qualname or module == "__main__":
        raise InvalidInput("a job that runs on Celery workers must be a module-level function "
                           "(no lambda, closure or __main__ function)", field="fn")
    if resolve(f"{module}:{qualname}") is not fn:
        raise InvalidInput(f"{module}:{qualname} does not import as this function", field="fn")
    return f"{module}:{qualname}"


def resolve(target: str) -> JobFn:
    module, _, qualname = target.partition(":")
    found: Any = importlib.import_module(module)
    for part in qualname.split("."):
        found = getattr(found, part)
    if not callable(found):
        raise InvalidInput(f"{target} is not callable", field="fn")
    return found


class _Watch(threading.Thread):
    """While a job runs: the cancel flag, the heartbeat and throttled progress writes."""

    def __init__(self, store: SQLJobStore, job_id: str, owner: str, ctx: Context, *,
                 poll_s: float, heartbeat_s: float, progress_every_s: float) -> None:
        super().__init__(name=f"cerebra-watch-{job_id[:8]}", daemon=True)
        self.store, self.job_id, self.owner, self.ctx = store, job_id, owner, ctx
        self.poll_s, self.heartbeat_s, self.progress_every_s = poll_s, heartbeat_s, \
            progress_every_s
        self.done = threading.Event()
        self._lock = threading.Lock()
        self._pending: dict[str, Any] | None = None
        self._written_at = -math.inf

    def note(self, fraction: float, message: str, metrics: dict[str, Any] | None) -> None:
        values: dict[str, Any] = {"progress": fraction, "message": message}
        if metrics is not None:
            values["metrics"] = metrics
        with self._lock:
            self._pending = {**(self._pending or {}), **values}
            due = time.monotonic() - self._written_at >= self.progress_every_s
        if due:
            self.flush()

    def flush(self) -> dict[str, Any]:
        with self._lock:
            values, self._pending = self._pending or {}, None
            self._written_at = time.monotonic()
        if values:
            try:
                self.store.owned_update(self.job_id, self.owner, **values)
            except Exception:
                log.exception("job %s: writing its progress failed", self.job_id)
        return values

    def run(self) -> None:
        beat_at = time.monotonic()
        while not self.done.wait(self.poll_s):
            try:
                if not self.ctx.cancelled and self.store.cancel_requested(self.job_id):
                    self.ctx.cancel()
                if time.monotonic() - beat_at >= self.heartbeat_s:
                    beat_at = time.monotonic()
                    self.store.owned_update(self.job_id, self.owner, heartbeat_at=time.time())
                if self._pending is not None and (time.monotonic() - self._written_at
                                                  >= self.progress_every_s):
                    self.flush()
            except Exception:
                log.exception("job %s: watching its row failed", self.job_id)


def execute(store: SQLJobStore, job_id: str, attempt: int, *, poll_s: float = 0.1,
            heartbeat_s: float = 10.0, progress_every_s: float = 0.5,
            send: Callable[[str, int], None] | None = None) -> JobState | None:
    """Run one job from its row in this process; its final state (None: not ours to run —
    cancelled while queued, or a stale message; "queued": parked at shutdown and re-sent
    through `send`)."""
    owner = owner_name(f"{WORKER_TAG}{threading.get_ident()}")
    if _stopping.is_set() and send is not None:  # shutting down: leave it to another worker
        send(job_id, attempt)
        return None
    row = store.row(job_id)
    if row is None or not store.start(job_id, attempt, owner, time.time()):
        return None
    payload = row.get("payload") or {}
    ctx = Context(job_id, row["name"], None, attempt=attempt)
    watch = _Watch(store, job_id, owner, ctx, poll_s=poll_s, heartbeat_s=heartbeat_s,
                   progress_every_s=progress_every_s)
    ctx._on_progress = watch.note
    with _running_lock:
        _running[job_id] = ctx
        if _stopping.is_set():
            ctx.cancel()
    watch.start()
    state: JobState = "succeeded"
    result: Any = None
    error: str | None = None
    try:
        fn = resolve(str(payload.get("target", "")))
        result = fn(ctx, *payload.get("args", ()), **payload.get("kwargs", {}))
    except JobCancelled:
        state = "cancelled"
    except Exception as exc:  # the job's failure is its outcome, never the worker's
        state, error = "failed", describe(exc)
        log.warning("job %s (%s) failed: %s", row["name"], job_id, error)
    finally:
        watch.done.set()
        watch.join()
        with _running_lock:
            _running.pop(job_id, None)
    if state == "succeeded" and (ctx.cancelled or store.cancel_requested(job_id)):
        state, result = "cancelled", None
    if (state == "cancelled" and _stopping.is_set() and send is not None
            and row.get("resumable") and not store.cancel_requested(job_id)):
        return _park(store, job_id, attempt, owner, watch, send)
    final: dict[str, Any] = {"state": state, "result": stored_result(result), "error": error,
                             "finished_at": time.time(), **watch.flush()}
    if state == "succeeded":
        final["progress"] = 1.0
    store.owned_update(job_id, owner, **final)
    return state


def _park(store: SQLJobStore, job_id: str, attempt: int, owner: str, watch: _Watch,
          send: Callable[[str, int], None]) -> JobState:
    """Queue a resumable job stopped by the worker's shutdown again, for another worker."""
    from cerebra.jobs.store import BROKER

    if store.owned_update(job_id, owner, state="queued", owner=BROKER, attempt=attempt + 1,
                          **watch.flush()):
        send(job_id, attempt + 1)
        log.warning("job %s parked at shutdown; re-queued as attempt %d", job_id, attempt + 1)
    return "queued"


def make_app(broker_url: str, database_url: str | None = None, *,
             queue: str = DEFAULT_QUEUE, poll_s: float = 0.1, heartbeat_s: float = 10.0,
             progress_every_s: float = 0.5) -> Celery:
    """A Celery app with the job task; `database_url` is needed where the task runs (the
    worker), not where jobs are only submitted."""
    from celery import Celery

    app = Celery("cerebra", broker=broker_url, set_as_current=False)
    app.conf.update(
        task_default_queue=queue, task_serializer="json", accept_content=["json"],
        task_ignore_result=True, task_acks_late=False, worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True, worker_hijack_root_logger=False,
        broker_transport_options={"visibility_timeout": 365 * 24 * 3600})
    engine_holder: dict[str, SQLJobStore] = {}

    def store() -> SQLJobStore:
        if "store" not in engine_holder:
            if not database_url:
                raise InvalidInput("this Celery app has no database to run jobs against",
                                   field="database_url")
            from cerebra.db import make_engine

            engine_holder["store"] = SQLJobStore(make_engine(database_url))
        return engine_holder["store"]

    def send(job_id: str, attempt: int) -> None:
        app.send_task(TASK, args=[job_id, attempt], queue=queue)

    @app.task(name=TASK)
    def run(job_id: str, attempt: int = 0) -> None:
        execute(store(), job_id, attempt, poll_s=poll_s, heartbeat_s=heartbeat_s,
                progress_every_s=progress_every_s, send=send)

    if database_url:  # a worker's app: its shutdown parks resumable jobs
        from celery import signals

        signals.worker_shutting_down.connect(stop_running_jobs, weak=False)

    return app


def app_from_env() -> Celery:
    """`celery -A cerebra.jobs.celery_worker:app_from_env worker`: the app from
    CEREBRA_JOBS_BROKER_URL, CEREBRA_JOBS_DATABASE_URL and CEREBRA_JOBS_QUEUE."""
    return make_app(os.environ.get("CEREBRA_JOBS_BROKER_URL", "redis://127.0.0.1:6379/0"),
                    os.environ.get("CEREBRA_JOBS_DATABASE_URL"),
                    queue=os.environ.get("CEREBRA_JOBS_QUEUE", DEFAULT_QUEUE))


def run_worker(broker_url: str, database_url: str, *, queue: str = DEFAULT_QUEUE,
               concurrency: int = 2, pool: str = "threads", poll_s: float = 0.1,
               heartbeat_s: float = 10.0) -> None:
    """Run a worker in this process until it is stopped (SIGTERM: warm shutdown)."""
    app = make_app(broker_url, database_url, queue=queue, poll_s=poll_s,
                   heartbeat_s=heartbeat_s)
    app.worker_main(["worker", f"--pool={pool}", f"--concurrency={concurrency}",
                     f"--queues={queue}", "--without-gossip", "--without-mingle",
                     "--without-heartbeat", "--loglevel=WARNING"])


def main(argv: Sequence[str] | None = None,
         run: Callable[..., None] = run_worker) -> None:
    parser = argparse.ArgumentParser(prog="python -m cerebra.jobs.celery_worker",
                                     description="Run a Cerebra job worker (Celery).")
    parser.add_argument("--broker", required=True, help="redis://host:port/db")
    parser.add_argument("--database", required=True, help="the database URL of the jobs")
    parser.add_argument("--queue", default=DEFAULT_QUEUE)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--pool", choices=("threads", "solo", "prefork"), default="threads")
    parser.add_argument("--poll-s", type=float, default=0.1)
    parser.add_argument("--heartbeat-s", type=float, default=10.0)
    args = parser.parse_args(argv)
    run(args.broker, args.database, queue=args.queue, concurrency=args.concurrency,
        pool=args.pool, poll_s=args.poll_s, heartbeat_s=args.heartbeat_s)


if __name__ == "__main__":
    main()
