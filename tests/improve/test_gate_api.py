"""/api/v1/gate over real API keys: an evaluation submitted as a job through the app's
JobRunner (the fake model against itself on a shipped kit, so the gate refuses: no gain),
its stored report listed and read by the caller's tenant only; unknown kits and models,
and callers without training:write, refused as JSON errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cerebra.config import get_settings
from tests.helpers import ApiWorld, api_world


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[ApiWorld]:
    with api_world(monkeypatch) as made:
        yield made
    get_settings.cache_clear()


def test_an_evaluation_runs_as_a_job_and_its_report_is_stored(world: ApiWorld) -> None:
    client, brain = world.client, world.client.app.state.brain
    model = brain.models.default_name
    body = {"task": "date-iso", "candidate": model, "guards": ["ticket-triage", "date-iso"],
            "limit": 6, "guard_limit": 3, "rule": {"min_gain": 1.0}}
    started = client.post("/api/v1/gate/evaluate", json=body, headers=world.admin)
    assert started.status_code == 202, started.text
    job = brain.jobs.join(started.json()["job_id"], timeout=120)
    assert job.state == "succeeded", job.error
    result = job.result
    assert result["decision"] == "refuse" and result["gain"] == 0.0
    assert any("below the required 1" in r for r in result["reasons"])
    listed = client.get("/api/v1/gate/reports", headers=world.reader).json()
    assert listed["total"] == 1 and listed["reports"][0]["id"] == result["report_id"]
    assert listed["reports"][0]["candidate"] == model
    full = client.get(f"/api/v1/gate/reports/{result['report_id']}", headers=world.reader)
    assert full.status_code == 200
    report = full.json()["report"]
    assert report["task"]["n"] == 6 and [g["kit"] for g in report["guards"]] == ["ticket-triage"]
    assert report["guards"][0]["n"] == 3 and report["rule"]["min_gain"] == 1.0
    assert client.get("/api/v1/gate/reports", params={"decision": "promote"},
                      headers=world.admin).json()["reports"] == []
    hidden = client.get(f"/api/v1/gate/reports/{result['report_id']}", headers=world.other)
    assert hidden.status_code == 404 and hidden.json()["error"]["type"]
    assert client.get("/api/v1/gate/reports", headers=world.other).json()["total"] == 0


def test_bad_evaluations_are_refused(world: ApiWorld) -> None:
    client = world.client
    model = client.app.state.brain.models.default_name
    ok = {"task": "date-iso", "candidate": model}
    denied = client.post("/api/v1/gate/evaluate", json=ok, headers=world.reader)
    assert denied.status_code == 403 and denied.json()["error"]["type"]
    unknown_kit = client.post("/api/v1/gate/evaluate", json={**ok, "task": "no-such-kit"},
                              headers=world.admin)
    assert unknown_kit.status_code == 404
    unknown_model = client.post("/api/v1/gate/evaluate", json={**ok, "candidate": "nope:x"},
                                headers=world.admin)
    assert unknown_model.status_code == 404
    assert unknown_model.json()["error"]["field"] == "candidate"
    bad_rule = client.post("/api/v1/gate/evaluate", json={**ok, "rule": {"alpha": 2}},
                           headers=world.admin)
    assert bad_rule.status_code == 422
    assert client.get("/api/v1/gate/reports/" + "0" * 32,
                      headers=world.admin).status_code == 404
