"""/api/router takes the tenant from the request context, never from a parameter or a body:
each tenant sees, rates and configures only its own routing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from cerebra.auth.principal import local_admin
from cerebra.config import get_settings
from cerebra.context import RequestContext
from cerebra.models.base import GenerationRequest
from cerebra.server.app import create_app
from cerebra.server.deps import get_request_context

CATALOG = """
models:
  - {name: alpha, kind: fake, options: {reply: "alpha here"}}
  - {name: beta, kind: fake, options: {reply: "beta here"}}
"""


class Caller:
    """Who the requests come from (what authentication will fill in)."""

    def __init__(self) -> None:
        self.tenant = "acme"

    def __call__(self) -> RequestContext:
        return RequestContext(tenant_id=self.tenant, principal=local_admin(self.tenant))


@pytest.fixture
def caller() -> Caller:
    return Caller()


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch, caller: Caller) -> Iterator[TestClient]:
    for name, value in (("CEREBRA_EMBEDDED_MODEL", "false"), ("CEREBRA_EMBEDDER", "fake"),
                        ("CEREBRA_MODELS", CATALOG), ("CEREBRA_ROUTER_STRATEGY", "thompson"),
                        ("CEREBRA_HEALTH_INTERVAL_S", "0")):
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    app = create_app(get_settings())
    app.dependency_overrides[get_request_context] = caller
    with TestClient(app) as c:
        yield c


def _ask(client: TestClient, tenant: str) -> str:
    """A request of `tenant` through the router; the id of its decision."""
    router = client.app.state.brain.router  # type: ignore[attr-defined]
    gen = router.generate(GenerationRequest(prompt="hello", max_tokens=8,
                                            context=RequestContext(tenant_id=tenant)))
    decision_id: str = gen.routing.decision_id
    return decision_id


def test_decisions_and_feedback_are_the_callers_tenants(client: TestClient,
                                                        caller: Caller) -> None:
    mine = _ask(client, "acme")
    listed = client.get("/api/router/decisions").json()["decisions"]
    assert [d["id"] for d in listed] == [mine] and listed[0]["tenant_id"] == "acme"
    caller.tenant = "globex"
    theirs = _ask(client, "globex")
    assert [d["id"] for d in client.get("/api/router/decisions").json()["decisions"]] == [theirs]
    assert client.get(f"/api/router/decisions/{mine}").status_code == 404
    rate = {"decision_id": mine, "quality": 0.9}
    assert client.post("/api/router/feedback", json=rate).status_code == 404
    caller.tenant = "acme"
    assert client.get(f"/api/router/decisions/{mine}").json()["id"] == mine
    assert client.post("/api/router/feedback", json=rate).status_code == 200


def test_tenant_parameters_are_refused(client: TestClient) -> None:
    for path in ("/api/router/decisions?tenant_id=other", "/api/router/stats?tenant_id=other"):
        r = client.get(path)
        assert r.status_code == 422 and r.json()["error"]["field"] == "tenant_id", r.text
    r = client.put("/api/router/policies",
                   json={"tenant_id": "other", "policy": {"strategy": "fixed"}})
    assert r.status_code == 422
    assert client.delete("/api/router/policies?tenant_id=other").status_code == 422


def test_policies_are_set_for_the_callers_tenant(client: TestClient, caller: Caller) -> None:
    r = client.put("/api/router/policies", json={
        "agent_id": "coder", "policy": {"strategy": "fixed", "params": {"arm": "beta"}}})
    assert r.status_code == 200, r.text
    assert (r.json()["tenant_id"], r.json()["agent_id"]) == ("acme", "coder")
    pairs = {(p["tenant_id"], p["agent_id"])
             for p in client.get("/api/router/policies").json()["policies"]}
    assert pairs == {("*", "*"), ("acme", "coder")}
    stats = client.get("/api/router/stats?agent_id=coder").json()
    assert stats["tenant_id"] == "acme" and stats["scope"] == "coder"
    assert stats["strategy"] == "fixed"
    caller.tenant = "globex"
    pairs = {(p["tenant_id"], p["agent_id"])
             for p in client.get("/api/router/policies").json()["policies"]}
    assert pairs == {("*", "*")}
    assert client.get("/api/router/stats?agent_id=coder").json()["strategy"] == "thompson"
    assert client.delete("/api/router/policies?agent_id=coder").status_code == 404
    caller.tenant = "acme"
    assert client.delete("/api/router/policies?agent_id=coder").json() == {
        "deleted": "acme/coder"}
