"""A user's own limits hold for its token and wallet sign-ins, as a key's own limits do for
the key: stored per user (over the key defaults), set by admins over HTTP and the CLI, kept
apart from the tenant's own limits, another tenant's user not found."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from cerebra.auth.identity import IdentityStore
from cerebra.auth.limit_store import LimitStore
from cerebra.auth.limits import Limits
from cerebra.db.engine import make_engine
from cerebra.db.migrate import upgrade
from cerebra.errors import NotFound
from tests.helpers import run_cli
from tests.security.token_app import AuthApp, auth_app, error_of

QUERY = {"prompt": "hello", "memory": False, "max_tokens": 4}


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> Iterator[AuthApp]:
    with auth_app(monkeypatch) as made:
        yield made


def ask(app: AuthApp, bearer: str) -> int:
    return int(app.client.post("/api/llm/query", json=QUERY,
                               headers={"Authorization": f"Bearer {bearer}"}).status_code)


def test_a_users_limits_hold_for_its_sign_ins(app: AuthApp) -> None:
    admin, _ = app.identity.create_key("default", role="admin")
    alice = app.identity.list_users("default")[0]
    app.identity.create_user("default", "bob", "another password")
    first, second = app.login().json(), app.login().json()  # two sign-ins, one user
    bobs = app.login("bob", "another password").json()
    put = app.client.put(f"/api/limits/users/{alice.id}", json={"requests_per_min": 2},
                         headers={"Authorization": f"Bearer {admin}"})
    assert put.status_code == 200, put.text
    assert put.json()["stored"]["requests_per_min"] == 2
    assert put.json()["effective"]["requests_per_min"] == 2
    assert ask(app, first["access_token"]) == 200
    assert ask(app, second["access_token"]) == 200
    limited = app.client.post("/api/llm/query", json=QUERY, headers={
        "Authorization": f"Bearer {first['access_token']}"})
    assert limited.status_code == 429, limited.text
    assert error_of(limited)["subject"] == "user" and int(limited.headers["Retry-After"]) >= 1
    for _ in range(3):  # bob has only the defaults (unlimited)
        assert ask(app, bobs["access_token"]) == 200
    shown = app.client.get(f"/api/limits/users/{alice.id}",
                           headers={"Authorization": f"Bearer {bobs['access_token']}"})
    assert shown.status_code == 403  # a user may not read or set limits


def test_a_wallet_users_limits_hold(app: AuthApp) -> None:
    admin, _ = app.identity.create_key("default", role="admin")
    key = SigningKey.generate()
    token = app.wallet_login(key).json()["access_token"]
    user = next(u for u in app.identity.list_users("default") if u.wallet)
    put = app.client.put(f"/api/limits/users/{user.id}", json={"requests_per_min": 1},
                         headers={"Authorization": f"Bearer {admin}"})
    assert put.status_code == 200
    assert ask(app, token) == 200
    assert ask(app, app.wallet_login(key).json()["access_token"]) == 429


def test_another_tenants_user_is_not_found(app: AuthApp) -> None:
    app.identity.create_tenant("acme")
    theirs = app.identity.create_user("acme", "carol", "a password of carol")
    admin, _ = app.identity.create_key("default", role="admin")
    headers = {"Authorization": f"Bearer {admin}"}
    for method in ("GET", "PUT"):
        response = app.client.request(method, f"/api/limits/users/{theirs.id}",
                                      json={"requests_per_min": 1}, headers=headers)
        assert response.status_code == 404, response.text
    assert LimitStore(app.identity.engine).user_limits("acme", theirs.id) == Limits()


def test_user_and_tenant_limits_are_stored_apart(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(engine)
    identity = IdentityStore(engine)
    identity.create_tenant("t1")
    user = identity.create_user("t1", "dora", "a password of dora")
    store = LimitStore(engine, key_defaults=Limits(requests_per_min=50, daily_budget=1.0),
                       cache_s=0)
    assert store.for_user("t1", user.id) == Limits(requests_per_min=50, daily_budget=1.0)
    store.set_tenant_limits("t1", {"monthly_budget": 9.0})
    store.set_user_limits("t1", user.id, {"requests_per_min": 5, "daily_budget": 0})
    store.set_tenant_limits("t1", {"monthly_budget": 10.0})  # keeps the user's
    assert store.user_limits("t1", user.id) == Limits(requests_per_min=5, daily_budget=0.0)
    assert store.for_user("t1", user.id) == Limits(requests_per_min=5)  # 0: unlimited
    assert store.tenant_limits("t1") == Limits(monthly_budget=10.0)
    store.set_user_limits("t1", user.id, {})  # back to the defaults
    assert store.for_user("t1", user.id) == Limits(requests_per_min=50, daily_budget=1.0)
    assert store.tenant_limits("t1") == Limits(monthly_budget=10.0)
    with pytest.raises(NotFound):
        store.set_user_limits("default", user.id, {"requests_per_min": 1})
    cached = LimitStore(engine, cache_s=60)
    assert cached.for_user("t1", user.id).unlimited
    cached.set_user_limits("t1", user.id, {"requests_per_min": 3})
    assert cached.for_user("t1", user.id).requests_per_min == 3  # this process: at once


def test_user_limits_from_the_cli() -> None:
    from cerebra.config import get_settings

    settings = get_settings()
    settings.ensure_home()
    engine = make_engine(settings.db_url)
    upgrade(engine)
    user = IdentityStore(engine).create_user("default", "erin", "a password of erin")
    engine.dispose()
    done = run_cli("limits", "set", "--user", user.id, "--requests-per-min", "4")
    assert done.returncode == 0, done.stderr
    shown = json.loads(run_cli("limits", "show", "--user", user.id).stdout)
    assert shown["stored"]["requests_per_min"] == 4
    assert shown["effective"]["requests_per_min"] == 4
    refused = run_cli("limits", "set", "--user", "usr_nope", "--daily-budget", "1")
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1
    both = run_cli("limits", "set", "--user", user.id, "--key", "k", "--daily-budget", "1")
    assert both.returncode == 2
