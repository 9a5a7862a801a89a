"""Token gating of wallet sign-ins against a local Solana JSON-RPC node speaking
`getTokenAccountsByOwner` (jsonParsed): the balance is summed exactly over the owner's
accounts of the mint; below the minimum the gated scopes are withheld (a route needing one
answers 403), the node down or refusing withholds them too, a refresh checks again, and a
password login is not gated."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import jwt
import pytest
from nacl.signing import SigningKey

from cerebra.auth.solana import GateUnavailable, TokenGate
from tests.security.solana_rpc import METHOD, FakeSolana, running_solana
from tests.security.token_app import AuthApp, auth_app, error_of, wallet_of

MINT = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"


@pytest.fixture
def solana() -> Iterator[FakeSolana]:
    with running_solana() as node:
        yield node


@dataclass
class Gated:
    app: AuthApp
    node: FakeSolana

    def embed(self, token: str) -> Any:
        brain = self.app.client.app.state.brain  # type: ignore[attr-defined]
        return self.app.client.post(
            "/v1/embeddings", json={"model": brain.memory.embedder.model_id, "input": "hi"},
            headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
def gated(monkeypatch: pytest.MonkeyPatch, solana: FakeSolana) -> Iterator[Gated]:
    with auth_app(monkeypatch, CEREBRA_AUTH__GATE_MINT=MINT,
                  CEREBRA_AUTH__SOLANA_RPC_URL=solana.url,
                  CEREBRA_AUTH__GATE_MIN_BALANCE="10",
                  CEREBRA_AUTH__GATED_SCOPES='["query"]') as app:
        yield Gated(app, solana)


def scopes_of(body: dict[str, Any]) -> set[str]:
    return set(body["scope"].split())


def test_the_balance_is_summed_exactly_over_the_owners_accounts(solana: FakeSolana) -> None:
    owner = wallet_of(SigningKey.generate())
    solana.give(owner, MINT, 1_500_000, 250_001)  # 6 decimals: 1.5 + 0.250001
    solana.give(owner, "OtherMint1111111111111111111111111111111111", 9_000_000_000)
    gate = TokenGate.create(solana.url, MINT, 1.75, ["query"])
    assert asyncio.run(gate.balance(owner)) == Decimal("1.750001")
    assert asyncio.run(gate.withheld(owner)) == frozenset()
    request = solana.requests[-1]
    assert request["jsonrpc"] == "2.0" and request["method"] == METHOD
    assert request["params"] == [owner, {"mint": MINT}, {"encoding": "jsonParsed"}]
    stranger = wallet_of(SigningKey.generate())
    assert asyncio.run(gate.balance(stranger)) == 0
    assert {s.value for s in asyncio.run(gate.withheld(stranger))} == {"query"}


def test_a_refusing_or_missing_node_fails_closed(solana: FakeSolana) -> None:
    owner = wallet_of(SigningKey.generate())
    solana.give(owner, MINT, 50_000_000)
    gate = TokenGate.create(solana.url + "/", MINT, 1, ["query"])
    assert asyncio.run(gate.balance(owner)) == 50
    solana.down = True
    with pytest.raises(GateUnavailable, match="RPC failed"):
        asyncio.run(gate.balance(owner))
    assert {s.value for s in asyncio.run(gate.withheld(owner))} == {"query"}
    solana.down = False
    solana.answer = lambda request: {  # type: ignore[method-assign]
        "jsonrpc": "2.0", "id": request["id"],
        "error": {"code": -32602, "message": "Invalid param: could not find mint"}}
    with pytest.raises(GateUnavailable, match="-32602"):
        asyncio.run(gate.balance(owner))


def test_a_holder_gets_the_gated_scopes(gated: Gated) -> None:
    key = SigningKey.generate()
    gated.node.give(wallet_of(key), MINT, 7_000_000, 3_000_000)  # exactly 10
    response = gated.app.wallet_login(key)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "query" in scopes_of(body) and "withheld_scopes" not in body
    assert gated.embed(body["access_token"]).status_code == 200
    assert gated.node.requests[-1]["params"][0] == wallet_of(key)


def test_below_the_balance_the_gated_scopes_are_withheld(gated: Gated) -> None:
    key = SigningKey.generate()
    gated.node.give(wallet_of(key), MINT, 9_999_999)  # 9.999999 < 10
    body = gated.app.wallet_login(key).json()
    assert "query" not in scopes_of(body) and body["withheld_scopes"] == ["query"]
    assert "models:read" in scopes_of(body)
    refused = gated.embed(body["access_token"])
    assert refused.status_code == 403 and error_of(refused)["required_scope"] == "query"
    assert gated.app.get("/v1/models", body["access_token"]).status_code == 200


def test_the_node_down_withholds_the_gated_scopes(gated: Gated) -> None:
    key = SigningKey.generate()
    gated.node.give(wallet_of(key), MINT, 100_000_000)
    gated.node.down = True
    body = gated.app.wallet_login(key).json()
    assert body["withheld_scopes"] == ["query"]
    assert gated.embed(body["access_token"]).status_code == 403


def test_a_refresh_checks_the_balance_again(gated: Gated) -> None:
    key = SigningKey.generate()
    gated.node.give(wallet_of(key), MINT, 20_000_000)
    body = gated.app.wallet_login(key).json()
    assert "query" in scopes_of(body)
    gated.node.give(wallet_of(key), MINT, 1_000_000)  # sold most of it
    again = gated.app.refresh(body["refresh_token"]).json()
    assert "query" not in scopes_of(again) and again["withheld_scopes"] == ["query"]
    gated.node.give(wallet_of(key), MINT, 20_000_000)
    third = gated.app.refresh(again["refresh_token"]).json()
    assert "query" in scopes_of(third)


def test_password_logins_are_not_gated(gated: Gated) -> None:
    asked = len(gated.node.requests)
    body = gated.app.login().json()
    assert "query" in scopes_of(body)
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["knd"] == "token" and len(gated.node.requests) == asked
    assert json.dumps(body).count("withheld") == 0
