"""GET /api/plugins, POST /api/plugins/reload (plugins:admin) and `cerebra plugins list`:
each plugin's state with the reason of a failure."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cerebra.auth.identity import IdentityStore
from cerebra.auth.principal import Role
from cerebra.config import get_settings
from cerebra.server.app import create_app
from tests.helpers import run_cli
from tests.plugins.helpers import tool_plugin, write_plugin


def _plugins(folder: Path) -> None:
    tool_plugin(folder, "cerebra_ok", "ok", 1, meta={"priority": 3, "description": "fine"})
    write_plugin(folder, "cerebra_bad", "raise ValueError('cannot start')\n")
    tool_plugin(folder, "cerebra_boxed", "boxed", 2, meta={"sandbox": True})


def _env(tmp_path: Path, enabled: bool) -> dict[str, str]:
    return {
        "CEREBRA_HOME": str(tmp_path / "home"), "CEREBRA_AUTH__MODE": "on",
        "CEREBRA_MODEL__FAKE": "true", "CEREBRA_MEMORY__EMBEDDER": "fake",
        "CEREBRA_HEALTH__INTERVAL_S": "0", "CEREBRA_PLUGINS__ENABLED": str(enabled).lower(),
        "CEREBRA_PLUGINS__FOLDER": str(tmp_path / "plugins"),
        "CEREBRA_PLUGINS__ENTRY_POINTS": "false",
    }


def _client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, enabled: bool
            ) -> Iterator[tuple[TestClient, dict[str, str]]]:
    _plugins(tmp_path / "plugins")
    for name, value in _env(tmp_path, enabled).items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    app = create_app(get_settings())
    with TestClient(app) as client:
        identity = IdentityStore(app.state.brain.engine)
        admin, _ = identity.create_key("default", role=Role.ADMIN)
        user, _ = identity.create_key("default", role=Role.OPERATOR)
        yield client, {"admin": admin, "operator": user}
    get_settings.cache_clear()


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
           ) -> Iterator[tuple[TestClient, dict[str, str]]]:
    yield from _client(tmp_path, monkeypatch, True)


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_the_api_lists_each_plugins_state(served: tuple[TestClient, dict[str, str]]) -> None:
    client, keys = served
    body = client.get("/api/plugins", headers=_auth(keys["admin"])).json()
    assert body["enabled"] is True and body["watching"] is False
    states = {p["name"]: p for p in body["plugins"]}
    assert states["cerebra_ok"]["state"] == "registered"
    assert states["cerebra_ok"]["provides"] == {"tool": ["ok"]}
    assert states["cerebra_ok"]["description"] == "fine"
    assert states["cerebra_boxed"]["state"] == "sandboxed"
    bad = states["cerebra_bad"]
    assert (bad["state"], bad["stage"]) == ("failed", "import")
    assert "ValueError: cannot start" in bad["error"]
    assert body["plugins"][0]["name"] == "cerebra_ok"  # priority 3 first


def test_the_api_needs_plugins_admin(served: tuple[TestClient, dict[str, str]]) -> None:
    client, keys = served
    assert client.get("/api/plugins").status_code == 401
    refused = client.get("/api/plugins", headers=_auth(keys["operator"]))
    assert refused.status_code == 403
    assert "plugins:admin" in refused.json()["error"]["message"]
    assert client.post("/api/plugins/reload",
                       headers=_auth(keys["operator"])).status_code == 403


def test_reload_over_the_api(served: tuple[TestClient, dict[str, str]], tmp_path: Path) -> None:
    client, keys = served
    write_plugin(tmp_path / "plugins", "cerebra_bad", """
        def register(manager):
            manager.add_tool("fixed", lambda: 1)
        """)
    body = client.post("/api/plugins/reload", headers=_auth(keys["admin"])).json()
    assert body["changed"] == ["cerebra_bad"] and body["added"] == [] == body["removed"]
    states = {p["name"]: p["state"] for p in body["plugins"]}
    assert states["cerebra_bad"] == "registered"


def test_disabled_plugins_list_empty_and_reload_is_a_conflict(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for client, keys in _client(tmp_path, monkeypatch, False):
        body = client.get("/api/plugins", headers=_auth(keys["admin"])).json()
        assert body == {"enabled": False, "watching": False, "plugins": []}
        refused = client.post("/api/plugins/reload", headers=_auth(keys["admin"]))
        assert refused.status_code == 409
        assert refused.json()["error"]["field"] == "plugins.enabled"


def test_cli_lists_states_and_reasons(tmp_path: Path) -> None:
    _plugins(tmp_path / "plugins")
    env = _env(tmp_path, True)
    result = run_cli("plugins", "list", env=env)
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines()[1:]}
    assert lines["cerebra_ok"].split()[1] == "registered" and "[tool: ok]" in lines["cerebra_ok"]
    assert lines["cerebra_boxed"].split()[1] == "sandboxed"
    assert "failed" in lines["cerebra_bad"] and "import: ValueError: cannot start" in \
        lines["cerebra_bad"]
    as_json = json.loads(run_cli("plugins", "list", "--json", env=env).stdout)
    assert {p["name"]: p["state"] for p in as_json["plugins"]} == {
        "cerebra_ok": "registered", "cerebra_bad": "failed", "cerebra_boxed": "sandboxed"}
    off = run_cli("plugins", "list", env={**env, "CEREBRA_PLUGINS__ENABLED": "false"})
    assert "not enabled" in off.stdout
