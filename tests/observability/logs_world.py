"""Shared set-up of the logs tests: an app with authentication on, two tenants with an admin
and an operator key each, a route that logs after the Brain answered (inside a request),
and the root logger at INFO for the test (restored after)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import Depends
from fastapi.testclient import TestClient

from cerebra.auth.identity import IdentityStore
from cerebra.auth.principal import Scope
from cerebra.brain import Brain
from cerebra.config import get_settings
from cerebra.context import RequestContext
from cerebra.server.app import create_app
from cerebra.server.auth import requires
from cerebra.server.deps import get_brain

FAST = {"CEREBRA_MODEL__FAKE": "true", "CEREBRA_MEMORY__EMBEDDER": "fake",
        "CEREBRA_HEALTH__INTERVAL_S": "0", "CEREBRA_AUTH__MODE": "on"}


@dataclass
class LogsWorld:
    client: TestClient
    keys: dict[str, str]  # "acme-admin", "acme-operator", "globex-operator", ...

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}

    def get(self, who: str, url: str, **params: Any) -> Any:
        return self.client.get(url, params=params, headers=self.headers(who))

    def lines(self, who: str, **params: Any) -> list[dict[str, Any]]:
        response = self.get(who, "/logs", **params)
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()["logs"]
        return found


@contextmanager
def root_at(level: int) -> Iterator[None]:
    root = logging.getLogger()
    before = root.level
    root.setLevel(level)
    try:
        yield
    finally:
        root.setLevel(before)


def _add_test_route(app: Any) -> None:
    async def after_answer(ctx: RequestContext = Depends(requires(Scope.QUERY)),
                           brain: Brain = Depends(get_brain)) -> dict[str, str]:
        answer = await asyncio.to_thread(brain.ask, "what is the capital of France?",
                                         context=ctx)
        logging.getLogger("tests.logs").warning("after the answer of %s", ctx.tenant_id)
        return {"trace_id": answer.trace_id}

    app.add_api_route("/test/after-answer", after_answer, methods=["GET"])


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[LogsWorld]:
    for key, value in FAST.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    app = create_app(get_settings())
    _add_test_route(app)
    with root_at(logging.INFO), TestClient(app) as client:
        identity = IdentityStore(app.state.brain.engine)
        keys: dict[str, str] = {}
        for tenant in ("acme", "globex"):
            identity.create_tenant(tenant)
            for role in ("admin", "operator"):
                keys[f"{tenant}-{role}"], _ = identity.create_key(tenant, role=role)
        yield LogsWorld(client, keys)
