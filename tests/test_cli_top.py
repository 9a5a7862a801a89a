"""`cerebra top`: one frame (--once) and the snapshot (--json) from a running test server and
from the local database; bad options exit 2 with a one-line error."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import insert

from cerebra.brain import Brain
from cerebra.config import Settings
from cerebra.context import RequestContext
from cerebra.db.schema import jobs
from cerebra.observability.top import snapshot
from cerebra.server.app import create_app
from cerebra.testing import FakeModel
from tests.helpers import run_cli, running_server


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    settings = Settings(home=tmp_path / "server", memory={"embedder": "fake"},
                        health={"interval_s": 0})
    brain = Brain.from_settings(settings, model=FakeModel(name="fake-top"))
    try:
        with running_server(create_app(settings, brain=brain)) as url:
            for prompt in ("one", "two", "three"):
                r = httpx.post(f"{url}/api/llm/query", json={"prompt": prompt}, timeout=60)
                assert r.status_code == 200, r.text
            yield url
    finally:
        brain.close()


def test_once_against_a_running_server_shows_the_figures(served: str) -> None:
    done = run_cli("top", "--once", "--json", "--server", served, timeout=120)
    assert done.returncode == 0, done.stderr
    snap = json.loads(done.stdout)
    assert snap["requests"] == 3 and snap["source"] == served
    assert [m["model"] for m in snap["by_model"]] == ["fake-top"]
    assert snap["by_model"][0]["requests"] == 3 and snap["tokens"] > 0
    assert snap["latency_ms"]["p50"] is not None
    assert {m["name"] for m in snap["models"]} == {"fake-top"}
    frame = run_cli("top", "--once", "--server", served, env={"COLUMNS": "160"}, timeout=120)
    assert frame.returncode == 0, frame.stderr
    assert "3 requests" in frame.stdout and "fake-top" in frame.stdout
    assert "p95" in frame.stdout and "spend $" in frame.stdout


def test_once_from_the_local_database(tmp_path: Path) -> None:
    home = tmp_path / "local"
    settings = Settings(home=home, memory={"embedder": "fake"}, health={"interval_s": 0})
    brain = Brain.from_settings(settings, model=FakeModel(name="fake-local"))
    try:
        brain.ask("hello", context=RequestContext())
        brain.ask("again", context=RequestContext())
        brain.ledger.flush()
        _job(brain, "j-run", "train-adapter", "running", 0.4)
        _job(brain, "j-done", "judge-batch", "succeeded", 1.0)
        direct = snapshot(brain.engine, "default", window_s=600)
        other = snapshot(brain.engine, "elsewhere", window_s=600)
    finally:
        brain.close()
    assert direct["requests"] == 2 and other["requests"] == 0  # per tenant
    done = run_cli("top", "--once", "--json", "--local", "--window", "600",
                   env={"CEREBRA_HOME": str(home)}, timeout=120)
    assert done.returncode == 0, done.stderr
    snap = json.loads(done.stdout)
    assert snap["requests"] == 2 and snap["by_model"][0]["model"] == "fake-local"
    assert snap["source"] == "local database"
    assert snap["jobs"]["counts"] == {"running": 1, "succeeded": 1}
    assert [(j["id"], j["progress"]) for j in snap["jobs"]["active"]] == [("j-run", 0.4)]
    shown = run_cli("top", "--once", "--local", env={"CEREBRA_HOME": str(home),
                                                     "COLUMNS": "160"}, timeout=120)
    assert shown.returncode == 0, shown.stderr
    assert "train-adapter" in shown.stdout and "40%" in shown.stdout
    assert "judge-batch" not in shown.stdout  # finished: counted, not listed


def _job(brain: Brain, job_id: str, name: str, state: str, progress: float) -> None:
    now = time.time()
    with brain.engine.begin() as conn:
        conn.execute(insert(jobs).values(
            id=job_id, tenant_id="default", name=name, kind=name, state=state,
            progress=progress, message="step 4/10" if state == "running" else "done",
            owner="test", created_at=now, heartbeat_at=now))


@pytest.mark.parametrize("args", [
    ["--interval", "0"],
    ["--window", "0"],
    ["--server", "not-a-url"],
    ["--local", "--server", "http://127.0.0.1:9"],
])
def test_bad_options_exit_2(args: list[str]) -> None:
    done = run_cli("top", "--once", *args, timeout=120)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stderr.startswith("error:") and "Traceback" not in done.stderr
