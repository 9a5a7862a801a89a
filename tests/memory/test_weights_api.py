"""Learned weights over HTTP and the CLI: feedback on a context bundle teaches the tenant's
weights, GET /api/memory/weights shows them, reset and rollback need memory:any_user, other
tenants see none of it, bad input is 422 naming the field; `cerebra memory weights`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from cerebra.auth.identity import IdentityStore
from cerebra.brain import Brain
from cerebra.cli.main import app as cli
from cerebra.config import Settings
from cerebra.errors import InvalidInput
from cerebra.server.app import create_app
from cerebra.testing import FakeEmbedder, FakeModel
from tests.helpers import run_cli

URL = "/api/memory/weights"


@dataclass
class World:
    client: TestClient
    brain: Brain
    user: dict[str, str]
    operator: dict[str, str]
    other: dict[str, str]  # an admin of another tenant


@pytest.fixture
def world() -> Iterator[World]:
    config = Settings(auth={"mode": "on"}, health={"interval_s": 0})
    brain = Brain.from_settings(config, model=FakeModel("unused"), embedder=FakeEmbedder())
    identity = IdentityStore(brain.engine)
    for tenant in ("t1", "t2"):
        identity.create_tenant(tenant)
    user = identity.create_key("t1", role="user", user_id="alice")[0]
    operator = identity.create_key("t1", role="operator", user_id="olga")[0]
    other = identity.create_key("t2", role="admin")[0]
    with TestClient(create_app(config, brain=brain)) as client:
        yield World(client, brain, {"Authorization": f"Bearer {user}"},
                    {"Authorization": f"Bearer {operator}"},
                    {"Authorization": f"Bearer {other}"})


def _margin(bundle: dict[str, Any]) -> float:
    """How far the helpful memory scores above the best other one."""
    scores = {"zanzibar" in m["text"]: m["score"] for m in bundle["memories"]}
    return float(scores[True] - scores[False])


def _ask(world: World) -> dict[str, Any]:
    got = world.client.post("/context/evaluate", headers=world.user, json={
        "query": "what did you say about zanzibar", "k": 2})
    assert got.status_code == 200, got.text
    bundle: dict[str, Any] = got.json()
    return bundle


def _teach(world: World) -> dict[str, Any]:
    """Alice's agent finds the memory that names the rare word more helpful than the one
    that shares the question's common words."""
    made = world.client.post("/api/memory/batch", headers=world.user, json={"items": [
        {"text": "zanzibar is where my favourite bread recipe comes from"},
        {"text": "so what did you say then"},
        {"text": "nice weather today"},
    ]})
    assert made.status_code == 201, made.text
    bundle = _ask(world)
    helpful = [m["id"] for m in bundle["memories"] if "zanzibar" in m["text"]]
    fed = world.client.post("/context/feedback", headers=world.user,
                            json={"bundle_id": bundle["id"], "helpful": helpful})
    assert fed.status_code == 200, fed.text
    return bundle


def test_feedback_teaches_the_tenants_weights_and_reset_returns_the_defaults(world: World
                                                                               ) -> None:
    shown = world.client.get(URL, headers=world.user).json()
    assert shown["learning"] is True and shown["source"] == "defaults"
    assert shown["weights"] == shown["defaults"] and shown["history"] == []
    first = _teach(world)
    learned = world.client.get(URL, headers=world.user).json()
    assert (learned["source"], learned["version"]) == ("tenant", 1)
    assert learned["history"][0]["event"] == "update" and learned["history"][0]["pairs"] == 1
    assert learned["weights"] != learned["defaults"]
    # the next bundle ranks with the learned weights (the helpful memory further ahead)
    # and records them
    again = _ask(world)
    assert _margin(again) > _margin(first)
    assert again["weights"]["text"] == pytest.approx(learned["weights"]["text"])

    assert world.client.post(f"{URL}/reset", headers=world.user, json={}).status_code == 403
    reset = world.client.post(f"{URL}/reset", headers=world.operator, json={})
    assert reset.status_code == 200 and reset.json()["event"] == "reset"
    assert world.client.get(URL, headers=world.user).json()["weights"] == learned["defaults"]
    back = world.client.post(f"{URL}/rollback", headers=world.operator, json={"version": 1})
    assert back.status_code == 200 and back.json()["based_on"] == 1
    assert world.client.get(URL, headers=world.user).json()["weights"] == learned["weights"]


def test_other_tenants_see_none_of_it(world: World) -> None:
    _teach(world)
    theirs = world.client.get(URL, headers=world.other).json()
    assert theirs["source"] == "defaults" and theirs["history"] == []
    missing = world.client.post(f"{URL}/rollback", headers=world.other, json={"version": 1})
    assert missing.status_code == 404 and missing.json()["error"]["field"] == "version"
    assert world.client.get(URL).status_code == 401


@pytest.mark.parametrize(("path", "body", "field"), [
    ("rollback", {"version": 0}, "version"),
    ("rollback", {"version": "1"}, "version"),
    ("rollback", {}, "version"),
    ("reset", {"agent_id": "x" * 201}, "agent_id"),
])
def test_bad_input_is_422_naming_the_field(world: World, path: str, body: dict[str, object],
                                           field: str) -> None:
    got = world.client.post(f"{URL}/{path}", headers=world.operator, json=body)
    assert got.status_code == 422 and got.json()["error"]["field"] == field
    long = world.client.get(URL, headers=world.user, params={"agent_id": "x" * 201})
    assert long.status_code == 422 and long.json()["error"]["field"] == "agent_id"


def test_cli_shows_resets_and_rolls_back(fake_env: None) -> None:
    runner = CliRunner()
    shown = runner.invoke(cli, ["memory", "weights", "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["source"] == "defaults"
    reset = runner.invoke(cli, ["memory", "weights", "--reset", "--agent", "helper"])
    assert reset.exit_code == 0 and json.loads(reset.output)["event"] == "reset"
    table = runner.invoke(cli, ["memory", "weights", "--agent", "helper"])
    assert table.exit_code == 0 and "agent version 1" in table.output
    back = runner.invoke(cli, ["memory", "weights", "--rollback", "1", "--agent", "helper"])
    assert back.exit_code == 0 and json.loads(back.output)["based_on"] == 1
    both = runner.invoke(cli, ["memory", "weights", "--reset", "--rollback", "1"])
    assert isinstance(both.exception, InvalidInput) and both.exception.field == "reset"
    missing = run_cli("memory", "weights", "--rollback", "7", env={"CEREBRA_EMBEDDER": "fake"})
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1
    assert "no weights version 7" in missing.stderr
