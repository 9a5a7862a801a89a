"""`cerebra jobs …` on the local database a server's runner writes (a real CLI process), and
the progress bar helper: list and show as JSON, cancel a job another process runs (its
runner picks the flag up with its heartbeat), follow to the end (exit 1 unless it
succeeded), an unknown id exits 2; follow_job renders steps, loss and ETA from a runner or
from the event stream's lines."""

from __future__ import annotations

import io
import json
from pathlib import Path

from rich.console import Console

from cerebra.cli.progress import describe, follow_job, sse_events
from cerebra.config import get_settings
from cerebra.db import make_engine, upgrade
from cerebra.jobs import InProcessRunner
from tests.helpers import run_cli
from tests.jobs import kinds
from tests.jobs.test_conformance import HANG, until
from tests.jobs.test_runner import FakeClock


def test_jobs_cli_lists_shows_cancels_and_follows(tmp_path: Path) -> None:
    engine = make_engine(get_settings().db_url)  # CEREBRA_HOME is the test's (conftest)
    upgrade(engine)
    clock = FakeClock()
    runner = InProcessRunner(engine, clock=clock, scheduler=False, heartbeat_s=10)
    try:
        ok = runner.submit("ok", kinds.constant, (7,))
        bad = runner.submit("bad", kinds.broken)
        runner.join(ok, timeout=HANG)
        runner.join(bad, timeout=HANG)
        held = runner.submit("held", kinds.patient, ("raises",))
        until(lambda: runner.status(held).message == "waiting", "the job runs")
        listed = run_cli("jobs", "list", "--json")
        assert listed.returncode == 0, listed.stderr
        assert {j["id"] for j in json.loads(listed.stdout)} == {ok, bad, held}
        failed = json.loads(run_cli("jobs", "list", "--state", "failed", "--json").stdout)
        assert [j["id"] for j in failed] == [bad]
        shown = run_cli("jobs", "show", ok)
        assert json.loads(shown.stdout)["result"] == 7
        assert run_cli("jobs", "show", ok, "--tenant", "other").returncode == 2
        cancelled = run_cli("jobs", "cancel", held)
        assert cancelled.returncode == 0 and "cancel requested" in cancelled.stdout
        assert runner.status(held).state == "running"  # until its runner's next heartbeat
        clock.advance(10)
        runner.run_due()
        assert runner.join(held, timeout=HANG).state == "cancelled"
        followed = run_cli("jobs", "follow", bad, "--poll-s", "0.05")
        assert followed.returncode == 1 and "ValueError: bad input 7" in followed.stdout
        assert run_cli("jobs", "follow", ok, "--poll-s", "0.05").returncode == 0
    finally:
        runner.close()
        engine.dispose()


def test_follow_job_shows_steps_loss_and_eta(tmp_path: Path) -> None:
    runner = InProcessRunner(None, scheduler=False)
    try:
        release = tmp_path / "go"
        job_id = runner.submit("train", kinds.trainer, (str(tmp_path), 4, str(release)))
        until(lambda: runner.status(job_id).message == "at the halfway checkpoint", "halfway")
        release.write_text("go")
        screen = io.StringIO()
        done = follow_job(runner, job_id, poll_s=0.05,
                          console=Console(file=screen, width=200, force_terminal=False))
        assert not isinstance(done, dict) and done.state == "succeeded"
        assert "step 4/4" in screen.getvalue() and "loss 0.2500" in screen.getvalue()
    finally:
        runner.close()
    assert describe({"metrics": {"step": 3, "total": 10, "loss": 0.5, "eta_s": 75},
                     "message": "m"}) == "step 3/10 · loss 0.5000 · ETA 1m15s · m"
    lines = ["event: progress", 'data: {"state": "running", "progress": 0.5, '
             '"metrics": {"step": 1, "total": 2}}', "", ": keep-alive", "",
             "event: end", 'data: {"state": "succeeded", "progress": 1.0, '
             '"metrics": {"step": 2, "total": 2}}', "",
             "event: progress", 'data: {"state": "never read"}', ""]
    screen = io.StringIO()
    last = follow_job(sse_events(lines), console=Console(file=screen, width=200))
    assert last == {"state": "succeeded", "progress": 1.0, "metrics": {"step": 2, "total": 2}}
    assert "step 2/2" in screen.getvalue()  # the final render: the end event's metrics
