"""The app with authentication on, for the sign-in tests: a TestClient over create_app, the
identity store behind it, and small helpers (log in, sign a wallet challenge)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import base58
import pytest
from fastapi.testclient import TestClient
from nacl.signing import SigningKey

from cerebra.auth.identity import IdentityStore
from cerebra.config import get_settings
from cerebra.server.app import create_app
from cerebra.server.auth import authenticator_of

BASE_ENV = {
    "CEREBRA_AUTH__MODE": "on", "CEREBRA_MODEL__FAKE": "true",
    "CEREBRA_MEMORY__EMBEDDER": "fake", "CEREBRA_HEALTH__INTERVAL_S": "0",
}
PASSWORD = "correct horse battery"


@dataclass
class AuthApp:
    client: TestClient
    identity: IdentityStore

    def login(self, username: str = "alice", password: str = PASSWORD,
              **form: str) -> Any:
        return self.client.post("/token", data={"grant_type": "password",
                                                "username": username, "password": password,
                                                **form})

    def refresh(self, token: str, **form: str) -> Any:
        return self.client.post("/token", data={"grant_type": "refresh_token",
                                                "refresh_token": token, **form})

    def get(self, path: str, bearer: str) -> Any:
        return self.client.get(path, headers={"Authorization": f"Bearer {bearer}"})

    def wallet_login(self, key: SigningKey, *, tenant: str = "default",
                     message: str | None = None) -> Any:
        """Ask a challenge, sign it (or `message` instead), verify."""
        wallet = wallet_of(key)
        challenge = self.client.post("/auth/wallet/nonce",
                                     json={"wallet": wallet, "tenant": tenant}).json()
        signed = key.sign((message or challenge["message"]).encode()).signature
        return self.client.post("/auth/wallet/verify", json={
            "wallet": wallet, "nonce": challenge["nonce"],
            "signature": base58.b58encode(signed).decode()})


def wallet_of(key: SigningKey) -> str:
    return base58.b58encode(bytes(key.verify_key)).decode()


def error_of(response: Any) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["error"]
    return error


@contextmanager
def auth_app(monkeypatch: pytest.MonkeyPatch, **env: str) -> Iterator[AuthApp]:
    """The app (auth on, fake model) with user alice (role user) in the default tenant."""
    for name, value in {**BASE_ENV, **env}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    app = create_app(get_settings())
    with TestClient(app) as client:
        identity = authenticator_of(app).identity
        identity.create_user("default", "alice", PASSWORD)
        yield AuthApp(client, identity)
    get_settings.cache_clear()
