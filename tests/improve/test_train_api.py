"""The workflows and training routes on a running app (auth on): 422s naming the key and
line, scopes, tenant scoping (another tenant's workflow, run or dataset is a 404), and a
training run started through /api/llm/train as a job of the app's runner (with a stand-in
trainer: the real one is part D's)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from cerebra.context import RequestContext
from cerebra.improve.datasets import DatasetStore
from cerebra.improve.rows import SftRow
from cerebra.improve.train_job import register_training
from tests.helpers import ApiWorld, api_world
from tests.improve.test_workflow_runs import FakeTrainer


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[ApiWorld]:
    with api_world(monkeypatch) as w:
        yield w


def _app(world: ApiWorld) -> Any:
    return world.client.app


def test_create_names_the_key_and_line_of_a_mistake(world: ApiWorld) -> None:
    c = world.client
    bad = c.post("/api/v1/workflows/create", headers=world.admin,
                 json={"yaml": "name: w\nextends: quick\n\nlora_r: 0\n"})
    assert bad.status_code == 422
    assert bad.json()["error"] == {"type": "invalid_workflow", "field": "lora_r", "line": 4,
                                   "message": "line 4: lora_r: must be ≥ 1"}
    unknown = c.post("/api/v1/workflows/create", headers=world.admin,
                     json={"yaml": "name: w\nlearnin_rate: 1e-4\n"}).json()["error"]
    assert unknown["line"] == 2 and "did you mean learning_rate?" in unknown["message"]
    fields = c.post("/api/v1/workflows/create", headers=world.admin,
                    json={"workflow": {"name": "w", "stage": "ppo"}}).json()["error"]
    assert fields["field"] == "stage" and "line" not in fields
    both = c.post("/api/v1/workflows/create", headers=world.admin,
                  json={"yaml": "name: w\n", "workflow": {"name": "w"}})
    assert both.status_code == 422
    # no file of the server may be read through extends:
    files = c.post("/api/v1/workflows/create", headers=world.admin,
                   json={"yaml": "name: w\nextends: ../../etc/x.yaml\n"}).json()["error"]
    assert "only from a local file" in files["message"]
    # nor does the server's environment leak into a document
    env = c.post("/api/v1/workflows/create", headers=world.admin,
                 json={"yaml": "name: w\nbase_model: ${CEREBRA_HOME}\n"})
    assert env.status_code == 422 and env.json()["error"]["field"] == "base_model"


def test_workflows_are_per_tenant_and_need_their_scopes(world: ApiWorld) -> None:
    c = world.client
    made = c.post("/api/v1/workflows/create", headers=world.admin,
                  json={"name": "house", "yaml": "extends: quick\nlora_r: 4\n"})
    assert made.status_code == 201, made.text
    assert made.json()["workflow"]["lora_r"] == 4 and made.json()["workflow"]["max_steps"] == 20
    listed = c.get("/api/v1/workflows", headers=world.reader).json()
    assert [w["name"] for w in listed["workflows"]] == ["house"]
    assert {"quick", "sft-lora-cpu"} <= {t["name"] for t in listed["templates"]}
    assert c.get("/api/v1/workflows/house", headers=world.reader).json()["name"] == "house"
    # another tenant sees none of it, and cannot extend it
    assert c.get("/api/v1/workflows", headers=world.other).json()["workflows"] == []
    assert c.get("/api/v1/workflows/house", headers=world.other).status_code == 404
    child = c.post("/api/v1/workflows/create", headers=world.other,
                   json={"yaml": "name: c\nextends: house\n"})
    assert child.status_code == 422 and "'house'" in child.json()["error"]["message"]
    # read-only and user keys may not write or train
    for who in (world.reader, world.user):
        refused = c.post("/api/v1/workflows/create", headers=who,
                         json={"yaml": "name: x\n"})
        assert refused.status_code == 403
        assert refused.json()["error"]["required_scope"] == "training:write"
        assert c.post("/api/llm/train", headers=who,
                      json={"workflow": "house"}).status_code == 403
    assert c.get("/api/v1/workflows").status_code == 401


def test_train_runs_a_job_and_records_the_run(world: ApiWorld) -> None:
    c, app = world.client, _app(world)
    brain = app.state.brain
    trainer = FakeTrainer(steps=3)
    register_training(brain.jobs, brain.engine, trainer=trainer)
    store = DatasetStore(brain.engine)
    store.create_version(RequestContext(tenant_id="default"), "faq", "sft",
                         [SftRow("Q: name?\nA:", " Cerebra")])
    store.create_version(RequestContext(tenant_id="other"), "secret", "sft",
                         [SftRow("globex", " 42")])
    c.post("/api/v1/workflows/create", headers=world.admin,
           json={"yaml": "name: faq-tune\nextends: quick\ndatasets: [faq@1]\n"})
    started = c.post("/api/llm/train", headers=world.admin, json={"workflow": "faq-tune"})
    assert started.status_code == 202, started.text
    body = started.json()
    assert body["workflow"] == "faq-tune" and body["datasets"][0]["name"] == "faq"
    info = brain.jobs.join(body["job_id"], timeout=60)
    assert info.state == "succeeded", info.error
    shown = c.get(f"/api/v1/training/runs/{body['run_id']}", headers=world.reader).json()
    assert shown["state"] == "succeeded" and shown["metrics"]["steps"] == 3
    assert shown["job"]["state"] == "succeeded" and shown["adapter"] is True
    assert [p["step"] for p in shown["progress"]] == [1, 2, 3]
    assert "out_dir" not in shown  # server paths stay on the server
    by_job = c.get(f"/api/v1/training/runs/{body['job_id']}", headers=world.reader).json()
    assert by_job["id"] == body["run_id"]
    runs = c.get("/api/v1/training/runs", headers=world.reader).json()["runs"]
    assert [r["id"] for r in runs] == [body["run_id"]]
    # another tenant: not its run, not its dataset, not its workflow
    assert c.get(f"/api/v1/training/runs/{body['run_id']}",
                 headers=world.other).status_code == 404
    assert c.get("/api/v1/training/runs", headers=world.other).json()["runs"] == []
    assert c.post("/api/llm/train", headers=world.admin,
                  json={"workflow": "quick", "datasets": ["secret"]}).status_code == 404
    assert c.post("/api/llm/train", headers=world.other,
                  json={"workflow": "faq-tune"}).status_code == 404
    # inline YAML on a template, datasets named with the request
    inline = c.post("/api/llm/train", headers=world.admin,
                    json={"yaml": "name: inline\nextends: quick\n", "datasets": ["faq"]})
    assert inline.status_code == 202, inline.text
    assert brain.jobs.join(inline.json()["job_id"], timeout=60).state == "succeeded"
    assert len(trainer.calls) == 2


def test_train_refuses_what_cannot_run(world: ApiWorld) -> None:
    c = world.client
    no_data = c.post("/api/llm/train", headers=world.admin, json={"workflow": "quick"})
    assert no_data.status_code == 422 and no_data.json()["error"]["field"] == "datasets"
    both = c.post("/api/llm/train", headers=world.admin,
                  json={"workflow": "quick", "yaml": "name: a\n"})
    assert both.status_code == 422 and both.json()["error"]["field"] == "workflow"
    bad = c.post("/api/llm/train", headers=world.admin,
                 json={"yaml": "name: a\nstage: dpo\ndpo_beta: 0\n", "datasets": ["x"]})
    assert bad.json()["error"]["message"] == "line 3: dpo_beta: must be > 0.0"
    assert c.post("/api/llm/train", headers=world.admin,
                  json={"workflow": "nothing-here"}).status_code == 404
    assert c.get("/api/v1/training/runs/run_nope", headers=world.admin).status_code == 404
