"""The server built from settings with a catalog and a router: routing decisions visible
through the API, feedback, hot swap through /api/models, refused entries."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cerebra.config import Settings
from cerebra.server.app import create_app

CATALOG = """
models:
  - {name: alpha, kind: fake, options: {reply: "alpha here"}}
  - {name: beta, kind: fake, options: {reply: "beta here"}}
"""


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        home=tmp_path / "h",
        model={"embedded": False},
        memory={"embedder": "fake"},
        catalog={"inline": CATALOG},
        router={"strategy": "thompson"},
        health={"interval_s": 0},
    )
    with TestClient(create_app(settings)) as c:
        yield c


def test_router_is_default_and_decisions_are_visible(client: TestClient) -> None:
    names = [m["id"] for m in client.get("/v1/models").json()["data"]]
    assert names == ["alpha", "auto", "beta"]
    r = client.post("/api/llm/query", json={"prompt": "hello", "memory": False})
    assert r.status_code == 200, r.text
    body = r.json()
    routing = body["routing"]
    assert routing["served_by"] in ("alpha", "beta") and routing["reason"]
    assert body["model"] == routing["served_by"]
    assert body["answer"] == f"{routing['served_by']} here"
    decisions = client.get("/api/router/decisions").json()["decisions"]
    assert decisions[0]["id"] == routing["decision_id"]
    fb = client.post(
        "/api/router/feedback", json={"decision_id": routing["decision_id"], "quality": 0.9}
    )
    assert fb.status_code == 200 and fb.json()["quality"] == 0.9
    again = client.post(
        "/api/router/feedback", json={"decision_id": routing["decision_id"], "quality": 0.9}
    )
    assert again.status_code == 422
    stats = client.get("/api/router/stats").json()
    assert {a["arm"] for a in stats["arms"]} == {"alpha", "beta"}
    assert (
        client.post("/api/router/feedback", json={"decision_id": "x", "quality": 2}).status_code
        == 422
    )


def test_explicit_model_bypasses_router(client: TestClient) -> None:
    r = client.post(
        "/v1/chat/completions",
        json={"model": "beta", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert r.json()["choices"][0]["message"]["content"] == "beta here"


def test_hot_swap_through_api(client: TestClient) -> None:
    r = client.post(
        "/api/models", json={"name": "gamma", "kind": "fake", "options": {"reply": "g"}}
    )
    assert r.status_code == 201, r.text
    listed = client.get("/api/models").json()
    assert "gamma" in [m["name"] for m in listed["models"]]
    r = client.post(
        "/v1/chat/completions",
        json={"model": "gamma", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert r.json()["choices"][0]["message"]["content"] == "g"
    stats = client.get("/api/router/stats").json()
    assert "gamma" in {a["arm"] for a in stats["arms"]}
    assert client.delete("/api/models/gamma").status_code == 200
    r = client.post(
        "/v1/chat/completions",
        json={"model": "gamma", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert r.status_code == 404


def test_bad_entry_refused_rest_serves(client: TestClient, tmp_path: Path) -> None:
    weights = tmp_path / "h" / "models" / "w.gguf"  # under home/models: API entries may name it
    weights.parent.mkdir(parents=True, exist_ok=True)
    weights.write_bytes(b"not really a model")
    r = client.post(
        "/api/models",
        json={"name": "bad", "kind": "llamacpp", "path": str(weights), "sha256": "0" * 64},
    )
    assert r.status_code >= 400
    assert "w.gguf" in r.json()["error"]["message"]
    ok = client.post(
        "/v1/chat/completions",
        json={"model": "alpha", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert ok.status_code == 200
    assert client.post("/api/models", json={"name": "x", "kind": "warp"}).status_code == 422


def test_router_api_without_router(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "h", model={"fake": True}, memory={"embedder": "fake"},
                        health={"interval_s": 0})
    with TestClient(create_app(settings)) as c:
        r = c.get("/api/router/decisions")
        assert r.status_code == 404 and "CEREBRA_ROUTER_STRATEGY" in r.json()["error"]["message"]


def test_cli_router_commands(tmp_path: Path) -> None:
    """Decisions made by a live server are listed by the CLI; feedback goes to the server."""
    import json as _json

    from tests.helpers import run_cli, running_server

    home = tmp_path / "cli"
    settings = Settings(
        home=home,
        model={"embedded": False},
        memory={"embedder": "fake"},
        catalog={"inline": CATALOG},
        router={"strategy": "thompson"},
        health={"interval_s": 0},
    )
    with running_server(create_app(settings)) as base:
        import httpx

        r = httpx.post(f"{base}/api/llm/query", json={"prompt": "hi", "memory": False})
        decision_id = r.json()["routing"]["decision_id"]
        httpx.get(f"{base}/api/router/decisions")  # flushes the decision log to the database
        env = {"CEREBRA_HOME": str(home)}
        listed = run_cli("router", "decisions", "--json", env=env)
        assert listed.returncode == 0, listed.stderr
        assert _json.loads(listed.stdout)[0]["id"] == decision_id
        fb = run_cli("router", "feedback", decision_id, "0.8", "--url", base, env=env)
        assert fb.returncode == 0, fb.stderr
        assert "reward" in fb.stdout
        again = run_cli("router", "feedback", decision_id, "0.8", "--url", base, env=env)
        assert again.returncode == 2 and again.stderr.startswith("error:")
        stats = run_cli("router", "stats", "--url", base, "--json", env=env)
        assert {a["arm"] for a in _json.loads(stats.stdout)["arms"]} == {"alpha", "beta"}
    missing = run_cli("router", "show", "nope", env={"CEREBRA_HOME": str(home)})
    assert missing.returncode == 2


def test_feedback_teaches_router_and_is_listed(client: TestClient) -> None:
    r = client.post("/api/llm/query", json={"prompt": "hello", "memory": False})
    trace = r.json()["trace_id"]
    fb = client.post("/api/feedback", json={"trace_id": trace, "quality": 0.75})
    assert fb.status_code == 200, fb.text
    assert fb.json()["router"]["decision_id"] == r.json()["routing"]["decision_id"]
    assert (
        client.post("/api/feedback", json={"trace_id": trace, "quality": 0.75}).status_code == 422
    )
    assert client.post("/api/feedback", json={"trace_id": "zzz", "quality": 0.5}).status_code == 404
    assert client.post("/api/feedback", json={"trace_id": trace, "quality": 7}).status_code == 422
    row = client.get(f"/api/interactions/{trace}").json()
    assert row["quality"] == 0.75 and row["decision_id"]
    assert client.get("/api/interactions").json()["interactions"][0]["trace_id"] == trace
