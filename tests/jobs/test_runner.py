"""JobRunner conformance: every implementation (today the in-process one; Celery joins
IMPLEMENTATIONS later) runs jobs with progress and results, captures failures, cancels
queued and running jobs, lists, runs periodic jobs on a clock the test moves, and keeps
job state in the database for the next runner, which marks a dead process's jobs failed.

Synchronisation is by events and `join`; time moves only through the injected clock and
`run_due()`. Event waits carry a bound only against hangs.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, update

from cerebra.db import make_engine, upgrade
from cerebra.db.schema import job_schedules, jobs
from cerebra.errors import CerebraError, InvalidInput, NotFound
from cerebra.jobs import INTERRUPTED, InProcessRunner, JobContext, JobRunner
from cerebra.jobs.base import JobInfo
from cerebra.jobs.store import SQLJobStore

HANG = 30.0  # seconds: a bound against hangs only, never a timing claim
IMPLEMENTATIONS = ["inprocess"]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Harness:
    engine: Engine
    clock: FakeClock
    make: Callable[..., JobRunner]  # another runner on the same database


@pytest.fixture(params=IMPLEMENTATIONS)
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    engine = make_engine(f"sqlite:///{tmp_path / 'jobs.db'}")
    upgrade(engine)
    clock = FakeClock()
    made: list[JobRunner] = []

    def make(**options: Any) -> JobRunner:
        assert request.param == "inprocess"
        runner = InProcessRunner(engine, clock=clock, scheduler=False, **options)
        made.append(runner)
        return runner

    yield Harness(engine, clock, make)
    for runner in made:
        runner.close(timeout=HANG)
    engine.dispose()


@pytest.fixture
def runner(harness: Harness) -> JobRunner:
    return harness.make()


def _gate() -> tuple[threading.Event, threading.Event]:
    """(reached, release): the job sets `reached`, then waits for `release`."""
    return threading.Event(), threading.Event()


# -- submitted jobs ---------------------------------------------------------------------
def test_submit_reports_progress_then_the_result(runner: JobRunner) -> None:
    assert isinstance(runner, JobRunner)
    reached, release = _gate()

    def count(ctx: JobContext, n: int) -> dict[str, int]:
        ctx.progress(0.5, "half way")
        reached.set()
        release.wait(HANG)
        return {"n": n}

    job_id = runner.submit("count", count, (3,))
    assert reached.wait(HANG)
    info = runner.status(job_id)
    assert (info.state, info.progress, info.message) == ("running", 0.5, "half way")
    assert info.name == "count" and info.started_at is not None and not info.done
    release.set()
    done = runner.join(job_id, timeout=HANG)
    assert (done.state, done.result, done.error, done.progress) == ("succeeded", {"n": 3},
                                                                     None, 1.0)
    assert done.finished_at is not None and done.started_at is not None
    assert done.created_at <= done.started_at <= done.finished_at
    assert runner.status(job_id) == done


def test_a_failure_is_captured_with_its_error(runner: JobRunner) -> None:
    def broken(ctx: JobContext) -> None:
        ctx.progress(0.25)
        raise ValueError("bad input 7")

    info = runner.join(runner.submit("broken", broken), timeout=HANG)
    assert (info.state, info.error, info.result) == ("failed", "ValueError: bad input 7", None)
    assert info.progress == 0.25

    def overreach(ctx: JobContext) -> None:
        ctx.progress(1.5)

    bad = runner.join(runner.submit("overreach", overreach), timeout=HANG)
    assert bad.state == "failed" and "between 0 and 1" in (bad.error or "")


def test_registered_kinds_take_arguments(runner: JobRunner) -> None:
    runner.register("scaled-sum", lambda ctx, a, b, scale=1: (a + b) * scale)
    info = runner.join(runner.submit("sum", "scaled-sum", (2, 3), {"scale": 10}), timeout=HANG)
    assert (info.state, info.result, info.kind) == ("succeeded", 50, "scaled-sum")
    with pytest.raises(NotFound):
        runner.submit("sum", "no-such-kind")
    with pytest.raises(InvalidInput):
        runner.submit("", "scaled-sum")
    with pytest.raises(NotFound):
        runner.status("no-such-job")


def test_a_queued_job_cancelled_never_runs(harness: Harness) -> None:
    runner = harness.make(workers=1)
    reached, release = _gate()
    ran = threading.Event()
    blocker = runner.submit("blocker", lambda ctx: (reached.set(), release.wait(HANG))[0])
    assert reached.wait(HANG)
    waiting = runner.submit("waiting", lambda ctx: ran.set())
    assert runner.status(waiting).state == "queued"
    assert runner.cancel(waiting)
    assert runner.status(waiting).state == "cancelled"
    release.set()
    assert runner.join(blocker, timeout=HANG).state == "succeeded"
    assert runner.join(waiting, timeout=HANG).state == "cancelled"
    assert not ran.is_set()
    assert not runner.cancel(waiting)  # finished already
    with pytest.raises(NotFound):
        runner.cancel("no-such-job")


@pytest.mark.parametrize("style", ["raises", "returns"])
def test_a_running_job_stops_when_cancelled(runner: JobRunner, style: str) -> None:
    reached = threading.Event()
    saw: list[bool] = []

    def patient(ctx: JobContext) -> str:
        ctx.progress(0.1, "waiting")
        reached.set()
        saw.append(ctx.wait(HANG))  # wakes when cancelled
        if style == "raises":
            ctx.check()
        return "partial"

    job_id = runner.submit("patient", patient)
    assert reached.wait(HANG)
    assert runner.cancel(job_id)
    info = runner.join(job_id, timeout=HANG)
    assert saw == [True]
    assert (info.state, info.result, info.error) == ("cancelled", None, None)
    assert info.message == "waiting"


def test_list_filters_newest_first(runner: JobRunner) -> None:
    ids = [runner.submit("a", lambda ctx: 1), runner.submit("b", lambda ctx: 2),
           runner.submit("a", lambda ctx: 1 / 0, tenant_id="t2")]
    for job_id in ids:
        runner.join(job_id, timeout=HANG)
    assert {j.id for j in runner.list()} == set(ids)
    listed = runner.list()
    assert [j.created_at for j in listed] == sorted((j.created_at for j in listed), reverse=True)
    assert {j.id for j in runner.list(name="a")} == {ids[0], ids[2]}
    assert [j.id for j in runner.list(state="failed")] == [ids[2]]
    assert [j.id for j in runner.list(tenant_id="t2")] == [ids[2]]
    assert len(runner.list(limit=1)) == 1
    with pytest.raises(InvalidInput):
        runner.list(limit=0)


async def test_ajoin_waits_without_blocking_the_loop(runner: JobRunner) -> None:
    reached, release = _gate()
    job_id = runner.submit("slow", lambda ctx: (reached.set(), release.wait(HANG))[0])
    assert reached.wait(HANG)
    release.set()
    assert (await runner.ajoin(job_id, timeout=HANG)).state == "succeeded"


def test_join_times_out_on_a_job_that_goes_on(runner: JobRunner) -> None:
    reached, release = _gate()
    job_id = runner.submit("slow", lambda ctx: (reached.set(), release.wait(HANG))[0])
    assert reached.wait(HANG)
    with pytest.raises(TimeoutError):
        runner.join(job_id, timeout=0)
    release.set()
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
    assert info.last_ok_at is None
    harness.clock.advance(1)
    runner.run_due()
    (info,) = runner.schedules()
    assert (info.runs, info.failures, info.last_error, info.last_result) == (2, 1, None, "ok")


def test_unschedule_stops_a_run_in_progress_and_later_runs(harness: Harness,
                                                          runner: JobRunner) -> None:
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
    runner = harness.make(workers=1)
    reached = threading.Event()

    def patient(ctx: JobContext) -> None:
        reached.set()
        ctx.wait(HANG)
        ctx.check()

    running = runner.submit("patient", patient)
    assert reached.wait(HANG)
    queued = runner.submit("queued", lambda ctx: None)
    runner.close(timeout=HANG)
    assert runner.status(running).state == "cancelled"
    assert runner.status(queued).state == "cancelled"
    with pytest.raises(CerebraError):
        runner.submit("late", lambda ctx: None)
    runner.close()  # idempotent


def test_a_new_runner_on_the_same_database_sees_finished_jobs(harness: Harness) -> None:
    first = harness.make()
    ok = first.submit("ok", lambda ctx: {"rows": [1, 2]})
    bad = first.submit("bad", lambda ctx: {}["missing"])
    for job_id in (ok, bad):
        first.join(job_id, timeout=HANG)
    first.close(timeout=HANG)
    second = harness.make()
    assert (second.status(ok).state, second.status(ok).result) == ("succeeded", {"rows": [1, 2]})
    assert second.status(bad).state == "failed" and "KeyError" in (second.status(bad).error or "")
    assert {j.id for j in second.list()} == {ok, bad}


# -- in-process specifics: what the database holds ---------------------------------------
_CRASHING_CHILD = """
import sys, threading
from cerebra.db import make_engine
from cerebra.jobs import InProcessRunner

