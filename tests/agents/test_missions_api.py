"""/api/missions and /api/teams with authentication on: create a mission, run it now (one
agent promoted, another sandboxed, visible in /api/agents), its runs and outcomes; create a
team, show it, record KPIs until it reassigns; unknown or another tenant's missions, runs
and teams are 404, bad input 422, and each scope gates what it should."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.helpers import ApiWorld, api_world, bearer

World = ApiWorld
_bearer = bearer


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    with api_world(monkeypatch) as made:
        yield made


def _mission(name: str, agents: list[str], pattern: str) -> dict[str, Any]:
    return {"name": name, "agents": agents, "max_tokens": 16,
            "prompts": [{"prompt": f"Question {i}", "check": {"kind": "regex",
                                                              "expected": pattern}}
                        for i in range(10)]}


def test_missions_over_http(world: World) -> None:
    c, admin = world.client, world.admin
    for agent in ("ada", "bo"):
        assert c.post("/api/agents", json={"id": agent}, headers=admin).status_code == 201
    made = c.post("/api/missions", json=_mission("easy", ["ada"], "."), headers=admin)
    assert made.status_code == 201, made.text
    assert made.json()["name"] == "easy" and made.json()["source"] == "database"
    assert c.post("/api/missions", json=_mission("easy", ["ada"], "."),
                  headers=admin).status_code == 409
    assert c.post("/api/missions", json=_mission("hard", ["bo"], "^zzz$"),
                  headers=admin).status_code == 201
    listed = c.get("/api/missions", headers=world.user).json()["missions"]
    assert [m["name"] for m in listed] == ["easy", "hard"]
    easy = c.post("/api/missions/easy/run", headers=admin)
    assert easy.status_code == 200, easy.text
    assert len(easy.json()["outcomes"]) == 10 and all(o["passed"]
                                                      for o in easy.json()["outcomes"])
    hard = c.post("/api/missions/hard/run", headers=admin).json()
    assert hard["summary"]["agents"]["bo"]["title"] == "sandboxed"
    titles = {a["id"]: a["title"] for a in c.get("/api/agents", headers=admin).json()["agents"]}
    assert titles == {"ada": "promoted", "bo": "sandboxed"}
    runs = c.get("/api/missions/hard/runs", headers=world.user).json()["runs"]
    assert [r["id"] for r in runs] == [hard["id"]]
    shown = c.get(f"/api/missions/hard/runs/{hard['id']}", headers=world.user).json()
    assert shown["outcomes"][0]["reason"].startswith("does not match")
    assert c.get(f"/api/missions/easy/runs/{hard['id']}", headers=admin).status_code == 404
    assert c.get("/api/missions/hard", headers=admin).json()["runs"][0]["id"] == hard["id"]
    # the user role reads, but does not write
    assert c.post("/api/missions/easy/run", headers=world.user).status_code == 403
    # another tenant sees none of it
    other = world.other
    assert c.get("/api/missions", headers=other).json() == {"missions": [], "problems": []}
    for path in ("/api/missions/hard", "/api/missions/hard/runs",
                 f"/api/missions/hard/runs/{hard['id']}"):
        response = c.get(path, headers=other)
        assert response.status_code == 404 and response.json()["error"]["type"].endswith(
            "not_found"), path
    assert c.post("/api/missions/hard/run", headers=other).status_code == 404


@pytest.mark.parametrize("body, field", [
    ({"name": "x", "prompts": []}, "prompts"),
    ({"name": "bad name", "prompts": [{"prompt": "hi", "check": {"kind": "regex",
                                                                 "expected": "."}}]}, "name"),
    ({"name": "x", "prompts": [{"prompt": "hi", "check": {"kind": "regex",
                                                          "expected": "("}}]}, "pattern"),
    ({"name": "x", "prompts": [{"prompt": "hi"}]}, "prompts"),  # no check and no judge
    ({"name": "x", "prompts": [{"prompt": "hi", "check": {"kind": "function",
                                                          "expected": "x"}}]}, "check"),
    ({"name": "x", "prompts": [{"prompt": "hi", "check": {"kind": "numeric",
                                                          "expected": "4"}}]}, "expected"),
    ({"name": "x", "replace": 1, "prompts": [{"prompt": "hi", "check": {
        "kind": "regex", "expected": "."}}]}, "replace"),
])
def test_bad_missions_are_422_naming_the_field(world: World, body: dict[str, Any],
                                               field: str) -> None:
    response = world.client.post("/api/missions", json=body, headers=world.admin)
    assert response.status_code == 422, response.text
    assert field in str(response.json()["error"].get("field", "")) + \
        response.json()["error"]["message"]


def test_teams_over_http(world: World) -> None:
    c, admin = world.client, world.admin
    made = c.post("/api/teams", json={"name": "biz1", "roles": {
        "marketing": {"kpi": "leads", "target": 10, "window": 2}, "dev": {}}}, headers=admin)
    assert made.status_code == 201, made.text
    assert [(r["role"], r["agent_id"]) for r in made.json()["roles"]] == [
        ("marketing", "biz1.marketing.1"), ("dev", "biz1.dev.1")]
    assert c.post("/api/teams", json={"name": "biz1", "roles": {"dev": {}}},
                  headers=admin).status_code == 409
    first = c.post("/api/teams/biz1/kpi", json={"role": "marketing", "value": 3},
                   headers=admin).json()
    assert first["met"] is False and first["reassigned_to"] is None
    second = c.post("/api/teams/biz1/kpi", json={"role": "marketing", "value": 4,
                                                 "note": "week 2"}, headers=admin).json()
    assert second["reassigned_to"] == "biz1.marketing.2"
    shown = c.get("/api/teams/biz1", headers=world.user).json()
    marketing = shown["roles"][0]
    assert marketing["agent_id"] == "biz1.marketing.2"
    assert [k["value"] for k in marketing["kpis"]] == [3.0, 4.0]
    assert len(marketing["assignments"]) == 2
    assert c.get("/api/teams", headers=world.user).json() == {"teams": ["biz1"]}
    # bad input and other tenants
    assert c.post("/api/teams/biz1/kpi", json={"role": "sales", "value": 1},
                  headers=admin).status_code == 404
    assert c.post("/api/teams/biz1/kpi", json={"role": "dev", "value": "high"},
                  headers=admin).status_code == 422
    assert c.post("/api/teams", json={"name": "t", "roles": {"dev": {"agent_id": "ghost"}}},
                  headers=admin).status_code == 404
    assert c.post("/api/teams", json={"name": "t", "roles": {"bad role": {}}},
                  headers=admin).status_code == 422
    assert c.get("/api/teams/biz1", headers=world.other).status_code == 404
    assert c.post("/api/teams/biz1/kpi", json={}, headers=world.other).status_code == 404
    assert c.get("/api/teams", headers=world.other).json() == {"teams": []}
