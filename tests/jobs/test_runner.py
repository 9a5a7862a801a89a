"""The in-process runner's own behaviour (what every runner does is in test_conformance.py):
jobs that are closures, what its database rows hold, a dead process's jobs marked failed,
heartbeats, schedule rows, and the migration.

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
from cerebra.jobs import INTERRUPTED, InProcessRunner, JobContext, JobRunner
from cerebra.jobs.base import JobInfo
from cerebra.jobs.store import SQLJobStore

HANG = 30.0  # seconds: a bound against hangs only, never a timing claim


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


@pytest.fixture
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    engine = make_engine(f"sqlite:///{tmp_path / 'jobs.db'}")
    upgrade(engine)
    clock = FakeClock()
    made: list[JobRunner] = []

    def make(**options: Any) -> JobRunner:
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


# -- jobs that are closures (run in process only) ----------------------------------------
def test_a_closure_runs_with_its_progress(runner: JobRunner) -> None:
    reached, release = _gate()

    def count(ctx: JobContext, n: int) -> dict[str, int]:
        ctx.progress(0.5, "half way")
        reached.set()
        release.wait(HANG)
        return {"n": n}

    job_id = runner.submit("count", count, (3,))
    assert reached.wait(HANG)
    assert runner.status(job_id).progress == 0.5
    release.set()
    assert runner.join(job_id, timeout=HANG).result == {"n": 3}


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