runner = InProcessRunner(make_engine(sys.argv[1]), workers=1)
lock = threading.Lock()

def say(line):
    with lock:  # whole lines: the job's thread and the main thread both write
        sys.stdout.write(line + "\\n")
        sys.stdout.flush()

def stuck(ctx):
    say("running " + ctx.job_id)
    threading.Event().wait()

runner.submit("stuck", stuck)
say("queued " + runner.submit("behind", stuck))
threading.Event().wait()
"""


def test_jobs_of_a_killed_process_are_marked_interrupted(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    engine = make_engine(url)
    upgrade(engine)
    child = subprocess.Popen([sys.executable, "-c", _CRASHING_CHILD, url],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        seen = dict(child.stdout.readline().split() for _ in range(2))
    finally:
        child.kill()
        child.wait(HANG)
    runner = InProcessRunner(engine, scheduler=False)
    try:
        assert runner.interrupted == 2
        for job_id in seen.values():
            info = runner.status(job_id)
            assert (info.state, info.error) == ("failed", INTERRUPTED)
            assert info.finished_at is not None
    finally:
        runner.close()
        engine.dispose()


def _row(job_id: str, owner: str, heartbeat_at: float) -> tuple[JobInfo, str, float]:
    return (JobInfo(job_id, "x", "k", "running", 0.0, "", None, None, "default", heartbeat_at,
                    heartbeat_at, None), owner, heartbeat_at)


def test_only_jobs_without_a_live_owner_are_interrupted(harness: Harness) -> None:
    import os
    import socket
    import time

    store = SQLJobStore(harness.engine)
    now = time.time()
    rows = {
        "stale": _row("stale", "elsewhere:123:aaaa", now - 3600),  # silent for an hour
        "fresh": _row("fresh", "elsewhere:123:bbbb", now),  # another machine, alive
        "sibling": _row("sibling", f"{socket.gethostname()}:{os.getpid()}:cccc", now),
    }
    for info, owner, _ in rows.values():
        store.insert(info, owner)
    runner = harness.make(stale_after_s=60)
    assert runner.status("stale").error == INTERRUPTED
    assert runner.status("fresh").state == runner.status("sibling").state == "running"


def test_schedules_keep_one_row_each_written_when_their_outcome_changes(
        harness: Harness) -> None:
    runner = harness.make(record_every_s=3600)
    fail = {"now": False}

    def tick(ctx: JobContext) -> int:
        if fail["now"]:
            raise OSError("disk full")
        return 1

    def stored() -> dict[str, Any]:
        with harness.engine.connect() as conn:
            rows = conn.execute(select(job_schedules)).mappings().all()
        assert len(rows) == 1
        return dict(rows[0])

    runner.schedule("tick", tick, every_s=1, run_now=True)
    for _ in range(3):
        runner.run_due()
        harness.clock.advance(1)
    assert stored()["runs"] == 1  # the first run is written; the same outcome waits
    fail["now"] = True
    runner.run_due()
    row = stored()
    assert (row["runs"], row["failures"], row["last_error"]) == (4, 1, "OSError: disk full")
    harness.clock.advance(1)
    fail["now"] = False
    runner.run_due()
    assert stored()["last_error"] is None
    harness.clock.advance(1)
    runner.run_due()
    assert stored()["runs"] == 5
    runner.close()  # writes the last state
    row = stored()
    assert (row["runs"], row["failures"], row["tenant_id"], row["name"]) == (6, 1, "default",
                                                                            "tick")
    with harness.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(jobs)).scalar() == 0


def test_heartbeats_keep_a_running_job_alive(harness: Harness) -> None:
    runner = harness.make(heartbeat_s=10, stale_after_s=60)
    reached, release = _gate()
    job_id = runner.submit("long", lambda ctx: (reached.set(), release.wait(HANG))[0])
    assert reached.wait(HANG)

    def beat() -> float:
        with harness.engine.connect() as conn:
            return float(conn.execute(select(jobs.c.heartbeat_at)
                                      .where(jobs.c.id == job_id)).scalar_one())

    with harness.engine.begin() as conn:  # as if the last beat were long ago
        conn.execute(update(jobs).where(jobs.c.id == job_id).values(heartbeat_at=0.0))
    harness.clock.advance(10)
    runner.run_due()  # the scheduler's upkeep, driven by hand
    assert beat() > 0.0
    release.set()
    runner.join(job_id, timeout=HANG)


def test_migration_from_the_previous_revision(tmp_path: Path) -> None:
    from sqlalchemy import inspect

    from cerebra.db.migrate import downgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(engine, "0005")
    assert "jobs" not in inspect(engine).get_table_names()
    upgrade(engine)
    assert {"jobs", "job_schedules"} <= set(inspect(engine).get_table_names())
    downgrade(engine, "0005")
    assert not {"jobs", "job_schedules"} & set(inspect(engine).get_table_names())
    engine.dispose()
