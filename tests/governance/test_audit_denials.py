"""Refused credentials in the audit log: a 401 on a request that presented an API key or an
access token (unknown, revoked, expired, forged) is an `auth.denied` event naming what is
known of the credential and never its secret; a request without credentials is not; the
events are bounded per client address per minute (what is dropped is counted on the next
one) and `cerebra audit verify` still holds."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from cerebra.auth.principal import Principal, Role
from cerebra.auth.tokens import TokenService
from cerebra.db.schema import audit_log
from cerebra.errors import Unauthorized
from cerebra.server.denials import PER_CLIENT, WINDOW_S, Credential, DenialLog
from tests.helpers import run_cli
from tests.security.token_app import AuthApp, auth_app


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> Iterator[AuthApp]:
    with auth_app(monkeypatch) as made:
        yield made


def denials(app: AuthApp) -> list[Any]:
    brain = app.client.app.state.brain  # type: ignore[attr-defined]
    assert brain.audit is not None and brain.audit.flush()
    with brain.engine.connect() as conn:
        return list(conn.execute(select(audit_log).where(audit_log.c.action == "auth.denied")
                                 .order_by(audit_log.c.time)).all())


def test_refused_credentials_are_audited_without_their_secrets(app: AuthApp) -> None:
    secret, revoked = app.identity.create_key("default", role="user")
    app.identity.revoke_key("default", revoked.id)
    unknown = "ck-" + "Z" * 43
    secret_key = app.client.app.state.settings.secret_key.get_secret_value()  # type: ignore[attr-defined]
    principal = Principal(tenant_id="default", user_id="usr_x", roles=frozenset({Role.USER}),
                          kind="token", credential_id="rf_gone")
    expired = TokenService(secret_key).issue_access(principal, now=time.time() - 3600)
    forged = TokenService("another-signing-key-entirely-of-32-bytes").issue_access(principal)
    for bearer in (secret, unknown, expired, forged):
        assert app.get("/v1/models", bearer).status_code == 401
    assert app.client.get("/v1/models").status_code == 401  # no credential: not recorded
    rows = denials(app)
    assert len(rows) == 4
    by_target = {r.target: (r.tenant_id, r.outcome, json.loads(r.details)) for r in rows}
    tenant, outcome, details = by_target[revoked.id]
    assert (tenant, outcome, details["credential"]) == ("default", "denied", "api_key")
    assert details["key_state"] == "revoked" and "revoked" in details["reason"]
    assert by_target[unknown[:10]][2]["reason"] == "unknown API key"
    tenant, _, details = by_target["rf_gone"]  # signature holds: who it was is known
    assert tenant == "default" and details["user_id"] == "usr_x"
    assert "expired" in details["reason"]
    assert by_target[""][2]["credential"] == "access_token"  # forged: nothing trusted
    assert all(d["path"] == "/v1/models" and d["client"] for _, _, d in by_target.values())
    text = " ".join(str(tuple(r)) for r in rows)
    for bearer in (secret, unknown, expired, forged):
        assert bearer not in text
    done = run_cli("audit", "verify")
    assert done.returncode == 0 and done.stdout.startswith("ok:"), done.stdout + done.stderr


def test_denials_are_bounded_per_client_and_count_what_was_dropped(app: AuthApp) -> None:
    for _ in range(PER_CLIENT + 5):
        assert app.get("/v1/models", "ck-" + "Q" * 43).status_code == 401
    assert len(denials(app)) == PER_CLIENT  # the 401s keep coming; the log stops


def test_the_bounds_per_client_and_in_all() -> None:
    class Sink:
        def __init__(self) -> None:
            self.events: list[Any] = []

        def record(self, event: Any) -> Any:
            self.events.append(event)
            return event

    class Req:
        method, url = "GET", type("U", (), {"path": "/v1/models"})()

        def __init__(self, host: str) -> None:
            self.client = type("C", (), {"host": host})()

    clock = [0.0]
    sink = Sink()
    log = DenialLog(sink, per_client=2, total=3, clock=lambda: clock[0])  # type: ignore[arg-type]
    error = Unauthorized("unknown API key")

    def deny(host: str) -> bool:
        return log.record(Req(host), "ck-x", error,  # type: ignore[arg-type]
                          lambda c: Credential("api_key", target="ck-x"))

    assert [deny("a") for _ in range(4)] == [True, True, False, False]
    assert [deny("b"), deny("c")] == [True, False]  # 3 in all this minute
    clock[0] += WINDOW_S
    assert deny("a") and sink.events[-1].details["suppressed"] == 2
    assert deny("c") and sink.events[-1].details["suppressed"] == 1
    assert deny("b") and "suppressed" not in sink.events[-1].details
    assert DenialLog(None).record(Req("a"), "ck-x", error,  # type: ignore[arg-type]
                                  lambda c: Credential("api_key")) is False
