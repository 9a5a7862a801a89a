"""The OAuth2 password flow at POST /token and refresh-token rotation: the RFC 6749 answer,
errors in its codes, scope narrowing kept across refreshes, rotation, reuse revoking the
whole family, expiry, logout — and exactly one winner among concurrent refreshes of one
token (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from sqlalchemy import Engine

from cerebra.auth.refresh import InvalidGrant, RefreshTokens
from cerebra.db.engine import make_engine
from cerebra.db.migrate import upgrade
from tests.security.token_app import AuthApp, auth_app, error_of


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> Iterator[AuthApp]:
    with auth_app(monkeypatch) as made:
        yield made


def test_password_grant_answers_per_rfc_6749(app: AuthApp) -> None:
    response = app.login()
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token", "scope"}
    assert body["token_type"] == "bearer" and body["expires_in"] == 900
    assert set(body["scope"].split()) >= {"query", "memory:read", "models:read"}
    assert "keys:admin" not in body["scope"]
    assert response.headers["cache-control"] == "no-store"
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["knd"] == "token" and claims["tid"] == "default"
    assert app.get("/v1/models", body["access_token"]).status_code == 200
    assert app.get("/uptime", body["access_token"]).status_code == 403  # metrics:read


@pytest.mark.parametrize(("form", "status", "kind", "field"), [
    ({"password": "wrong password"}, 401, "invalid_grant", "password"),
    ({"username": "nobody"}, 401, "invalid_grant", "password"),
    ({"tenant": "no-such-tenant"}, 401, "invalid_grant", "password"),
    ({"client_id": "no-such-tenant"}, 401, "invalid_grant", "password"),
    ({"grant_type": ""}, 400, "invalid_request", "grant_type"),
    ({"grant_type": "client_credentials"}, 400, "unsupported_grant_type", "grant_type"),
    ({"username": ""}, 400, "invalid_request", "username"),
    ({"scope": "query wizardry"}, 400, "invalid_scope", "scope"),
    ({"scope": "query keys:admin"}, 400, "invalid_scope", "scope"),
])
def test_password_grant_errors(app: AuthApp, form: dict[str, str], status: int, kind: str,
                               field: str) -> None:
    data = {"grant_type": "password", "username": "alice",
            "password": "correct horse battery", **form}
    response = app.client.post("/token", data=data)
    assert response.status_code == status, response.text
    error = error_of(response)
    assert (error["type"], error["field"]) == (kind, field)
    if kind == "invalid_grant":
        assert error["message"] == "invalid username or password"  # nothing confirmed


def test_the_tenant_comes_from_the_form(app: AuthApp) -> None:
    app.identity.create_tenant("acme")
    app.identity.create_user("acme", "alice", "another password")
    for field in ("tenant", "client_id"):
        body = app.login(password="another password", **{field: "acme"}).json()
        claims = jwt.decode(body["access_token"], options={"verify_signature": False})
        assert claims["tid"] == "acme"
    assert app.login(password="another password").status_code == 401  # default's alice


def test_a_narrowed_scope_stays_narrow_across_refreshes(app: AuthApp) -> None:
    body = app.login(scope="models:read").json()
    assert body["scope"] == "models:read"
    assert app.get("/v1/models", body["access_token"]).status_code == 200
    denied = app.get("/api/memory", body["access_token"])
    assert denied.status_code == 403 and error_of(denied)["required_scope"] == "memory:read"
    again = app.refresh(body["refresh_token"]).json()
    assert again["scope"] == "models:read"
    wider = app.refresh(again["refresh_token"], scope="models:read memory:read")
    assert wider.status_code == 400 and error_of(wider)["type"] == "invalid_scope"


def test_refresh_rotates_and_reuse_revokes_the_family(app: AuthApp) -> None:
    first = app.login().json()["refresh_token"]
    rotated = app.refresh(first)
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()["refresh_token"]
    assert second != first
    assert app.get("/v1/models", rotated.json()["access_token"]).status_code == 200
    third = app.refresh(second).json()["refresh_token"]

    reused = app.refresh(first)  # a copy of an old token: theft or replay
    assert reused.status_code == 401
    assert error_of(reused)["type"] == "invalid_grant"
    assert "already used" in error_of(reused)["message"]
    newest = app.refresh(third)  # the family is gone: the newest token too
    assert newest.status_code == 401 and "revoked" in error_of(newest)["message"]
    assert app.refresh(second).status_code == 401
    assert app.login().status_code == 200  # logging in again starts a new family


def test_logout_revokes_the_family(app: AuthApp) -> None:
    first = app.login().json()["refresh_token"]
    second = app.refresh(first).json()["refresh_token"]
    out = app.client.post("/auth/revoke", data={"token": first})
    assert out.status_code == 200 and out.json() == {"revoked": True}
    refused = app.refresh(second)
    assert refused.status_code == 401 and "revoked" in error_of(refused)["message"]
    unknown = app.client.post("/auth/revoke", data={"token": "cr-nothing-like-it"})
    assert unknown.status_code == 200 and unknown.json() == {"revoked": False}
    missing = app.client.post("/auth/revoke", data={})
    assert missing.status_code == 400 and error_of(missing)["type"] == "invalid_request"


def test_expired_and_unknown_refresh_tokens_are_refused(app: AuthApp) -> None:
    user = app.identity.list_users("default")[0]
    store = RefreshTokens(app.identity.engine, ttl_s=60)
    old, _ = store.issue("default", user.id, now=time.time() - 61)
    expired = app.refresh(old)
    assert expired.status_code == 401 and "expired" in error_of(expired)["message"]
    unknown = app.refresh("cr-" + "x" * 43)
    assert unknown.status_code == 401 and error_of(unknown)["message"] == "unknown refresh token"
    missing = app.client.post("/token", data={"grant_type": "refresh_token"})
    assert missing.status_code == 400 and error_of(missing)["field"] == "refresh_token"


def test_refresh_ttl_applies_to_issued_tokens(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(engine)
    store = RefreshTokens(engine, ttl_s=100)
    secret, grant = store.issue("default", "usr_1", now=1000.0)
    assert grant.expires_at == 1100.0
    _, rotated = store.rotate(secret, now=1099.0)
    assert rotated.expires_at == 1199.0 and rotated.family_id == grant.family_id
    with pytest.raises(InvalidGrant, match="expired"):
        store.rotate(store.issue("default", "usr_1", now=1000.0)[0], now=1100.0)


def test_a_disabled_user_cannot_refresh(app: AuthApp) -> None:
    from sqlalchemy import update

    from cerebra.db.schema import users

    token = app.login().json()["refresh_token"]
    with app.identity.engine.begin() as conn:
        conn.execute(update(users).where(users.c.username == "alice").values(disabled=True))
    refused = app.refresh(token)
    assert refused.status_code == 401 and "disabled" in error_of(refused)["message"]


@pytest.fixture
def store(sql_engine: Engine) -> RefreshTokens:
    return RefreshTokens(sql_engine)


def test_concurrent_refreshes_of_one_token_have_one_winner(store: RefreshTokens) -> None:
    secret, _ = store.issue("default", "usr_1")
    threads = 8
    barrier = threading.Barrier(threads)
    outcomes: list[Any] = []

    def refresh() -> None:
        barrier.wait()
        try:
            outcomes.append(store.rotate(secret))
        except InvalidGrant as exc:
            outcomes.append(exc)

    workers = [threading.Thread(target=refresh) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    won = [o for o in outcomes if not isinstance(o, InvalidGrant)]
    assert len(outcomes) == threads and len(won) == 1
    # the losers presented a used token: the family, the winner's new token included, is gone
    with pytest.raises(InvalidGrant, match="revoked"):
        store.rotate(won[0][0])


def test_the_openai_client_works_with_an_access_token(monkeypatch: pytest.MonkeyPatch) -> None:
    import openai

    from tests.helpers import running_server

    with auth_app(monkeypatch) as app:
        token = app.login().json()["access_token"]
        with running_server(app.client.app) as base:  # type: ignore[arg-type]
            client = openai.OpenAI(base_url=f"{base}/v1", api_key=token, max_retries=0)
            assert [m.id for m in client.models.list()]
            anonymous = openai.OpenAI(base_url=f"{base}/v1", api_key="not-a-token",
                                      max_retries=0)
            with pytest.raises(openai.AuthenticationError):
                anonymous.models.list()
