"""Effect checks of the hardening settings: the signed config, TLS files, the request-body
limit, and where catalog entries sent over the API may point (model_dirs, allowed_hosts)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from cerebra.config import get_settings
from cerebra.governance.config_signature import ConfigSignatureError
from cerebra.server.app import create_app
from tests.effects.base import Env, effect
from tests.helpers import free_port, self_signed_cert


def serve(env: Env, **values: str) -> tuple[Any, dict[str, Any]]:
    """Run `cerebra serve` here with uvicorn's loop replaced by a look at its config; returns
    the CliRunner result and what uvicorn was given."""
    import uvicorn
    from typer.testing import CliRunner

    from cerebra.cli.main import app

    env.set(**{"CEREBRA_SERVER__PORT": str(free_port()), **values})
    seen: dict[str, Any] = {}

    def run(self: Any, sockets: Any = None) -> None:
        seen["config"] = self.config

    env.monkeypatch.setattr(uvicorn.Server, "run", run)
    return CliRunner().invoke(app, ["serve", "--no-engine-check"]), seen


@effect("CEREBRA_CONFIG_SIGNATURE")
def _config_signature(env: Env) -> None:
    from cerebra.governance.config_signature import sign

    port = str(free_port())
    env.set(CEREBRA_SECRET_KEY="effects-secret", CEREBRA_MEMORY__TOP_K="3",
            CEREBRA_SERVER__PORT=port)
    signature = sign(get_settings())
    result, seen = serve(env, CEREBRA_CONFIG_SIGNATURE=signature, CEREBRA_SERVER__PORT=port)
    assert result.exit_code == 0 and "config" in seen, result.output
    result, seen = serve(env, CEREBRA_MEMORY__TOP_K="4",  # a setting changed after signing
                         CEREBRA_SERVER__PORT=port)
    assert isinstance(result.exception, ConfigSignatureError) and "config" not in seen


def _tls(env: Env) -> None:
    cert, key = self_signed_cert(env.tmp)
    result, seen = serve(env, CEREBRA_SERVER__TLS_CERTFILE=str(cert),
                         CEREBRA_SERVER__TLS_KEYFILE=str(key))
    assert result.exit_code == 0, result.output
    assert seen["config"].ssl_certfile == str(cert) and seen["config"].ssl_keyfile == str(key)
    assert "Cerebra serving on https://" in result.output
    result, seen = serve(env, CEREBRA_SERVER__TLS_KEYFILE=str(cert))  # not a key
    assert result.exit_code != 0 and "config" not in seen


effect("CEREBRA_SERVER__TLS_CERTFILE")(_tls)
effect("CEREBRA_SERVER__TLS_KEYFILE")(_tls)


@effect("CEREBRA_SERVER__MAX_BODY_BYTES")
def _max_body_bytes(env: Env) -> None:
    settings = env.set(CEREBRA_SERVER__MAX_BODY_BYTES="2000")
    body = {"prompt": "x" * 3000, "memory": False}
    with TestClient(create_app(settings)) as client:
        r = client.post("/api/llm/query", json=body)
        assert r.status_code == 413 and r.json()["error"]["limit_bytes"] == 2000
    settings = env.set(CEREBRA_SERVER__MAX_BODY_BYTES="8000")
    with TestClient(create_app(settings)) as client:
        assert client.post("/api/llm/query", json=body).status_code == 200


@effect("CEREBRA_CATALOG__MODEL_DIRS")
def _model_dirs(env: Env) -> None:
    folder = env.tmp / "weights"
    folder.mkdir()
    (folder / "w.gguf").write_bytes(b"w")
    entry = {"name": "w", "kind": "fake", "path": str(folder / "w.gguf")}
    with TestClient(create_app(env.set())) as client:
        assert client.post("/api/models", json=entry).status_code == 403
    with TestClient(create_app(env.set(CEREBRA_CATALOG__MODEL_DIRS=f'["{folder}"]'))) as client:
        r = client.post("/api/models", json=entry)
        assert r.status_code == 201, r.text


@effect("CEREBRA_CATALOG__ALLOWED_HOSTS")
def _allowed_hosts(env: Env) -> None:
    entry = {"name": "r", "kind": "openai", "base_url": "http://upstream.test:8000/v1"}
    with TestClient(create_app(env.set())) as client:
        r = client.post("/api/models", json=entry)
        assert r.status_code == 403 and r.json()["error"]["field"] == "base_url"
    settings = env.set(CEREBRA_CATALOG__ALLOWED_HOSTS='["upstream.test:8000"]')
    with TestClient(create_app(settings)) as client:
        assert client.post("/api/models", json=entry).status_code == 201
