"""One periodic job kept on a job runner — the caller's runner, or a private one made when
the job starts and closed when it stops: the start/stop that the health monitor and the
daily mission scheduler share."""

from __future__ import annotations

from collections.abc import Callable

from cerebra.jobs.base import JobFn, JobRunner


class ScheduledJob:
    """Schedules one job on `runner`, or on a runner from `make_runner` when none is given."""

    def __init__(self, runner: JobRunner | None,
                 make_runner: Callable[[], JobRunner]) -> None:
        self.runner = runner
        self.make_runner = make_runner
        self.own_runner: JobRunner | None = None  # made by start() when none was given
        self.name: str | None = None  # the schedule's name while it runs

    @property
    def running(self) -> bool:
        return self.name is not None

    def start(self, name: str, fn: JobFn, every_s: float) -> None:
        """Run `fn` now and every `every_s` seconds until `stop()`; a second start does
        nothing."""
        if self.running:
            return
        runner = self.runner
        if runner is None:
            runner = self.own_runner = self.make_runner()
        runner.schedule(name, fn, every_s, run_now=True)
        self.name = name

    def stop(self, timeout_s: float) -> None:
        """Unschedule the job (waiting up to `timeout_s` for a run in progress) and close
        the private runner, if one was made."""
        if self.name is None:
            return
        name, self.name = self.name, None
        runner = self.runner or self.own_runner
        if runner is not None:
            runner.unschedule(name, timeout_s)
        if self.own_runner is not None:
            self.own_runner.close(timeout_s)
            self.own_runner = None
