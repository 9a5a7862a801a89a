"""GET /api/memory/graph (auth on: scopes, another tenant's entity 404, bad parameters 422)
and `cerebra memory graph`."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from cerebra.config import get_settings
from tests.helpers import ApiWorld, api_world, run_cli

GRAPH = "/api/memory/graph"


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[ApiWorld]:
    with api_world(monkeypatch) as made:
        yield made


def test_graph_route(world: ApiWorld) -> None:
    c = world.client
    for text in (
        "Caroline's dog Bo loves the beach in Sweden.",
        "Caroline Smith moved to Sweden in May 2023.",
        "I told Caroline about the pottery class.",
    ):
        assert c.post("/api/memory", json={"text": text}, headers=world.admin).status_code == 201
    c.post("/api/memory", json={"text": "I met Zed in Lisbon."}, headers=world.other)

    assert c.get(GRAPH).status_code == 401
    listed = c.get(GRAPH, headers=world.admin).json()["entities"]
    counts = {e["key"]: e["memories"] for e in listed}
    assert counts["sweden"] == 2 and "zed" not in counts and "lisbon" not in counts
    # a user-confined key sees its own user's graph only (the admin wrote with no user)
    assert c.get(GRAPH, headers=world.reader).json()["entities"] == []
    assert c.get(GRAPH, params={"entity": "Sweden"}, headers=world.reader).status_code == 404
    people = c.get(GRAPH, params={"kind": "person"}, headers=world.admin).json()["entities"]
    assert {e["kind"] for e in people} == {"person"}

    found = c.get(GRAPH, params={"entity": "Caroline Smith"}, headers=world.admin).json()
    entity = found["entity"]
    assert entity["aliases"] == ["caroline"] and entity["memories"] == 3
    assert {"sweden", "bo"} <= {n["key"] for n in entity["neighbours"]}
    assert len(entity["memory_ids"]) == 3
    path = c.get(GRAPH, params={"path": ["Bo", "May 2023"]}, headers=world.admin)
    assert path.json() == {"path": ["bo", "sweden", "2023-05"]}

    # another tenant's entity is not found, from either side
    assert c.get(GRAPH, params={"entity": "Zed"}, headers=world.admin).status_code == 404
    assert c.get(GRAPH, params={"entity": "Sweden"}, headers=world.other).status_code == 404
    nowhere = c.get(GRAPH, params={"path": ["Bo", "Zed"]}, headers=world.admin)
    assert nowhere.status_code == 404 and nowhere.json()["error"]["field"] == "target"
    # bad parameters: 422 naming the field
    for params, field in (
        ({"path": "Bo"}, "path"),
        ({"path": ["Bo", "Sweden", "May 2023"]}, "path"),
        ({"limit": 0}, "limit"),
        ({"kind": "planet"}, "kind"),
        ({"path": ["Bo", "Sweden"], "max_hops": 9}, "max_hops"),
        ({"entity": " "}, "entity"),
    ):
        bad = c.get(GRAPH, params=params, headers=world.admin)
        assert bad.status_code == 422, params
        assert field in json.dumps(bad.json()["error"]), (params, bad.json())


def test_graph_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CEREBRA_MEMORY__EMBEDDER", "fake")
    get_settings.cache_clear()
    from cerebra.runtime import build_memory_store

    store = build_memory_store(get_settings())
    store.add("a", "I told Nora about the jazz festival in Montreal.")
    store.add("a", "Nora bought tickets for Montreal.")
    store.backend.close()
    env = {"CEREBRA_MEMORY__EMBEDDER": "fake"}
    listed = run_cli("memory", "graph", "--agent", "a", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    counts = {e["key"]: e["memories"] for e in json.loads(listed.stdout)["entities"]}
    assert counts["montreal"] == 2 and counts["nora"] == 2
    shown = run_cli("memory", "graph", "--entity", "Montreal", env=env)
    assert shown.returncode == 0 and "nora" in shown.stdout and "2 memories" in shown.stdout
    misuse = run_cli("memory", "graph", "--source", "Nora", env=env)
    assert misuse.returncode == 2 and len(misuse.stderr.strip().splitlines()) == 1
