"""Wallet sign-in through the HTTP app: a single-use challenge signed with an Ed25519 wallet
key gives a wallet principal; replayed and expired nonces, a signature over another message
or by another key, and a nonce of another wallet are refused with 401 naming the problem.
Logins and failed logins land in the audit log."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import base58
import jwt
import pytest
from nacl.signing import SigningKey
from sqlalchemy import select

from cerebra.auth.wallet import WalletNonces
from cerebra.db.schema import audit_log
from cerebra.errors import Unauthorized
from tests.security.token_app import AuthApp, auth_app, error_of, wallet_of


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> Iterator[AuthApp]:
    with auth_app(monkeypatch) as made:
        yield made


def refused(response: Any, field: str, says: str) -> None:
    assert response.status_code == 401, response.text
    error = error_of(response)
    assert error["type"] == "unauthorized" and error["field"] == field
    assert says in error["message"], error


def challenge(app: AuthApp, key: SigningKey, tenant: str = "default") -> dict[str, Any]:
    response = app.client.post("/auth/wallet/nonce",
                               json={"wallet": wallet_of(key), "tenant": tenant})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def verify(app: AuthApp, key: SigningKey, nonce: str, signature: bytes,
           wallet: str | None = None) -> Any:
    return app.client.post("/auth/wallet/verify", json={
        "wallet": wallet or wallet_of(key), "nonce": nonce,
        "signature": base58.b58encode(signature).decode()})


def test_a_signed_challenge_signs_the_wallet_in(app: AuthApp) -> None:
    key = SigningKey.generate()
    body = challenge(app, key)
    assert set(body) == {"nonce", "message", "expires_at"}
    assert wallet_of(key) in body["message"] and body["nonce"] in body["message"]
    assert body["expires_at"] > time.time()
    response = verify(app, key, body["nonce"], key.sign(body["message"].encode()).signature)
    assert response.status_code == 200, response.text
    tokens = response.json()
    assert tokens["token_type"] == "bearer" and tokens["refresh_token"].startswith("cr-")
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert (claims["knd"], claims["wal"], claims["roles"]) == ("wallet", wallet_of(key),
                                                               ["user"])
    assert app.get("/v1/models", tokens["access_token"]).status_code == 200
    user = app.identity.user_by_wallet(wallet_of(key))
    assert user is not None and user.id == claims["sub"] and user.roles == ("user",)
    again = app.wallet_login(key)  # the same user next time
    assert jwt.decode(again.json()["access_token"],
                      options={"verify_signature": False})["sub"] == user.id
    refreshed = app.refresh(tokens["refresh_token"])  # the wallet's refresh token rotates
    assert refreshed.status_code == 200
    assert jwt.decode(refreshed.json()["access_token"],
                      options={"verify_signature": False})["knd"] == "wallet"


def test_a_base64_signature_is_accepted(app: AuthApp) -> None:
    key = SigningKey.generate()
    body = challenge(app, key)
    signature = base64.b64encode(key.sign(body["message"].encode()).signature).decode()
    response = app.client.post("/auth/wallet/verify", json={
        "wallet": wallet_of(key), "nonce": body["nonce"], "signature": signature})
    assert response.status_code == 200, response.text


def test_a_replayed_nonce_is_refused(app: AuthApp) -> None:
    key = SigningKey.generate()
    body = challenge(app, key)
    signature = key.sign(body["message"].encode()).signature
    assert verify(app, key, body["nonce"], signature).status_code == 200
    refused(verify(app, key, body["nonce"], signature), "nonce", "already used")


def test_an_expired_nonce_is_refused(app: AuthApp) -> None:
    key = SigningKey.generate()
    nonces = WalletNonces(app.identity.engine, ttl_s=300)
    old = nonces.issue("default", wallet_of(key), now=time.time() - 301)
    refused(verify(app, key, old.nonce, key.sign(old.message.encode()).signature),
            "nonce", "expired")
    fresh = nonces.issue("default", wallet_of(key))  # the control: the same, in time
    assert verify(app, key, fresh.nonce, key.sign(fresh.message.encode()).signature
                  ).status_code == 200


def test_a_signature_over_another_message_is_refused(app: AuthApp) -> None:
    key = SigningKey.generate()
    body = challenge(app, key)
    other = body["message"].replace("Nonce:", "Nonce: x")
    refused(verify(app, key, body["nonce"], key.sign(other.encode()).signature),
            "signature", "does not verify")
    refused(app.wallet_login(key, message="let me in"), "signature", "does not verify")
    # a failed signature does not spend the nonce: the wallet's own signature still works
    assert verify(app, key, body["nonce"], key.sign(body["message"].encode()).signature
                  ).status_code == 200


def test_another_keys_signature_or_another_wallets_nonce_is_refused(app: AuthApp) -> None:
    key, thief = SigningKey.generate(), SigningKey.generate()
    body = challenge(app, key)
    stolen = thief.sign(body["message"].encode()).signature
    refused(verify(app, key, body["nonce"], stolen), "signature", "does not verify")
    refused(verify(app, thief, body["nonce"], stolen), "nonce", "unknown nonce")
    refused(verify(app, key, "no-such-nonce", stolen), "nonce", "unknown nonce")
    bad = app.client.post("/auth/wallet/verify", json={
        "wallet": wallet_of(key), "nonce": body["nonce"], "signature": "abc"})
    refused(bad, "signature", "64 bytes")


def test_malformed_wallets_and_unknown_tenants(app: AuthApp) -> None:
    for wallet in ("0OIl" * 10, "1" * 31, "2" * 45):  # not base58 of 32-44 characters
        response = app.client.post("/auth/wallet/nonce", json={"wallet": wallet})
        assert response.status_code == 422 and error_of(response)["field"] == "wallet"
    response = app.client.post("/auth/wallet/nonce", json={
        "wallet": wallet_of(SigningKey.generate()), "tenant": "nowhere"})
    assert response.status_code == 404 and error_of(response)["field"] == "tenant"


def test_an_address_that_is_no_key_gets_a_challenge_nobody_can_sign(app: AuthApp) -> None:
    # well-formed by the schema (base58, 32-44 characters) but 31 bytes: the challenge is
    # issued (the schema's promise), and no signature of it verifies
    short = base58.b58encode(b"\x01" * 31).decode().ljust(32, "1")
    assert len(base58.b58decode(short)) != 32
    response = app.client.post("/auth/wallet/nonce", json={"wallet": short})
    assert response.status_code == 200, response.text
    body = response.json()
    key = SigningKey.generate()
    signature = base58.b58encode(key.sign(body["message"].encode()).signature).decode()
    response = app.client.post("/auth/wallet/verify", json={
        "wallet": short, "nonce": body["nonce"], "signature": signature})
    refused(response, "wallet", "no signature can verify")


def test_a_wallet_stays_in_its_tenant(app: AuthApp) -> None:
    app.identity.create_tenant("acme")
    key = SigningKey.generate()
    assert app.wallet_login(key, tenant="acme").status_code == 200
    refused(app.wallet_login(key), "wallet", "another tenant")


def test_concurrent_verifies_of_one_signature_have_one_winner(app: AuthApp) -> None:
    key = SigningKey.generate()
    nonces = WalletNonces(app.identity.engine)
    issued = nonces.issue("default", wallet_of(key))
    signature = base58.b58encode(key.sign(issued.message.encode()).signature).decode()
    barrier = threading.Barrier(8)
    outcomes: list[object] = []

    def attempt() -> None:
        barrier.wait()
        try:
            outcomes.append(nonces.verify(wallet_of(key), issued.nonce, signature))
        except Unauthorized as exc:
            outcomes.append(exc)

    workers = [threading.Thread(target=attempt) for _ in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(outcomes) == 8
    assert sum(not isinstance(o, Unauthorized) for o in outcomes) == 1


def test_logins_and_failed_logins_are_audited(app: AuthApp) -> None:
    key = SigningKey.generate()
    assert app.wallet_login(key).status_code == 200
    assert app.wallet_login(key, message="forged").status_code == 401
    assert app.login(password="wrong password").status_code == 401
    assert app.login().status_code == 200
    brain = app.client.app.state.brain  # type: ignore[attr-defined]
    assert brain.audit is not None and brain.audit.flush()
    with brain.engine.connect() as conn:
        rows = conn.execute(select(audit_log).where(audit_log.c.action == "auth.login")
                            .order_by(audit_log.c.seq)).all()
    seen = [(json.loads(r.details)["method"], r.outcome) for r in rows]
    assert seen == [("wallet", "ok"), ("wallet", "refused"), ("password", "refused"),
                    ("password", "ok")]
    assert "does not verify" in json.loads(rows[1].details)["reason"]
