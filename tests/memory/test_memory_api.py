"""The memory API over HTTP (/api/memory/...) and the CLI (`cerebra memory ...`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cerebra.brain import Brain
from cerebra.config import Settings
from cerebra.server.app import create_app
from cerebra.testing import FakeEmbedder, FakeModel
from tests.helpers import run_cli

FAKE = {"CEREBRA_FAKE_MODEL": "1", "CEREBRA_EMBEDDER": "fake"}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    brain = Brain.from_settings(
        Settings(home=tmp_path / "h"), model=FakeModel("ok", name="fake"), embedder=FakeEmbedder()
    )
    with TestClient(create_app(brain.settings, brain=brain)) as c:
        yield c


def test_http_lifecycle(client: TestClient) -> None:
    ids = client.post(
        "/api/memory/batch",
        json={
            "agent_id": "a",
            "user_id": "u1",
            "items": [
                {"text": "the build uses python 3.11", "tags": ["ci"], "metadata": {"turn": 1}},
                {"text": "deploys happen on fridays", "metadata": {"turn": 2}, "importance": 0.2},
            ],
        },
    )
    assert ids.status_code == 201, ids.text
    first, second = ids.json()["ids"]
    patched = client.patch(f"/api/memory/{first}", json={"text": "the build uses python 3.12"})
    assert patched.status_code == 200 and patched.json()["version"] == 2
    versions = client.get(f"/api/memory/{first}/history").json()["versions"]
    assert [v["text"][-4:] for v in versions] == ["3.11", "3.12"]
    found = client.post(
        "/api/memory/search",
        json={"query": "build python", "agent_id": "a", "filters": {"turn": {"lte": 1}}},
    ).json()["hits"]
    assert [h["id"] for h in found] == [first]
    similar = client.post("/api/memory/similar", json={"query": "deploys fridays", "k": 1})
    assert similar.json()["hits"][0]["id"] == second
    recent = client.post("/api/memory/recent", json={"agent_id": "a", "filters": {"turn": 2}})
    assert [m["id"] for m in recent.json()["memories"]] == [second]
    assert [m["id"] for m in client.get("/api/memory?tag=ci").json()["memories"]] == [first]
    assert client.post(
        "/api/memory/feedback", json={"memory_ids": [first], "reward": 1}
    ).json() == {"updated": 1}
    assert client.get(f"/api/memory/{first}").json()["salience"] > 0
    assert client.post("/api/memory/prune", json={"agent_id": "a", "threshold": 0.3}).json() == {
        "deleted": 1
    }
    assert client.post("/api/memory/delete_all", json={}).status_code == 422
    assert client.post("/api/memory/delete_all", json={"user_id": "u1"}).json() == {"deleted": 1}
    assert client.get(f"/api/memory/{first}/history").status_code == 404


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/memory", {"text": ""}, "text"),
        ("/api/memory", {"text": "x" * 20_001}, "text"),
        ("/api/memory", {"text": "ok", "importance": 3}, "importance"),
        ("/api/memory/batch", {"items": [{"text": "ok"}, {"text": " "}]}, "items[1].text"),
        ("/api/memory/search", {"query": "x", "filters": {"a": {"regex": "x"}}}, "filter.a"),
        ("/api/memory/search", {"query": "x", "filters": {"OR": "a"}}, "filter.OR"),
        ("/api/memory/feedback", {"memory_ids": ["a"], "reward": 5}, "reward"),
    ],
)
def test_http_bad_input_is_422(client: TestClient, path: str, body: dict, field: str) -> None:
    response = client.post(path, json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field
    assert client.get("/api/memory").json()["memories"] == []


@pytest.mark.parametrize("raw", [b'{"text": "\xff\xfe"}', b'{"text": "bad \\ud800"}'])
def test_http_invalid_utf8_is_422(client: TestClient, raw: bytes) -> None:
    response = client.post("/api/memory", content=raw, headers={"content-type": "application/json"})
    # FastAPI answers a body it cannot decode with 400; a lone surrogate reaches the store: 422
    assert response.status_code in (400, 422) and "error" in response.json(), response.text
    assert client.get("/api/memory").json()["memories"] == []


def test_cli_lifecycle(tmp_path: Path) -> None:
    uid = run_cli(
        "memory",
        "add",
        "the cache lives in redis",
        "--agent",
        "c",
        "--metadata",
        '{"env": "prod"}',
        env=FAKE,
    )
    assert uid.returncode == 0, uid.stderr
    memory_id = uid.stdout.strip()
    assert (
        run_cli(
            "memory", "update", memory_id, "--text", "the cache lives in memcached", env=FAKE
        ).returncode
        == 0
    )
    history = json.loads(run_cli("memory", "history", memory_id, env=FAKE).stdout)
    assert [v["version"] for v in history] == [1, 2]
    hits = json.loads(
        run_cli(
            "memory", "search", "cache", "--filter", '{"env": "prod"}', "--json", env=FAKE
        ).stdout
    )
    assert [h["id"] for h in hits] == [memory_id]
    log = tmp_path / "app.log"
    log.write_text(
        '{"level": "error", "logger": "db", "message": "connection lost"}\n'
        "2024-05-01 10:00:00,000 WARNING web: slow request\n"
    )
    report = json.loads(run_cli("memory", "ingest-logs", str(log), "--agent", "c", env=FAKE).stdout)
    assert report["stored"] == 2
    listed = json.loads(
        run_cli("memory", "list", "--tag", "level:error", "--json", env=FAKE).stdout
    )
    assert [m["text"] for m in listed] == ["connection lost"]
    assert run_cli("memory", "feedback", memory_id, "--reward", "0.5", env=FAKE).returncode == 0
    assert json.loads(run_cli("memory", "delete-all", "--agent", "c", env=FAKE).stdout) == {
        "deleted": 3
    }


@pytest.mark.parametrize(
    "args",
    [
        ("memory", "search", "x", "--filter", "{not json"),
        ("memory", "search", "x", "--filter", '{"a": {"like": 1}}'),
        ("memory", "add", "x", "--importance", "7"),
        ("memory", "delete-all"),
        ("memory", "update", "nope", "--text", "x"),
    ],
)
def test_cli_bad_input_exits_2(args: tuple[str, ...]) -> None:
    result = run_cli(*args, env=FAKE)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
