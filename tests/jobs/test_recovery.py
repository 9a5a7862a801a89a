"""Restart never loses a job: a process running jobs is SIGKILLed mid-run (an in-process
runner's process, or a Celery worker); the next runner resumes the job of a kind registered
resumable from its own checkpoint (attempt 1) and marks the other job failed (interrupted).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from cerebra.db import make_engine, upgrade
from cerebra.jobs import INTERRUPTED, InProcessRunner
from tests.jobs import kinds
from tests.jobs.conftest import HANG, ROOT, Celery
from tests.jobs.test_conformance import until
from tests.jobs.test_runner import FakeClock

STEPS = 6

_CHILD = """
import sys, threading, time
from cerebra.db import make_engine
from cerebra.jobs import InProcessRunner
from tests.jobs import kinds

url, folder, release, steps = sys.argv[1:]
runner = InProcessRunner(make_engine(url), workers=2)
runner.register("train", kinds.trainer, resumable=True)
train = runner.submit("train", "train", (folder, int(steps), release))
other = runner.submit("other", kinds.gated, (release,))
for job_id, message in ((train, "at the halfway checkpoint"), (other, "half way")):
    while runner.status(job_id).message != message:
        time.sleep(0.02)
print(train, other, flush=True)
if sys.stdin.readline().strip() == "close":  # a graceful stop (else: wait for SIGKILL)
    runner.close(timeout=30)
    sys.exit(0)
