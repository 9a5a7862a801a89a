"""JobRunner conformance: the in-process runner and the Celery runner (a real worker process
on a real redis-server, job state in a shared SQLite file) pass the same suite — progress
and results, failures with their error, cancelling queued and running jobs, list filters
and tenant scoping, structured progress, periodic jobs on a clock the test moves, close,
and a later runner seeing finished jobs.

Jobs are module-level functions (tests/jobs/kinds.py) so the worker imports them; a job
that must wait holds on a release file the test creates. Each test has its own tenant (the
Celery worker and its database are shared by the module). Waits are on job state with a
bound against hangs only.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from cerebra.db import make_engine, upgrade
from cerebra.errors import CerebraError, InvalidInput, NotFound
from cerebra.jobs import InProcessRunner, JobContext, JobRunner
from tests.jobs import kinds
from tests.jobs.conftest import CAPACITY, Celery
from tests.jobs.test_runner import FakeClock

HANG = 30.0  # seconds: a bound against hangs only, never a timing claim


def until(check: Callable[[], bool], what: str) -> None:
    """Poll a condition on job state (bounded against hangs)."""
    deadline = time.monotonic() + HANG
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.02)


@dataclass
class Harness:
    engine: Engine
    clock: FakeClock
    make: Callable[..., JobRunner]  # another runner on the same database
    tenant: str
    folder: Path

    def release(self, name: str = "release") -> str:
        return str(self.folder / name)

    def open(self, name: str = "release") -> None:
        Path(self.release(name)).write_text("go")


@pytest.fixture(params=["inprocess", "celery"])
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    clock = FakeClock()
    with ExitStack() as stack:
        if request.param == "inprocess":
            engine = make_engine(f"sqlite:///{tmp_path / 'jobs.db'}")
            upgrade(engine)
            stack.callback(engine.dispose)

            def make(**options: Any) -> JobRunner:
                runner = InProcessRunner(engine, clock=clock, scheduler=False,
                                         workers=CAPACITY, **options)
                stack.callback(runner.close, HANG)
                return runner
        else:
            setup: Celery = request.getfixturevalue("celery")
            engine = setup.engine
            from cerebra.jobs.celery_runner import CeleryRunner

            def make(**options: Any) -> JobRunner:
                runner = CeleryRunner(engine, setup.broker, queue=setup.queue, clock=clock,
                                      scheduler=False, poll_s=0.02, **options)
                stack.callback(runner.close, HANG)
                return runner
        yield Harness(engine, clock, make, f"t-{uuid.uuid4().hex[:12]}", tmp_path)


@pytest.fixture
def runner(harness: Harness) -> JobRunner:
    return harness.make()


def _message(runner: JobRunner, job_id: str, message: str) -> Callable[[], bool]:
    return lambda: runner.status(job_id).message == message


# -- submitted jobs ---------------------------------------------------------------------
def test_submit_reports_progress_then_the_result(harness: Harness, runner: JobRunner) -> None:
    assert isinstance(runner, JobRunner)
    job_id = runner.submit("count", kinds.gated, (harness.release(), 3),
                           tenant_id=harness.tenant)
    until(_message(runner, job_id, "half way"), "the job reports half way")
    info = runner.status(job_id)
    assert (info.state, info.progress, info.message) == ("running", 0.5, "half way")
    assert info.name == "count" and info.started_at is not None and not info.done
    assert info.tenant_id == harness.tenant and info.attempt == 0
    harness.open()
    done = runner.join(job_id, timeout=HANG)
    assert (done.state, done.result, done.error, done.progress) == ("succeeded", {"n": 3},
                                                                     None, 1.0)
    assert done.finished_at is not None and done.started_at is not None
    assert done.created_at <= done.started_at <= done.finished_at
    assert runner.status(job_id) == done


def test_structured_progress_is_visible_while_it_runs(harness: Harness,
                                                      runner: JobRunner) -> None:
    job_id = runner.submit("train", kinds.reporting, (harness.release(),))
    until(_message(runner, job_id, "step 3/10"), "the job reports step 3")
    info = runner.status(job_id)
    assert info.metrics == {"step": 3, "total": 10, "loss": 0.5, "eta_s": 7.0}
    assert info.progress == pytest.approx(0.3)
    harness.open()
    done = runner.join(job_id, timeout=HANG)
    assert done.state == "succeeded" and done.metrics is not None
    assert done.metrics["step"] == 3


def test_a_failure_is_captured_with_its_error(runner: JobRunner) -> None:
    info = runner.join(runner.submit("broken", kinds.broken), timeout=HANG)
    assert (info.state, info.error, info.result) == ("failed", "ValueError: bad input 7", None)
    assert info.progress == 0.25
    bad = runner.join(runner.submit("overreach", kinds.overreach), timeout=HANG)
    assert bad.state == "failed" and "between 0 and 1" in (bad.error or "")


def test_registered_kinds_take_arguments(runner: JobRunner) -> None:
    runner.register("scaled-sum", kinds.scaled_sum)
    info = runner.join(runner.submit("sum", "scaled-sum", (2, 3), {"scale": 10}), timeout=HANG)
    assert (info.state, info.result, info.kind) == ("succeeded", 50, "scaled-sum")
    with pytest.raises(NotFound):
        runner.submit("sum", "no-such-kind")
    with pytest.raises(InvalidInput):
        runner.submit("", "scaled-sum")
    with pytest.raises(NotFound):
        runner.status("no-such-job")


def test_a_queued_job_cancelled_never_runs(harness: Harness, runner: JobRunner) -> None:
    blockers = [runner.submit(f"blocker{i}", kinds.gated, (harness.release(),))
                for i in range(CAPACITY)]
    for job_id in blockers:
        until(_message(runner, job_id, "half way"), "the blockers hold every worker")
    ran = harness.folder / "ran"
    waiting = runner.submit("waiting", kinds.marker, (str(ran),))
    assert runner.status(waiting).state == "queued"
    assert runner.cancel(waiting)
    assert runner.status(waiting).state == "cancelled"
    harness.open()
    for job_id in blockers:
        assert runner.join(job_id, timeout=HANG).state == "succeeded"
    # a job submitted after it runs once a worker is free: the cancelled one was passed by
    assert runner.join(runner.submit("after", kinds.constant, (1,)), timeout=HANG).result == 1
    assert runner.join(waiting, timeout=HANG).state == "cancelled"
    assert not ran.exists()
    assert not runner.cancel(waiting)  # finished already
    with pytest.raises(NotFound):
        runner.cancel("no-such-job")


@pytest.mark.parametrize("style", ["raises", "returns"])
def test_a_running_job_stops_when_cancelled(runner: JobRunner, style: str) -> None:
    job_id = runner.submit("patient", kinds.patient, (style,))
    until(_message(runner, job_id, "waiting"), "the job waits")
    assert runner.cancel(job_id)
    info = runner.join(job_id, timeout=HANG)  # well before the job's own bound
    assert (info.state, info.result, info.error) == ("cancelled", None, None)
    assert info.message == "waiting"


def test_list_filters_newest_first_within_a_tenant(harness: Harness,
                                                   runner: JobRunner) -> None:
    tenant, other = harness.tenant, harness.tenant + "-2"
    ids = [runner.submit("a", kinds.constant, (1,), tenant_id=tenant),
           runner.submit("b", kinds.constant, (2,), tenant_id=tenant),
           runner.submit("a", kinds.broken, tenant_id=other)]
    for job_id in ids:
        runner.join(job_id, timeout=HANG)
    listed = runner.list(tenant_id=tenant)
    assert {j.id for j in listed} == set(ids[:2])
    assert [j.created_at for j in listed] == sorted((j.created_at for j in listed),
                                                    reverse=True)
    assert [j.id for j in runner.list(tenant_id=tenant, name="a")] == [ids[0]]
    assert [j.id for j in runner.list(tenant_id=other, state="failed")] == [ids[2]]
    assert runner.list(tenant_id=other, state="succeeded") == []
    assert {ids[0], ids[2]} <= {j.id for j in runner.list(name="a")}
    assert len(runner.list(tenant_id=tenant, limit=1)) == 1
    with pytest.raises(InvalidInput):
        runner.list(limit=0)


async def test_ajoin_waits_without_blocking_the_loop(harness: Harness,
                                                     runner: JobRunner) -> None:
    job_id = runner.submit("slow", kinds.gated, (harness.release(),))
    until(_message(runner, job_id, "half way"), "the job runs")
    harness.open()
    assert (await runner.ajoin(job_id, timeout=HANG)).state == "succeeded"


def test_join_times_out_on_a_job_that_goes_on(harness: Harness, runner: JobRunner) -> None:
    job_id = runner.submit("slow", kinds.gated, (harness.release(),))
    until(_message(runner, job_id, "half way"), "the job runs")
    with pytest.raises(TimeoutError):
        runner.join(job_id, timeout=0)
    harness.open()
    assert runner.join(job_id, timeout=HANG).state == "succeeded"


# -- periodic jobs ------------------------------------------------------------------------
def test_periodic_jobs_run_when_due(harness: Harness, runner: JobRunner) -> None:
    clock = harness.clock
    runs: list[float] = []
    runner.schedule("tick", lambda ctx: runs.append(clock()) or len(runs), every_s=10,
                    run_now=True)
    runner.schedule("later", lambda ctx: "late", every_s=5)
    assert runner.run_due() == ["tick"]
    assert runner.run_due() == []  # not due again until 10 s after the last run ended
    clock.advance(5)
    assert runner.run_due() == ["later"]
    clock.advance(4.9)
    assert runner.run_due() == []
    clock.advance(0.1)
    assert sorted(runner.run_due()) == ["later", "tick"]
    info = {s.name: s for s in runner.schedules()}
    assert (info["tick"].runs, info["tick"].last_result, info["tick"].every_s) == (2, 2, 10)
    assert info["tick"].last_error is None and not info["tick"].running
    assert runs == [1000.0, 1010.0]


def test_a_failing_periodic_job_is_recorded_and_runs_again(harness: Harness,
                                                           runner: JobRunner) -> None:
    outcomes = iter([RuntimeError("store down"), None])

    def flaky(ctx: JobContext) -> str:
        error = next(outcomes)
        if error is not None:
            raise error
        return "ok"

    runner.schedule("flaky", flaky, every_s=1, run_now=True)
    runner.run_due()
    (info,) = runner.schedules()
    assert (info.runs, info.failures, info.last_error) == (1, 1, "RuntimeError: store down")
    harness.clock.advance(1)
    runner.run_due()
    (info,) = runner.schedules()
    assert (info.runs, info.failures, info.last_error, info.last_result) == (2, 1, None, "ok")


def test_unschedule_stops_a_run_in_progress_and_later_runs(harness: Harness,
                                                          runner: JobRunner) -> None:
    import threading

    reached = threading.Event()
    saw: list[bool] = []

    def slow(ctx: JobContext) -> None:
        reached.set()
        saw.append(ctx.wait(HANG))

    runner.schedule("slow", slow, every_s=1, run_now=True)
    tick = threading.Thread(target=runner.run_due)
    tick.start()
    assert reached.wait(HANG)
    assert runner.unschedule("slow", timeout=HANG)  # returns once the run has stopped
    assert saw == [True]
    tick.join(HANG)
    harness.clock.advance(10)
    assert runner.run_due() == [] and runner.schedules() == []
    assert not runner.unschedule("slow")


def test_bad_schedules_are_refused(runner: JobRunner) -> None:
    for every in (0, -1, float("inf"), True):
        with pytest.raises(InvalidInput) as bad:
            runner.schedule("x", lambda ctx: None, every_s=every)
        assert bad.value.field == "every_s"


# -- lifecycle and persistence ----------------------------------------------------------
def test_close_cancels_queued_jobs_and_stops_running_ones(harness: Harness) -> None:
    runner = harness.make()
    running = [runner.submit("patient", kinds.patient, ("raises",)) for _ in range(CAPACITY)]
    for job_id in running:
        until(_message(runner, job_id, "waiting"), "every worker is busy")
    queued = runner.submit("queued", kinds.constant)
    runner.close(timeout=HANG)
    for job_id in running:
        assert runner.status(job_id).state == "cancelled"
    assert runner.status(queued).state == "cancelled"
    with pytest.raises(CerebraError):
        runner.submit("late", kinds.constant)
    runner.close()  # idempotent


def test_a_new_runner_on_the_same_database_sees_finished_jobs(harness: Harness) -> None:
    first = harness.make()
    ok = first.submit("ok", kinds.constant, ({"rows": [1, 2]},), tenant_id=harness.tenant)
    bad = first.submit("bad", kinds.fails_key, tenant_id=harness.tenant)
    for job_id in (ok, bad):
        first.join(job_id, timeout=HANG)
    first.close(timeout=HANG)
    second = harness.make()
    assert (second.status(ok).state, second.status(ok).result) == ("succeeded", {"rows": [1, 2]})
    assert second.status(bad).state == "failed" and "KeyError" in (second.status(bad).error or "")
    assert {j.id for j in second.list(tenant_id=harness.tenant)} == {ok, bad}
