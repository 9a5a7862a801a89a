"""/api/v1/jobs with authentication on: list and show the caller's tenant's jobs, stream a
job's progress (steps, loss, ETA, state) as server-sent events until it ends, cancel it
mid-run; another tenant's job is 404, an overlong id 422, and the scopes gate reading
(training:read) and cancelling (training:write)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cerebra.jobs import JobRunner
from cerebra.server.routes.jobs_api import stream
from tests.helpers import ApiWorld, api_world
from tests.jobs import kinds
from tests.jobs.test_conformance import HANG, until


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[ApiWorld]:
    with api_world(monkeypatch) as made:
        yield made


def _runner(world: ApiWorld) -> JobRunner:
    runner: JobRunner = world.client.app.state.brain.jobs
    return runner


def _events(text: str) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines()
                     if not line.startswith(":"))
        out.append((lines["event"], json.loads(lines["data"])))
    return out


def test_jobs_over_http(world: ApiWorld, tmp_path: Path) -> None:
    c, runner = world.client, _runner(world)
    release = str(tmp_path / "release")
    mine = runner.submit("train", kinds.reporting, (release,))
    theirs = runner.submit("train", kinds.constant, (1,), tenant_id="other")
    until(lambda: runner.status(mine).message == "step 3/10", "the job reports")
    listed = c.get("/api/v1/jobs", headers=world.reader)
    assert listed.status_code == 200, listed.text
    assert [j["id"] for j in listed.json()["jobs"]] == [mine]
    shown = c.get(f"/api/v1/jobs/{mine}", headers=world.reader).json()
    assert shown["metrics"] == {"step": 3, "total": 10, "loss": 0.5, "eta_s": 7.0}
    assert shown["state"] == "running"
    assert c.get("/api/v1/jobs", params={"state": "succeeded"},
                 headers=world.reader).json()["jobs"] == []
    # another tenant's job is not found, in every route; malformed ids are refused
    for path in (f"/api/v1/jobs/{theirs}", f"/api/v1/jobs/{theirs}/events"):
        assert c.get(path, headers=world.admin).status_code == 404
    assert c.post(f"/api/v1/jobs/{theirs}/cancel", headers=world.admin).status_code == 404
    assert c.get(f"/api/v1/jobs/{mine}", headers=world.other).status_code == 404
    assert c.get("/api/v1/jobs/" + "f" * 32, headers=world.admin).status_code == 404
    assert c.get("/api/v1/jobs/" + "f" * 65, headers=world.admin).status_code == 422
    assert c.get("/api/v1/jobs", params={"limit": 0}, headers=world.admin).status_code == 422
    # reading is not cancelling; an operator-or-admin key cancels mid-run
    assert c.post(f"/api/v1/jobs/{mine}/cancel", headers=world.reader).status_code == 403
    cancelled = c.post(f"/api/v1/jobs/{mine}/cancel", headers=world.admin)
    assert cancelled.status_code == 200 and cancelled.json()["cancelled"] is True
    assert runner.join(mine, timeout=HANG).state == "cancelled"
    again = c.post(f"/api/v1/jobs/{mine}/cancel", headers=world.admin).json()
    assert again["cancelled"] is False and again["job"]["state"] == "cancelled"
    # a finished job's stream: its last progress, then the end
    events = _events(c.get(f"/api/v1/jobs/{mine}/events", headers=world.reader).text)
    assert [e for e, _ in events] == ["progress", "end"]
    assert events[0][1]["metrics"]["step"] == 3 and events[1][1]["state"] == "cancelled"
    assert c.get("/api/v1/jobs", headers=world.other).json()["jobs"][0]["id"] == theirs


async def test_the_event_stream_follows_a_running_job_to_its_end(world: ApiWorld,
                                                                 tmp_path: Path) -> None:
    runner = _runner(world)
    job_id = runner.submit("train", kinds.trainer, (str(tmp_path), 4, str(tmp_path / "go")))
    events = stream(runner, runner.status(job_id), poll_s=0.01)
    seen: list[dict[str, Any]] = []
    async for event in events:
        kind, data = _events(event)[0]
        if kind == "end":
            assert data["state"] == "succeeded" and data["result"]["steps"] == 4
            break
        seen.append(data)
        if data["message"] == "at the halfway checkpoint":
            (tmp_path / "go").write_text("go")  # let it finish
    assert seen[0]["state"] in ("queued", "running")
    steps = [s["metrics"]["step"] for s in seen if s["metrics"]]
    assert steps == sorted(steps) and steps[-1] == 4
    assert all(s["metrics"]["loss"] > 0 for s in seen if s["metrics"])


def test_the_cli_follows_a_job_through_a_servers_event_stream(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import io
    import threading

    from rich.console import Console

    from cerebra.cli.progress import follow_remote
    from cerebra.config import get_settings
    from cerebra.errors import CerebraError
    from cerebra.server.app import create_app
    from tests.helpers import running_server

    for name, value in {"CEREBRA_AUTH__MODE": "off", "CEREBRA_MODEL__FAKE": "true",
                        "CEREBRA_MEMORY__EMBEDDER": "fake",
                        "CEREBRA_HEALTH__INTERVAL_S": "0"}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    app = create_app(get_settings())
    with running_server(app) as base:
        runner: JobRunner = app.state.brain.jobs
        job_id = runner.submit("train", kinds.trainer, (str(tmp_path), 4, str(tmp_path / "go")))

        def release() -> None:  # once the stream's job holds at half way
            until(lambda: runner.status(job_id).message == "at the halfway checkpoint", "half")
            (tmp_path / "go").write_text("go")

        helper = threading.Thread(target=release)
        helper.start()
        screen = io.StringIO()
        done = follow_remote(base, job_id, console=Console(file=screen, width=200))
        helper.join(HANG)
        assert done["state"] == "succeeded" and done["result"]["steps"] == 4
        assert "step 4/4" in screen.getvalue()
        with pytest.raises(CerebraError) as missing:
            follow_remote(base, "f" * 32)
        assert "404" in missing.value.message
