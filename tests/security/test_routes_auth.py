"""Every route of the app, enumerated from the router itself, refuses what it must:
anonymous → 401 (except the public list), a principal without the scope → 403 naming it,
another tenant's ids → 404 — and a route that declares no requirement fails here."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.routing import Route

from cerebra.auth.identity import IdentityStore
from cerebra.auth.principal import ROLE_SCOPES, Role, Scope
from cerebra.config import get_settings
from cerebra.server.app import create_app
from cerebra.server.auth import RouteRequirement, route_requirements

PUBLIC = {("GET", "/healthz"), ("GET", "/readyz"),
          # the web dashboard's page and files: no data in them (its API calls carry
          # the signed-in credential)
          ("GET", "/dashboard"), ("GET", "/dashboard/"), ("GET", "/dashboard/static/{path}")}
DOCS = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
CATALOG = "{models: [{name: alpha, kind: fake, options: {reply: hi}}]}"


@dataclass
class World:
    client: TestClient
    identity: IdentityStore
    admin: str  # admin key of the default tenant
    other_admin: str  # admin key of tenant "other"
    requirements: list[RouteRequirement]

    def key(self, scopes: set[Scope]) -> str:
        """A key of the default tenant holding exactly `scopes` (roles narrowed)."""
        for role in (Role.READ_ONLY, Role.USER, Role.OPERATOR, Role.ADMIN):
            if {*scopes} <= ROLE_SCOPES[role]:
                secret, _ = self.identity.create_key("default", role=role,
                                                     scopes=[s.value for s in scopes])
                return secret
        raise AssertionError(f"no role grants {scopes}")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    mp = pytest.MonkeyPatch()
    home = tmp_path_factory.mktemp("home")
    for name, value in {
        "CEREBRA_HOME": str(home), "CEREBRA_AUTH__MODE": "on", "CEREBRA_MODEL__FAKE": "true",
        "CEREBRA_MEMORY__EMBEDDER": "fake", "CEREBRA_HEALTH__INTERVAL_S": "0",
        "CEREBRA_CATALOG__INLINE": CATALOG, "CEREBRA_ROUTER__STRATEGY": "thompson",
    }.items():
        mp.setenv(name, value)
    get_settings.cache_clear()
    app = create_app(get_settings())
    try:
        with TestClient(app) as client:
            identity = IdentityStore(app.state.brain.engine)
            identity.create_tenant("other")
            admin, _ = identity.create_key("default", role="admin")
            other, _ = identity.create_key("other", role="admin")
            yield World(client, identity, admin, other, route_requirements(app))
    finally:
        mp.undo()
        get_settings.cache_clear()


def _bearer(key: str | None) -> dict[str, str]:
    return {} if key is None else {"Authorization": f"Bearer {key}"}


def _call(world: World, r: RouteRequirement, key: str | None,
          ids: dict[str, str] | None = None) -> Any:
    path = re.sub(r"\{(\w+)\}", lambda m: (ids or {}).get(m.group(1), "x" * 8), r.path)
    body: dict[str, Any] | None = {} if r.method in ("POST", "PUT") else None
    if r.method == "PATCH":
        body = {"text": "changed"}  # a valid edit: refused for the id, not for the body
        if r.path.endswith("/profile"):
            body = {"job": "pilot"}  # a profile's fields are its attributes
    return world.client.request(r.method, path, json=body, headers=_bearer(key))


def test_every_route_declares_its_requirement(world: World) -> None:
    undeclared = [f"{r.method} {r.path}" for r in world.requirements
                  if not r.public and not r.scopes]
    assert not undeclared, f"routes without a declared requirement: {undeclared}"
    public = {(r.method, r.path) for r in world.requirements if r.public}
    assert public <= PUBLIC | {(m, p) for m, p in public if p in ("/token",)
                               or p.startswith("/auth/")}, public
    assert public >= PUBLIC
    others = {r.path for r in world.client.app.routes  # type: ignore[attr-defined]
              if isinstance(r, Route) and type(r) is Route}
    assert others <= DOCS, f"routes outside the API's declarations: {others - DOCS}"
    assert len(world.requirements) >= 36


def test_anonymous_callers_get_401_with_a_challenge(world: World) -> None:
    seen = 0
    for r in world.requirements:
        if r.public:
            continue
        response = _call(world, r, None)
        assert response.status_code == 401, (r, response.text)
        assert response.headers["WWW-Authenticate"].startswith("Bearer"), r
        assert response.json()["error"]["type"] == "unauthorized"
        seen += 1
    assert seen >= 34


def test_wrong_credentials_get_401(world: World) -> None:
    route = next(r for r in world.requirements if r.path == "/api/memory" and r.method == "GET")
    for header in ("Bearer ck-not-a-key", "Bearer not.a.jwt", "Basic abc", "Bearer"):
        response = world.client.get(route.path, headers={"Authorization": header})
        assert response.status_code == 401, header
        assert 'error="' in response.headers["WWW-Authenticate"]


def test_a_principal_without_the_scope_gets_403_naming_it(world: World) -> None:
    seen = 0
    for r in world.requirements:
        if r.public:
            continue
        for missing in sorted(Scope(s) for s in r.scopes):
            key = world.key(set(ROLE_SCOPES[Role.ADMIN]) - {missing})  # all but that one
            response = _call(world, r, key)
            assert response.status_code == 403, (r, missing, response.text)
            error = response.json()["error"]
            assert error["type"] == "forbidden"
            assert error["required_scope"] == missing.value, (r, error)
            seen += 1
    assert seen >= 34


def test_read_only_keys_cannot_write(world: World) -> None:
    key, _ = world.identity.create_key("default", role="read-only")
    response = world.client.post("/api/memory", json={"text": "hello"}, headers=_bearer(key))
    assert response.status_code == 403
    assert response.json()["error"]["required_scope"] == "memory:write"
    assert world.client.get("/api/memory", headers=_bearer(key)).status_code == 200


def _other_tenants_ids(world: World) -> dict[str, str]:
    headers = _bearer(world.other_admin)
    c = world.client
    memory_id = c.post("/api/memory", json={"text": "globex secret 42"},
                       headers=headers).json()["id"]
    answer = c.post("/api/llm/query", json={"prompt": "hi", "model": "auto"},
                    headers=headers).json()
    key_id = c.post("/api/keys", json={"role": "user"}, headers=headers).json()["id"]
    user_id = world.identity.create_user("other", f"u{len(key_id)}{key_id[-6:]}").id
    return {"memory_id": memory_id, "trace_id": answer["trace_id"],
            "decision_id": answer["routing"]["decision_id"], "key_id": key_id,
            "user_id": user_id}


def test_another_tenants_ids_are_not_found(world: World) -> None:
    ids = _other_tenants_ids(world)
    tried = 0
    for r in world.requirements:
        params = set(re.findall(r"\{(\w+)\}", r.path))
        if not params or params == {"name"}:  # model names are the site's catalog
            continue
        response = _call(world, r, world.admin, ids)
        assert response.status_code == 404, (r, response.text)
        assert "globex" not in response.text, r  # the 404 echoes the id asked for, no more
        tried += 1
    assert tried >= 6
    # and nothing changed for the owner
    owner = _bearer(world.other_admin)
    assert world.client.get(f"/api/memory/{ids['memory_id']}", headers=owner).status_code == 200
    keys = world.client.get("/api/keys", headers=owner).json()["keys"]
    assert any(k["id"] == ids["key_id"] and k["state"] == "active" for k in keys)


def test_feedback_on_another_tenants_trace_is_not_found(world: World) -> None:
    ids = _other_tenants_ids(world)
    for path, body in (("/api/feedback", {"trace_id": ids["trace_id"], "quality": 1}),
                       ("/api/router/feedback", {"decision_id": ids["decision_id"],
                                                 "quality": 1}),
                       ("/api/memory/feedback", {"memory_ids": [ids["memory_id"]],
                                                 "reward": 1})):
        response = world.client.post(path, json=body, headers=_bearer(world.admin))
        assert response.status_code in (404, 200), (path, response.text)
        if response.status_code == 200:  # memory feedback reports what it touched
            assert response.json() == {"updated": 0}


def test_revoking_a_key_through_the_api_applies_at_once(world: World) -> None:
    created = world.client.post("/api/keys", json={"role": "user"},
                                headers=_bearer(world.admin)).json()
    assert world.client.get("/api/memory", headers=_bearer(created["key"])).status_code == 200
    revoked = world.client.delete(f"/api/keys/{created['id']}", headers=_bearer(world.admin))
    assert revoked.json()["state"] == "revoked"
    response = world.client.get("/api/memory", headers=_bearer(created["key"]))
    assert response.status_code == 401
    assert "revoked" in response.json()["error"]["message"]


def test_key_administration_is_audited_from_the_cli() -> None:
    from tests.helpers import run_cli

    created = run_cli("keys", "create", "--role", "user", "--json")
    assert created.returncode == 0, created.stderr
    key_id = json.loads(created.stdout)["id"]
    assert run_cli("keys", "revoke", key_id).returncode == 0
    assert run_cli("keys", "create", "--role", "emperor").returncode == 2
    exported = run_cli("audit", "export")
    actions = [(e.get("action"), e.get("target")) for e in
               map(json.loads, exported.stdout.splitlines())]
    assert ("key.create", key_id) in actions and ("key.revoke", key_id) in actions
    assert run_cli("audit", "verify").returncode == 0


def test_limits_are_set_per_key_and_tenant_by_admins_only(world: World) -> None:
    admin = _bearer(world.admin)
    c = world.client
    created = c.post("/api/keys", json={"role": "user"}, headers=admin).json()
    body = {"requests_per_min": 1}
    assert c.put(f"/api/limits/keys/{created['id']}", json=body,
                 headers=_bearer(created["key"])).status_code == 403
    shown = c.put(f"/api/limits/keys/{created['id']}", json=body, headers=admin).json()
    assert shown["stored"]["requests_per_min"] == 1
    user = _bearer(created["key"])
    first = c.post("/api/llm/query", json={"prompt": "hi", "model": "alpha"}, headers=user)
    assert first.status_code == 200, first.text
    second = c.post("/api/llm/query", json={"prompt": "hi", "model": "alpha"}, headers=user)
    assert second.status_code == 429 and int(second.headers["Retry-After"]) >= 1
    assert second.json()["error"]["type"] == "rate_limited"
    other = c.get(f"/api/limits/keys/{created['id']}", headers=_bearer(world.other_admin))
    assert other.status_code == 404  # another tenant's key
    assert c.put("/api/limits/tenant", json={"daily_budget": -1},
                 headers=admin).status_code == 422


def test_limits_from_the_cli() -> None:
    from tests.helpers import run_cli

    key_id = json.loads(run_cli("keys", "create", "--json").stdout)["id"]
    done = run_cli("limits", "set", "--key", key_id, "--requests-per-min", "5")
    assert done.returncode == 0, done.stderr
    shown = json.loads(run_cli("limits", "show", "--key", key_id).stdout)
    assert shown["effective"]["requests_per_min"] == 5
    assert run_cli("limits", "set", "--key", "key_nope", "--daily-budget", "1").returncode == 2
