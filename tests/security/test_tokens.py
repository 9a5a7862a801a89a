"""Access tokens and API keys that do not hold are refused with 401 and a JSON error naming
why, through the HTTP app: malformed, expired, not yet valid, wrongly signed, `alg: none`,
HS/RS confusion; revoked and expired API keys. Each refusal has a control that succeeds."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import update

from cerebra.auth.principal import Role
from cerebra.auth.tokens import TokenService
from cerebra.config import DEV_SECRET, get_settings
from cerebra.db.schema import api_keys
from tests.security.token_app import AuthApp, auth_app, error_of

PATH = "/v1/models"  # needs models:read, which every role holds


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> Iterator[AuthApp]:
    with auth_app(monkeypatch, CEREBRA_AUTH__KEY_CACHE_S="0") as made:
        yield made


def claims(app: AuthApp, **changes: Any) -> dict[str, Any]:
    """The claims of a genuine access token of alice, with `changes` (None deletes)."""
    token = app.login().json()["access_token"]
    out: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    for name, value in changes.items():
        if value is None:
            out.pop(name, None)
        else:
            out[name] = value
    return out


def refused(app: AuthApp, token: str, *, says: str) -> None:
    response = app.get(PATH, token)
    assert response.status_code == 401, response.text
    error = error_of(response)
    assert error["type"] == "unauthorized" and error["field"] == "authorization"
    assert says in error["message"], error
    assert response.headers["www-authenticate"].startswith("Bearer ")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_a_genuine_token_is_accepted(app: AuthApp) -> None:
    token = jwt.encode(claims(app), DEV_SECRET, algorithm="HS256")
    assert app.get(PATH, token).status_code == 200


@pytest.mark.parametrize("token", ["not-a-jwt", "a.b.c", "eyJhbGciOiJIUzI1NiJ9..", "ck"])
def test_malformed_tokens_are_refused(app: AuthApp, token: str) -> None:
    refused(app, token, says="the access token is invalid")


def test_an_expired_token_is_refused(app: AuthApp) -> None:
    now = int(time.time())
    token = jwt.encode(claims(app, iat=now - 3600, nbf=now - 3600, exp=now - 60), DEV_SECRET,
                       algorithm="HS256")
    refused(app, token, says="expired")


def test_a_token_without_expiry_is_refused(app: AuthApp) -> None:
    token = jwt.encode(claims(app, exp=None), DEV_SECRET, algorithm="HS256")
    refused(app, token, says="MissingRequiredClaimError")


def test_a_token_not_yet_valid_is_refused(app: AuthApp) -> None:
    now = int(time.time())
    token = jwt.encode(claims(app, nbf=now + 600, exp=now + 1200), DEV_SECRET,
                       algorithm="HS256")
    refused(app, token, says="not valid yet")


def test_a_token_signed_with_another_key_is_refused(app: AuthApp) -> None:
    token = jwt.encode(claims(app), "another-secret-of-enough-length-for-hs256",
                       algorithm="HS256")
    refused(app, token, says="InvalidSignatureError")


def test_a_token_for_another_audience_or_issuer_is_refused(app: AuthApp) -> None:
    refused(app, jwt.encode(claims(app, aud="elsewhere"), DEV_SECRET, algorithm="HS256"),
            says="InvalidAudienceError")
    refused(app, jwt.encode(claims(app, iss="elsewhere"), DEV_SECRET, algorithm="HS256"),
            says="InvalidIssuerError")


def test_alg_none_is_refused(app: AuthApp) -> None:
    body = claims(app, roles=[Role.ADMIN.value], scp=["keys:admin", "models:read"])
    token = jwt.encode(body, None, algorithm="none")  # type: ignore[arg-type]
    assert token.endswith(".")  # no signature at all
    refused(app, token, says="InvalidAlgorithmError")
    header = _b64(json.dumps({"alg": "None", "typ": "JWT"}).encode())
    refused(app, f"{header}.{_b64(json.dumps(body).encode())}.", says="the access token is")


def test_hs_rs_confusion_is_refused(app: AuthApp) -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    body = claims(app, roles=[Role.ADMIN.value])
    # a token signed RS256: the allow-list holds HS256 only
    refused(app, jwt.encode(body, private, algorithm="RS256"), says="InvalidAlgorithmError")
    # an HS256 token whose HMAC key is the RSA public key (what a confused verifier that
    # picks the algorithm from the header would accept with its "public" key)
    signing_input = (_b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "."
                     + _b64(json.dumps(body).encode()))
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    refused(app, f"{signing_input}.{_b64(mac)}", says="InvalidSignatureError")


def test_the_signing_key_is_the_settings_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """A token of one server's secret is refused by a server with another secret."""
    secret = "a-real-secret-for-this-test-only-0123456789"
    with auth_app(monkeypatch, CEREBRA_SECRET_KEY=secret) as app:
        token = app.login().json()["access_token"]
        assert app.get(PATH, token).status_code == 200
        assert jwt.decode(token, secret, algorithms=["HS256"], audience="cerebra-api")
        foreign = TokenService(DEV_SECRET).issue_access(
            TokenService(secret).verify_access(token))
        refused(app, foreign, says="InvalidSignatureError")


def test_the_development_secret_is_refused_outside_dev(monkeypatch: pytest.MonkeyPatch) -> None:
    from cerebra.server.app import create_app

    for env in ("test", "prod"):
        monkeypatch.setenv("CEREBRA_ENV", env)
        get_settings.cache_clear()
        with pytest.raises(ValueError, match="CEREBRA_SECRET_KEY is the development default"):
            create_app(get_settings())
    monkeypatch.setenv("CEREBRA_SECRET_KEY", "a-real-secret-for-this-test-only-0123456789")
    get_settings.cache_clear()
    create_app(get_settings())


def test_revoked_and_expired_api_keys_are_refused(app: AuthApp) -> None:
    secret, record = app.identity.create_key("default", role="user")
    assert app.get(PATH, secret).status_code == 200
    app.identity.revoke_key("default", record.id)
    refused(app, secret, says="the API key is revoked")

    secret, record = app.identity.create_key("default", role="user", expires_in_s=3600)
    assert app.get(PATH, secret).status_code == 200
    with app.identity.engine.begin() as conn:
        conn.execute(update(api_keys).where(api_keys.c.id == record.id)
                     .values(expires_at=time.time() - 1))
    refused(app, secret, says="the API key is expired")
    refused(app, secret[:-4] + "AAAA", says="unknown API key")
