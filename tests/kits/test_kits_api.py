"""/api/v1/kits over real API keys: browse and show need training:read, install needs
training:write; installs come only from entry points or folders under the allowed roots;
a tenant's installed kit is invisible (404) to other tenants; refusals are JSON errors."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from cerebra.config import get_settings
from tests.helpers import api_world
from tests.kits.helpers import write_kit


@dataclass
class World:
    client: TestClient
    headers: dict[str, dict[str, str]]
    home: Path

    def get(self, path: str, key: str = "admin") -> Response:
        return self.client.get(path, headers=self.headers[key])

    def install(self, source: str, key: str = "admin", **extra: object) -> Response:
        return self.client.post("/api/v1/kits/install", json={"source": source, **extra},
                                headers=self.headers[key])


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    with api_world(monkeypatch) as made:
        headers = {"admin": made.admin, "reader": made.reader, "user": made.user,
                   "globex": made.other}
        yield World(made.client, headers, get_settings().home)
    get_settings.cache_clear()


def test_browse_lists_the_builtin_kits(world: World) -> None:
    listed = world.get("/api/v1/kits/browse", "reader")
    assert listed.status_code == 200
    kits = {k["name"]: k for k in listed.json()["kits"]}
    assert {"date-iso", "invoice-extract", "ticket-triage", "cerebra-docs"} <= set(kits)
    assert kits["date-iso"]["origin"] == "builtin" and kits["date-iso"]["eval_items"] >= 200
    assert kits["invoice-extract"]["checker"] == "json_schema"
    shown = world.get("/api/v1/kits/date-iso").json()
    assert shown["prompt_example"].endswith("ISO date:") and shown["reference_example"]


def test_scopes_are_required(world: World) -> None:
    refused = world.get("/api/v1/kits/browse", "user")
    assert refused.status_code == 403 and refused.json()["error"]["field"] == "scope"
    inbox = world.home / "kits-inbox"
    write_kit(inbox / "mine", name="mine")
    assert world.install(str(inbox / "mine"), "reader").status_code == 403
    assert world.client.get("/api/v1/kits/browse").status_code == 401


def test_a_tenants_install_is_its_own(world: World) -> None:
    inbox = world.home / "kits-inbox"
    write_kit(inbox / "mine", name="acme-kit")
    made = world.install(str(inbox / "mine"))
    assert made.status_code == 200, made.text
    assert made.json()["origin"] == "tenant" and made.json()["eval_items"] == 3
    assert world.get("/api/v1/kits/acme-kit").json()["name"] == "acme-kit"
    theirs = world.get("/api/v1/kits/acme-kit", "globex")
    assert theirs.status_code == 404 and theirs.json()["error"]["type"] == "not_found"
    assert "acme-kit" not in {k["name"] for k in world.get(
        "/api/v1/kits/browse", "globex").json()["kits"]}
    again = world.install(str(inbox / "mine"))
    assert again.status_code == 409 and again.json()["error"]["type"] == "conflict"
    assert world.install(str(inbox / "mine"), replace=True).status_code == 200


def test_folders_outside_the_allowed_roots_are_refused(world: World, tmp_path: Path) -> None:
    outside = write_kit(tmp_path / "elsewhere", name="sneaky")
    refused = world.install(str(outside))
    assert refused.status_code == 403 and refused.json()["error"]["field"] == "source"
    inbox = world.home / "kits-inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    escaping = world.install(str(inbox / ".." / ".." / outside.relative_to("/")))
    assert escaping.status_code == 403
    (inbox / "link").symlink_to(outside)
    assert world.install(str(inbox / "link")).status_code == 403  # resolved first
    assert world.install("relative/path").status_code == 403
    assert world.install("README.md").status_code == 404  # a name: entry points only
    assert not (world.home / "kits").exists() or not any(
        (world.home / "kits").rglob("kit.yaml"))


def test_a_bad_kit_is_a_422_naming_the_line(world: World) -> None:
    inbox = world.home / "kits-inbox"
    bad = write_kit(inbox / "bad", name="bad")
    (bad / "train.jsonl").write_text('{"id": "1", "input": "x"}\n[1, 2]\n')
    refused = world.install(str(bad))
    assert refused.status_code == 422
    assert "train.jsonl line 2" in refused.json()["error"]["message"]
    assert world.client.post("/api/v1/kits/install", json={"source": "x" * 1001},
                             headers=world.headers["admin"]).status_code == 422
    assert world.get("/api/v1/kits/Not%20A%20Name").status_code == 422
