"""Effect checks of the sign-in settings of the `auth` group: access and refresh token
lifetimes, the wallet challenge's lifetime, and the Solana token gate (its RPC node, mint,
minimum balance and gated scopes), observed through the HTTP app."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient
from nacl.signing import SigningKey
from sqlalchemy import select

from cerebra.db.schema import refresh_tokens, wallet_nonces
from cerebra.server.app import create_app
from cerebra.server.auth import authenticator_of
from tests.effects.base import Env, effect
from tests.security.solana_rpc import FakeSolana, running_solana
from tests.security.token_app import AuthApp, wallet_of

MINT = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"


@contextmanager
def signed_in_app(env: Env, **values: str) -> Iterator[AuthApp]:
    app = create_app(env.set(CEREBRA_AUTH__MODE="on", **values))
    with TestClient(app) as client:
        identity = authenticator_of(app).identity
        if not identity.list_users("default"):
            identity.create_user("default", "alice", "correct horse battery")
        yield AuthApp(client, identity)


def granted(app: AuthApp, key: SigningKey) -> set[str]:
    body: dict[str, Any] = app.wallet_login(key).json()
    return set(body["scope"].split())


@contextmanager
def gate(env: Env, node: FakeSolana, **values: str) -> Iterator[AuthApp]:
    settings = {"CEREBRA_AUTH__GATE_MINT": MINT, "CEREBRA_AUTH__SOLANA_RPC_URL": node.url,
                **values}
    with signed_in_app(env, **settings) as app:
        yield app


@effect("CEREBRA_AUTH__ACCESS_TTL_S")
def _access_ttl(env: Env) -> None:
    for ttl in ("900", "120"):
        with signed_in_app(env, CEREBRA_AUTH__ACCESS_TTL_S=ttl) as app:
            body = app.login().json()
            claims = jwt.decode(body["access_token"], options={"verify_signature": False})
            assert body["expires_in"] == int(ttl) == claims["exp"] - claims["iat"]


@effect("CEREBRA_AUTH__REFRESH_TTL_S")
def _refresh_ttl(env: Env) -> None:
    for ttl in (1_209_600.0, 3600.0):
        with signed_in_app(env, CEREBRA_AUTH__REFRESH_TTL_S=str(ttl)) as app:
            secret = app.login().json()["refresh_token"]
            with app.identity.engine.connect() as conn:
                row = conn.execute(select(refresh_tokens).where(
                    refresh_tokens.c.token_hash == hashlib.sha256(secret.encode()).hexdigest())
                ).one()
            assert row.expires_at - row.issued_at == pytest.approx(ttl, abs=1e-3)


@effect("CEREBRA_AUTH__WALLET_NONCE_TTL_S")
def _nonce_ttl(env: Env) -> None:
    for ttl in (300.0, 30.0):
        with signed_in_app(env, CEREBRA_AUTH__WALLET_NONCE_TTL_S=str(ttl)) as app:
            wallet = wallet_of(SigningKey.generate())
            body = app.client.post("/auth/wallet/nonce", json={"wallet": wallet}).json()
            with app.identity.engine.connect() as conn:
                row = conn.execute(select(wallet_nonces).where(
                    wallet_nonces.c.nonce == body["nonce"])).one()
            assert row.expires_at == body["expires_at"]
            assert row.expires_at - row.created_at == pytest.approx(ttl, abs=1e-3)


@effect("CEREBRA_AUTH__SOLANA_RPC_URL")
def _rpc_url(env: Env) -> None:
    key = SigningKey.generate()
    with running_solana() as node:
        node.give(wallet_of(key), MINT, 5_000_000)
        with gate(env, node) as app:
            assert "query" in granted(app, key)
        assert node.requests and node.requests[-1]["params"][0] == wallet_of(key)
        with running_solana() as empty, gate(env, node, CEREBRA_AUTH__SOLANA_RPC_URL=empty.url,
                                             CEREBRA_HOME=str(env.tmp / "other")) as app:
            assert "query" not in granted(app, key)  # another node, where it holds nothing
            assert empty.requests


@effect("CEREBRA_AUTH__GATE_MINT")
def _gate_mint(env: Env) -> None:
    key = SigningKey.generate()
    with running_solana() as node:
        with signed_in_app(env, CEREBRA_AUTH__SOLANA_RPC_URL=node.url) as app:
            assert "query" in granted(app, key)  # no mint: no gate, nothing asked
        assert not node.requests
        with gate(env, node) as app:
            assert "query" not in granted(app, key)
        assert node.requests[-1]["params"][1] == {"mint": MINT}


@effect("CEREBRA_AUTH__GATE_MIN_BALANCE")
def _gate_min_balance(env: Env) -> None:
    key = SigningKey.generate()
    with running_solana() as node:
        node.give(wallet_of(key), MINT, 5_000_000)  # 5 tokens
        with gate(env, node, CEREBRA_AUTH__GATE_MIN_BALANCE="5") as app:
            assert "query" in granted(app, key)
        with gate(env, node, CEREBRA_AUTH__GATE_MIN_BALANCE="5.000001") as app:
            assert "query" not in granted(app, key)


@effect("CEREBRA_AUTH__GATED_SCOPES")
def _gated_scopes(env: Env) -> None:
    key = SigningKey.generate()
    with running_solana() as node:
        with gate(env, node) as app:
            scopes = granted(app, key)
            assert "query" not in scopes and "memory:write" in scopes
        with gate(env, node, CEREBRA_AUTH__GATED_SCOPES='["query", "memory:write"]') as app:
            scopes = granted(app, key)
            assert not {"query", "memory:write"} & scopes and "memory:read" in scopes
