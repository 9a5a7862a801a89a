"""Effect checks of the auth group: on/off, the key cache, public metrics and the admin key
`serve` creates on a fresh database."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from cerebra.auth.identity import IdentityStore
from cerebra.server.app import create_app
from tests.effects.base import Env, effect
from tests.effects.core import serve
from tests.helpers import free_port


@effect("CEREBRA_AUTH__MODE")
def _mode(env: Env) -> None:
    with TestClient(create_app(env.set(CEREBRA_AUTH__MODE="on"))) as client:
        response = client.get("/api/memory")
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    with TestClient(create_app(env.set(CEREBRA_AUTH__MODE="off"))) as client:
        assert client.get("/api/memory").status_code == 200
    # off is refused where other machines can reach the server, and loud on loopback
    from cerebra.cli.main import app

    env.set(CEREBRA_AUTH__MODE="off", CEREBRA_SERVER__HOST="0.0.0.0",
            CEREBRA_SERVER__PORT=str(free_port()))
    refused = CliRunner().invoke(app, ["serve", "--no-engine-check"])
    assert refused.exit_code != 0
    assert "loopback" in str(refused.exception) or "loopback" in refused.output
    _, output = serve(env, CEREBRA_AUTH__MODE="off", CEREBRA_SERVER__HOST="127.0.0.1",
                      CEREBRA_SERVER__PORT=str(free_port()))
    assert "AUTHENTICATION IS OFF" in output


@effect("CEREBRA_AUTH__KEY_CACHE_S")
def _key_cache(env: Env) -> None:
    for cache_s, accepted_after_revocation in (("3600", True), ("0", False)):
        with TestClient(create_app(env.set(CEREBRA_AUTH__MODE="on",
                                           CEREBRA_AUTH__KEY_CACHE_S=cache_s))) as client:
            identity = IdentityStore(client.app.state.brain.engine)  # type: ignore[attr-defined]
            secret, record = identity.create_key("default", role="user")
            headers = {"Authorization": f"Bearer {secret}"}
            assert client.get("/api/memory", headers=headers).status_code == 200
            identity.revoke_key("default", record.id)  # as another process would
            status = client.get("/api/memory", headers=headers).status_code
            assert status == (200 if accepted_after_revocation else 401), cache_s


@effect("CEREBRA_AUTH__PUBLIC_METRICS")
def _public_metrics(env: Env) -> None:
    for public, status in (("false", 401), ("true", 200)):
        settings = env.set(CEREBRA_AUTH__MODE="on", CEREBRA_AUTH__PUBLIC_METRICS=public)
        with TestClient(create_app(settings)) as client:
            assert client.get("/metrics").status_code == status


@effect("CEREBRA_AUTH__BOOTSTRAP_ADMIN_KEY")
def _bootstrap(env: Env) -> None:
    from sqlalchemy import create_engine, text

    _, output = serve(env, CEREBRA_AUTH__MODE="on", CEREBRA_AUTH__BOOTSTRAP_ADMIN_KEY="false",
                      CEREBRA_SERVER__PORT=str(free_port()))
    assert "CEREBRA_API_KEY=" not in output
    engine = create_engine(env.set().db_url)
    assert IdentityStore(engine).count_keys(role="admin") == 0
    _, output = serve(env, CEREBRA_AUTH__BOOTSTRAP_ADMIN_KEY="true",
                      CEREBRA_SERVER__PORT=str(free_port()))
    key = output.split("CEREBRA_API_KEY=", 1)[1].split()[0]
    assert key.startswith("ck-")
    record = IdentityStore(engine).resolve_key(key)
    assert record is not None and record.roles == ("admin",)
    with engine.connect() as db:  # its creation is in the audit log, as every key's is
        created = db.execute(text("SELECT actor, target, details FROM audit_log "
                                  "WHERE action = 'key.create'")).all()
    assert [(row.target, json.loads(row.details)["bootstrap"]) for row in created] == [
        (record.id, True)]
    _, again = serve(env, CEREBRA_SERVER__PORT=str(free_port()))  # once only
    assert "CEREBRA_API_KEY=" not in again
    engine.dispose()


@effect("CEREBRA_SERVER__API_KEY")
def _api_key(env: Env) -> None:
    from cerebra.cli.remote import open_answerer
    from cerebra.errors import CerebraError
    from tests.helpers import running_server

    app = create_app(env.set(CEREBRA_AUTH__MODE="on"))
    with running_server(app) as url:
        secret, _ = IdentityStore(app.state.brain.engine).create_key("default", role="user")
        without = open_answerer(env.set(), server=url)
        try:
            without.ask("hello")
            raise AssertionError("a server with auth on answered without a key")
        except CerebraError as exc:
            assert "CEREBRA_API_KEY" in exc.message
        finally:
            without.close()
        answerer = open_answerer(env.set(CEREBRA_SERVER__API_KEY=secret), server=url)
        try:
            assert answerer.ask("hello")["trace_id"]
        finally:
            answerer.close()
