"""Access tokens die with their refresh family: after a logout, a reused refresh token or a
disabled user's refresh, the family's access tokens are refused at once (401) through the
server that revoked it, and through another process within the family cache's time."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from cerebra.auth.principal import Principal, Role
from cerebra.auth.refresh import RefreshTokens, RevokedFamilies
from cerebra.auth.tokens import TokenService
from cerebra.db.engine import make_engine
from cerebra.db.migrate import upgrade
from cerebra.errors import Unauthorized
from tests.security.token_app import AuthApp, auth_app, error_of

SECRET = "a-test-signing-key-of-some-length"


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> Iterator[AuthApp]:
    with auth_app(monkeypatch) as made:
        yield made


def refused_as_revoked(app: AuthApp, token: str) -> None:
    response = app.get("/v1/models", token)
    assert response.status_code == 401, response.text
    assert "revoked" in error_of(response)["message"]
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_logout_ends_the_familys_access_tokens_at_once(app: AuthApp) -> None:
    first = app.login().json()
    second = app.refresh(first["refresh_token"]).json()
    other = app.login().json()  # another sign-in of the same user: its own family
    for body in (first, second, other):
        assert app.get("/v1/models", body["access_token"]).status_code == 200  # cached live
    out = app.client.post("/auth/revoke", data={"token": second["refresh_token"]})
    assert out.json() == {"revoked": True}
    refused_as_revoked(app, first["access_token"])
    refused_as_revoked(app, second["access_token"])
    assert app.get("/v1/models", other["access_token"]).status_code == 200


def test_a_reused_refresh_token_ends_the_access_tokens(app: AuthApp) -> None:
    first = app.login().json()
    second = app.refresh(first["refresh_token"]).json()
    assert app.get("/v1/models", second["access_token"]).status_code == 200
    assert app.refresh(first["refresh_token"]).status_code == 401  # reuse: family revoked
    refused_as_revoked(app, second["access_token"])


def test_a_wallet_sign_ins_access_token_ends_with_its_family(app: AuthApp) -> None:
    body = app.wallet_login(SigningKey.generate()).json()
    assert app.get("/v1/models", body["access_token"]).status_code == 200
    app.client.post("/auth/revoke", data={"token": body["refresh_token"]})
    refused_as_revoked(app, body["access_token"])


def test_another_process_sees_the_revocation_within_the_cache_time(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(engine)
    clock = [100.0]
    families = RevokedFamilies(engine, cache_s=2.0, clock=lambda: clock[0])
    tokens = TokenService(SECRET, families=families)
    elsewhere = RefreshTokens(engine)  # another process: nothing tells this one's cache
    secret, grant = elsewhere.issue("t1", "usr_1")
    principal = Principal(tenant_id="t1", user_id="usr_1", roles=frozenset({Role.USER}),
                          kind="token", credential_id=grant.family_id)
    token = tokens.issue_access(principal)
    assert tokens.verify_access(token).credential_id == grant.family_id
    elsewhere.revoke(secret)
    clock[0] += 1.9
    assert tokens.verify_access(token).user_id == "usr_1"  # still cached as live
    clock[0] += 0.2
    with pytest.raises(Unauthorized, match="revoked"):
        tokens.verify_access(token)


def test_a_family_is_read_in_its_own_tenant_and_unknown_ones_are_refused(
        tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(engine)
    families = RevokedFamilies(engine, cache_s=0)
    _, grant = RefreshTokens(engine).issue("t1", "usr_1")
    assert not families.revoked("t1", grant.family_id)
    assert families.revoked("t2", grant.family_id)  # a token claiming another tenant
    assert families.revoked("t1", "rf_no_such_family")
    # API keys and principals without a family are not looked up
    tokens = TokenService(SECRET, families=families)
    key = Principal(tenant_id="t1", user_id="u", roles=frozenset({Role.USER}), kind="key",
                    credential_id="key_1")
    assert tokens.verify_access(tokens.issue_access(key)).kind == "key"
