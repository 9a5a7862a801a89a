"""The JobRunner seam: what a background-job runner offers, whatever runs the jobs.

A job is a function `fn(ctx, *args, **kwargs)`; `ctx` (a JobContext) reports progress and
says when the job has been asked to stop (cancellation is cooperative: a running job checks
`ctx.cancelled`, or calls `ctx.check()`, which raises JobCancelled). A runner runs submitted
jobs once (queued -> running -> succeeded | failed | cancelled; the state lives in the
database) and scheduled jobs every `every_s` seconds (one run at a time per schedule; the
last run's outcome is kept per schedule, never a row per run).

Implementations: `cerebra.jobs.inprocess.InProcessRunner` (a thread pool and one scheduler
thread) and `cerebra.jobs.celery_runner.CeleryRunner` (Celery workers on Redis; job state in
the same table). Jobs given by name (`register(kind, fn)` then `submit(name, kind)`) are what
a runner on other machines can run (Celery needs importable module-level functions).

Progress is a fraction and a line (`ctx.progress`) plus structured metrics (`ctx.report(
step=, total=, loss=, eta_s=)`), both kept with the job. A kind registered `resumable=True`
survives the end of the process running it: the next runner re-queues it (`ctx.attempt` > 0,
`ctx.resumed` True) and the function resumes from its own checkpoint; any other job of a
process that ended is marked failed with INTERRUPTED.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from cerebra.db.schema import DEFAULT_TENANT
from cerebra.errors import CerebraError

JobState = Literal["queued", "running", "succeeded", "failed", "cancelled"]
STATES: tuple[JobState, ...] = ("queued", "running", "succeeded", "failed", "cancelled")
TERMINAL: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})
INTERRUPTED = "interrupted: the process running it ended before it finished"


class JobCancelled(CerebraError):
    """Raised inside a job (by `ctx.check()`) once it has been asked to stop."""

    code = "job_cancelled"


class JobContext(Protocol):
    """What a running job sees of its runner."""

    @property
    def job_id(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def cancelled(self) -> bool:
        """True once `cancel()` (or `unschedule`, or closing the runner) asked it to stop."""
        ...

    def progress(self, fraction: float, message: str = "") -> None:
        """Report how far the job is, 0..1, with an optional line for people."""
        ...

    def check(self) -> None:
        """Raise JobCancelled when the job has been asked to stop."""
        ...

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`, waking early when asked to stop; True if it was."""
        ...

    @property
    def attempt(self) -> int:
        """0 on the first run; +1 each time the job was resumed after its process ended."""
        ...

    @property
    def resumed(self) -> bool:
        """True when this run resumes an interrupted one (resume from your checkpoint)."""
        ...

    def report(self, *, step: int | None = None, total: int | None = None,
               loss: float | None = None, eta_s: float | None = None,
               message: str | None = None, **extra: float | int | str | None) -> None:
        """Structured progress (kept as the job's `metrics`); with `step` and `total` the
        fraction becomes step/total."""
        ...


JobFn = Callable[..., Any]  # fn(ctx: JobContext, *args, **kwargs) -> JSON-able result


@dataclass(frozen=True)
class JobInfo:
    """A submitted job as the runner (and its database) knows it."""

    id: str
    name: str
    kind: str
    state: JobState
    progress: float
    message: str
    result: Any
    error: str | None
    tenant_id: str
    created_at: float
    started_at: float | None
    finished_at: float | None
    attempt: int = 0
    metrics: dict[str, Any] | None = None  # the last ctx.report(): step, total, loss, eta_s

    @property
    def done(self) -> bool:
        return self.state in TERMINAL

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ScheduleInfo:
    """A periodic job: how often it runs and how its runs went (the last one in detail)."""

    name: str
    every_s: float
    runs: int
    failures: int
    running: bool
    last_started_at: float | None
    last_finished_at: float | None
    last_ok_at: float | None
    last_error: str | None
    last_result: Any
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@runtime_checkable
class JobRunner(Protocol):
    """Submit, watch, cancel and list jobs; run periodic jobs. Times are epoch seconds."""

    def register(self, kind: str, fn: JobFn, *, resumable: bool = False) -> None:
        """Name a job function, so `submit(name, kind)` (and other processes) can run it;
        `resumable`: when its process ends mid-run, the job is re-queued, not failed."""
        ...

    def submit(self, name: str, fn: JobFn | str, args: Sequence[Any] = (),
               kwargs: Mapping[str, Any] | None = None, *, tenant_id: str = DEFAULT_TENANT) -> str:
        """Queue `fn(ctx, *args, **kwargs)` (a function or a registered kind); its id."""
        ...

    def status(self, job_id: str) -> JobInfo:
        """The job's state, progress, result or error; NotFound for an unknown id."""
        ...

    def cancel(self, job_id: str) -> bool:
        """A queued job never runs; a running one is asked to stop. False when it had
        already finished."""
        ...

    def list(self, *, state: JobState | None = None, name: str | None = None,
             tenant_id: str | None = None, limit: int = 100) -> builtins.list[JobInfo]:
        """Jobs, newest first, filtered by state, name and tenant."""
        ...

    def join(self, job_id: str, timeout: float | None = None) -> JobInfo:
        """Wait until the job has finished (TimeoutError after `timeout` seconds)."""
        ...

    async def ajoin(self, job_id: str, timeout: float | None = None) -> JobInfo:
        """`join` for async callers: the event loop is not blocked."""
        ...

    def schedule(self, name: str, fn: JobFn, every_s: float, *, run_now: bool = False) -> None:
        """Run `fn(ctx)` every `every_s` seconds (first at once when `run_now`, else after
        one interval); a schedule of the same name is replaced."""
        ...

    def unschedule(self, name: str, timeout: float = 10.0) -> bool:
        """Stop a schedule; a run in progress is asked to stop and waited for up to
        `timeout` seconds. False when there was no such schedule."""
        ...

    def schedules(self) -> builtins.list[ScheduleInfo]:
        ...

    def run_due(self) -> builtins.list[str]:
        """Run the periodic jobs that are due now and wait for them; their names. The
        scheduler does this on its own; tests call it with an injected clock."""
        ...

    def close(self, timeout: float = 10.0) -> None:
        """Stop scheduling, cancel queued jobs, ask running ones to stop and wait for them
        up to `timeout` seconds. Idempotent."""
        ...