threading.Event().wait()
"""


def _checkpoint(folder: Path) -> int:
    return int(json.loads((folder / "checkpoint.json").read_text())["step"])


@pytest.mark.parametrize("stop", ["sigkill", "close"])
def test_an_in_process_runner_stopped_mid_job_resumes_it_in_the_next(tmp_path: Path,
                                                                      stop: str) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    engine = make_engine(url)
    upgrade(engine)
    release = tmp_path / "release"  # never created: the first attempt holds at half way
    child = subprocess.Popen([sys.executable, "-c", _CHILD, url, str(tmp_path), str(release),
                              str(STEPS)],
                             cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdin is not None
        train, other = child.stdout.readline().split()
        if stop == "close":
            child.stdin.write("close\n")
            child.stdin.flush()
            assert child.wait(HANG) == 0
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(HANG)
    # killed: the last checkpoint is half way; closed: the job finished its step first
    start = STEPS // 2 + (stop == "close")
    assert _checkpoint(tmp_path) == start
    clock = FakeClock()
    runner = InProcessRunner(engine, clock=clock, scheduler=False)
    try:
        if stop == "sigkill":
            assert runner.interrupted == 1  # the other; the resumable one waits for its kind
            assert runner.status(other).error == INTERRUPTED
            assert runner.status(train).state == "running"
        else:  # closed: the other was cancelled, the resumable one left queued
            assert runner.interrupted == 0
            assert runner.status(other).state == "cancelled"
            assert runner.status(train).state == "queued"
        runner.register("train", kinds.trainer, resumable=True)
        done = runner.join(train, timeout=HANG)
        assert (done.state, done.attempt) == ("succeeded", 1)
        assert done.result == {"start": start, "steps": STEPS, "attempt": 1, "resumed": True}
        assert done.metrics is not None and done.metrics["step"] == STEPS
        assert runner.resumed == [train]
    finally:
        runner.close()
        engine.dispose()


def test_a_resumable_job_nobody_resumes_fails_at_the_next_pass(tmp_path: Path) -> None:
    from cerebra.jobs.base import JobInfo
    from cerebra.jobs.store import SQLJobStore

    engine = make_engine(f"sqlite:///{tmp_path / 'jobs.db'}")
    upgrade(engine)
    info = JobInfo("orphan", "train", "train", "running", 0.5, "", None, None, "default",
                   0.0, 0.0, None)
    SQLJobStore(engine).insert(info, "elsewhere:1:gone", resumable=True,
                               payload={"args": [], "kwargs": {}})
    clock = FakeClock()
    runner = InProcessRunner(engine, clock=clock, scheduler=False, stale_after_s=60)
    try:
        assert runner.status("orphan").state == "running"  # a grace pass for its kind
        clock.advance(60)
        runner.run_due()
        assert runner.status("orphan").error == INTERRUPTED
    finally:
        runner.close()
        engine.dispose()


def test_a_celery_worker_killed_mid_job_resumes_on_another(celery: Celery,
                                                           tmp_path: Path) -> None:
    from cerebra.jobs.celery_runner import CeleryRunner

    queue = f"kill-{uuid.uuid4().hex[:8]}"
    doomed = celery.start_worker(queue)
    runner = CeleryRunner(celery.engine, celery.broker, queue=queue, scheduler=False,
                          poll_s=0.02)
    try:
        runner.register("train", kinds.trainer, resumable=True)
        release = tmp_path / "release"
        train = runner.submit("train", "train", (str(tmp_path), STEPS, str(release)))
        other = runner.submit("other", kinds.gated, (str(release),))
        until(lambda: runner.status(train).message == "at the halfway checkpoint"
              and runner.status(other).message == "half way", "both jobs run on the worker")
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.wait(HANG)  # reaped: its pid is gone
        assert runner.status(train).state == runner.status(other).state == "running"
        assert runner.recover() == 1
        assert runner.status(other).error == INTERRUPTED
        assert runner.resumed == [train] and runner.status(train).state == "queued"
        celery.start_worker(queue)
        done = runner.join(train, timeout=HANG)
        assert (done.state, done.attempt) == ("succeeded", 1)
        assert done.result == {"start": STEPS // 2, "steps": STEPS, "attempt": 1,
                               "resumed": True}
        assert _checkpoint(tmp_path) == STEPS
    finally:
        runner.close(timeout=HANG)


def test_a_celery_worker_stopped_gracefully_parks_a_resumable_job(celery: Celery,
                                                                   tmp_path: Path) -> None:
    from cerebra.jobs.celery_runner import CeleryRunner

    queue = f"term-{uuid.uuid4().hex[:8]}"
    stopping = celery.start_worker(queue)
    runner = CeleryRunner(celery.engine, celery.broker, queue=queue, scheduler=False,
                          poll_s=0.02)
    try:
        runner.register("train", kinds.trainer, resumable=True)
        release = tmp_path / "release"
        train = runner.submit("train", "train", (str(tmp_path), STEPS, str(release)))
        until(lambda: runner.status(train).message == "at the halfway checkpoint", "halfway")
        stopping.terminate()  # SIGTERM: Celery's warm shutdown
        assert stopping.wait(HANG) == 0
        parked = runner.status(train)
        assert (parked.state, parked.attempt) == ("queued", 1)
        celery.start_worker(queue)
        done = runner.join(train, timeout=HANG)
        # the job finished its step when asked to stop, then the next worker went on
        assert done.result == {"start": STEPS // 2 + 1, "steps": STEPS, "attempt": 1,
                               "resumed": True}
    finally:
        runner.close(timeout=HANG)


def test_celery_jobs_must_be_importable_functions(celery: Celery) -> None:
    from cerebra.errors import InvalidInput
    from cerebra.jobs.celery_runner import CeleryRunner

    runner = CeleryRunner(celery.engine, celery.broker, queue=celery.queue, scheduler=False)
    try:
        with pytest.raises(InvalidInput):
            runner.submit("closure", lambda ctx: None)
        with pytest.raises(InvalidInput):
            runner.register("closure", lambda ctx: None)
        with pytest.raises(InvalidInput) as bad:
            runner.submit("bytes", kinds.constant, (object(),))
        assert bad.value.field == "args"
    finally:
        runner.close()


def test_make_runner_builds_the_chosen_runner(celery: Celery) -> None:
    from cerebra.errors import InvalidInput
    from cerebra.jobs.celery_runner import CeleryRunner
    from cerebra.jobs.factory import make_runner

    local = make_runner("inprocess", engine=None, scheduler=False)
    assert isinstance(local, InProcessRunner)
    local.close()
    remote = make_runner("celery", engine=celery.engine, broker_url=celery.broker,
                         queue=celery.queue, scheduler=False)
    try:
        assert isinstance(remote, CeleryRunner)
        assert remote.join(remote.submit("one", kinds.constant, (1,)), timeout=HANG).result == 1
        held = remote.submit("held", kinds.gated, (str(celery.folder / "go-factory"),))
        until(lambda: remote.status(held).message == "half way", "the job runs")
    finally:
        remote.close()
    assert remote.status(held).state == "running"  # a server's runner closing stops no job
    (celery.folder / "go-factory").write_text("go")
    assert remote.join(held, timeout=HANG).state == "succeeded"
    for kind, options in (("celery", {"engine": None, "broker_url": celery.broker}),
                          ("threads", {"engine": None})):
        with pytest.raises(InvalidInput):
            make_runner(kind, **options)


def test_each_runner_recovers_only_its_own_kind_of_job(celery: Celery) -> None:
    from cerebra.jobs.base import JobInfo
    from cerebra.jobs.celery_runner import CeleryRunner
    from cerebra.jobs.store import SQLJobStore

    store = SQLJobStore(celery.engine)
    ids = {owner: uuid.uuid4().hex for owner in ("elsewhere:1:celery-worker-7",
                                                  "elsewhere:1:abcd1234")}
    for owner, job_id in ids.items():  # silent for an hour: both owners count as gone
        store.insert(JobInfo(job_id, "x", "k", "running", 0.0, "", None, None, "t-recover",
                             0.0, 0.0, None), owner)
    worker_job, local_job = ids.values()
    local = InProcessRunner(celery.engine, scheduler=False)
    local.close()
    assert local.status(local_job).error == INTERRUPTED
    assert local.status(worker_job).state == "running"  # not the in-process runner's
    remote = CeleryRunner(celery.engine, celery.broker, queue=celery.queue, scheduler=False)
    remote.close()
    assert remote.status(worker_job).error == INTERRUPTED
