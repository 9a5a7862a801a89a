"""/api/agents with authentication on: create, list, show (with title history), record,
mentor, clone, combine, ask and delete for the caller's tenant; unknown or another tenant's
agents are 404 whatever the body, bad input 422 naming the field, a sandboxed agent 409 when
asked, and each scope gates what it should."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cerebra.auth.identity import IdentityStore
from tests.helpers import ApiWorld, api_world, bearer

World = ApiWorld
_bearer = bearer


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    with api_world(monkeypatch) as made:
        yield made


def test_an_agents_career_over_http(world: World) -> None:
    c, admin = world.client, world.admin
    created = c.post("/api/agents", json={"id": "alice", "traits": ["brave", "curious"]},
                     headers=admin)
    assert created.status_code == 201, created.text
    assert created.json()["title"] == "novice" and created.json()["mood"] == "confident"
    assert c.post("/api/agents", json={"id": "alice"}, headers=admin).status_code == 409
    for _ in range(5):
        last = c.post("/api/agents/alice/record", json={"outcome": True, "reason": "won"},
                      headers=admin)
        assert last.status_code == 200, last.text
    assert last.json()["title"] == "promoted" and last.json()["n"] == 5
    shown = c.get("/api/agents/alice", headers=world.user).json()
    assert [h["to_title"] for h in shown["history"]] == ["novice", "promoted"]
    assert shown["history"][1]["reason"].endswith("(won)")
    mentee = c.post("/api/agents/alice/mentor", json={"mentee_id": "bob"}, headers=admin)
    assert mentee.status_code == 200 and mentee.json()["mentor_id"] == "alice"
    clone = c.post("/api/agents/alice/clone", json={"new_id": "alice_clone"}, headers=admin)
    assert clone.status_code == 201 and clone.json()["mentor_id"] == "alice"
    child = c.post("/api/agents/alice/combine", json={"other_id": "bob", "new_id": "carol"},
                   headers=admin)
    assert child.status_code == 201 and child.json()["parents"] == ["alice", "bob"]
    listed = c.get("/api/agents", headers=world.user).json()["agents"]
    assert [a["id"] for a in listed] == ["alice", "alice_clone", "bob", "carol"]
    promoted = c.get("/api/agents", params={"title": "promoted"}, headers=admin).json()
    assert [a["id"] for a in promoted["agents"]] == ["alice"]
    answer = c.post("/api/agents/alice/ask", json={"prompt": "hello"}, headers=world.user)
    assert answer.status_code == 200, answer.text
    assert answer.json()["agent_id"] == "alice" and answer.json()["answer"]
    assert c.delete("/api/agents/carol", headers=admin).json() == {"deleted": "carol"}
    assert c.get("/api/agents/carol", headers=admin).status_code == 404


def test_a_sandboxed_agent_is_refused_to_users(world: World) -> None:
    c, admin = world.client, world.admin
    c.post("/api/agents", json={"id": "bob"}, headers=admin)
    for _ in range(10):
        last = c.post("/api/agents/bob/record", json={"outcome": 0.0}, headers=admin).json()
    assert last["title"] == "sandboxed" and last["sandboxed"] is True
    refused = c.post("/api/agents/bob/ask", json={"prompt": "hello"}, headers=admin)
    assert refused.status_code == 409
    assert refused.json()["error"]["type"] == "agent_sandboxed"
    assert "competitions" in refused.json()["error"]["message"]


def test_unknown_and_other_tenants_agents_are_not_found(world: World) -> None:
    c = world.client
    c.post("/api/agents", json={"id": "globex"}, headers=world.other)
    for method, path in (("GET", "/api/agents/globex"), ("DELETE", "/api/agents/globex"),
                         ("POST", "/api/agents/globex/record"),
                         ("POST", "/api/agents/globex/mentor"),
                         ("POST", "/api/agents/globex/clone"),
                         ("POST", "/api/agents/globex/combine"),
                         ("POST", "/api/agents/globex/ask"),
                         ("GET", "/api/agents/nobody")):
        # even an invalid body: the id is looked up first
        body: dict[str, str] | None = {} if method == "POST" else None
        response = c.request(method, path, json=body, headers=world.admin)
        assert response.status_code == 404, (path, response.text)
        assert response.json()["error"]["type"] == "agent_not_found"
    assert c.get("/api/agents", headers=world.admin).json() == {"agents": []}
    assert c.get("/api/agents/globex", headers=world.other).status_code == 200


def test_bad_input_is_422_naming_the_field(world: World) -> None:
    c, admin = world.client, world.admin
    c.post("/api/agents", json={"id": "alice"}, headers=admin)
    for body, field in (({"id": "no spaces"}, "id"), ({"id": "a", "traits": ["x;y"]}, "traits"),
                        ({"id": "a", "tenant_id": "other"}, "tenant_id")):
        response = c.post("/api/agents", json=body, headers=admin)
        assert response.status_code == 422, body
        assert field in (response.json()["error"]["field"] or ""), response.json()
    for outcome in (1.5, "true", None):
        response = c.post("/api/agents/alice/record", json={"outcome": outcome}, headers=admin)
        assert response.status_code == 422, outcome
    assert c.get("/api/agents", params={"title": "boss"}, headers=admin).status_code == 422
    blank = c.post("/api/agents/alice/ask", json={"prompt": "  "}, headers=admin)
    assert blank.status_code == 422


def test_scopes(world: World) -> None:
    c = world.client
    refused = c.post("/api/agents", json={"id": "x"}, headers=world.user)
    assert refused.status_code == 403
    assert refused.json()["error"]["required_scope"] == "agents:write"
    assert c.get("/api/agents").status_code == 401


def test_an_agents_key_answers_only_as_that_agent(world: World) -> None:
    c = world.client
    for agent_id in ("alice", "bob"):
        c.post("/api/agents", json={"id": agent_id}, headers=world.admin)
    identity = IdentityStore(c.app.state.brain.engine)  # type: ignore[attr-defined]
    key, _ = identity.create_key("default", role="agent", agent_id="alice")
    own = c.post("/api/agents/alice/ask", json={"prompt": "hello"}, headers=_bearer(key))
    assert own.status_code == 200, own.text
    other = c.post("/api/agents/bob/ask", json={"prompt": "hello"}, headers=_bearer(key))
    assert other.status_code == 403 and other.json()["error"]["field"] == "agent_id"


def test_an_agents_template_renders_through_the_prompt_manager(world: World) -> None:
    from cerebra.context import RequestContext
    from cerebra.prompts.template_store import TemplateStore

    c = world.client
    store = TemplateStore(c.app.state.brain.engine)  # type: ignore[attr-defined]
    store.add("terse", "TEMPLATE for {{ name }} ({{ traits | join(', ') }})",
              context=RequestContext(tenant_id="default"))
    c.post("/api/agents", json={"id": "alice", "traits": ["brave"], "template": "terse"},
           headers=world.admin)
    answer = c.post("/api/agents/alice/ask", json={"prompt": "hello"}, headers=world.admin)
    assert answer.status_code == 200, answer.text
    from cerebra.testing import FakeModel
    from tests.effects.base import unwrap

    model = unwrap(c.app.state.brain.models.get(), FakeModel)  # type: ignore[attr-defined]
    assert "TEMPLATE for alice (brave)" in model.prompts[-1]
    c.post("/api/agents", json={"id": "bob", "template": "missing"}, headers=world.admin)
    unknown = c.post("/api/agents/bob/ask", json={"prompt": "hello"}, headers=world.admin)
    assert unknown.status_code == 404, unknown.text
