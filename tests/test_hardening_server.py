"""The server's hardening: security headers on JSON and HTML, the request-body limit (declared
and chunked bodies, nothing changed by a refused request), and upstream errors that reach the
caller as a status and a short message, never the upstream's body."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.testclient import TestClient

from cerebra.config import Settings
from cerebra.server.app import create_app
from tests.helpers import running_server

SECRET = "INTERNAL-SECRET-DATA 10.0.0.7 db-password=hunter2"


def settings(tmp_path: Path, **groups: dict[str, object]) -> Settings:
    base: dict[str, dict[str, object]] = {
        "model": {"fake": True}, "memory": {"embedder": "fake"}, "health": {"interval_s": 0}}
    for group, values in groups.items():
        base[group] = {**base.get(group, {}), **values}
    return Settings(home=tmp_path / "h", **base)  # type: ignore[arg-type]


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(settings(tmp_path, server={"max_body_bytes": 4096}))) as c:
        yield c


def test_security_headers_on_json_and_html(client: TestClient) -> None:
    for path in ("/healthz", "/api/models", "/v1/models", "/no-such-route"):
        r = client.get(path)
        assert r.headers["x-content-type-options"] == "nosniff", path
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["referrer-policy"] == "no-referrer"
        assert r.headers["cache-control"] == "no-store"
        assert "strict-transport-security" not in r.headers  # plain HTTP here
        assert "content-security-policy" not in r.headers  # JSON: no documents to police
    html = client.get("/docs")
    assert html.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in html.headers["content-security-policy"]
    assert html.headers["x-frame-options"] == "DENY"


def test_a_declared_body_over_the_limit_is_refused_before_the_route(client: TestClient) -> None:
    before = client.get("/api/memory").json()
    big = {"text": "x" * 5000, "user_id": "u"}
    r = client.post("/api/memory", json=big)
    assert r.status_code == 413
    error = r.json()["error"]
    assert error["type"] == "body_too_large" and error["field"] == "body"
    assert error["limit_bytes"] == 4096 and "4096" in error["message"]
    assert r.headers["x-content-type-options"] == "nosniff"
    assert client.get("/api/memory").json() == before  # nothing stored
    small = client.post("/api/memory", json={"text": "the sky is green", "user_id": "u"})
    assert small.status_code in (200, 201), small.text


def test_a_chunked_body_is_counted_while_it_is_read(tmp_path: Path) -> None:
    app = create_app(settings(tmp_path, server={"max_body_bytes": 4096}))

    def chunks(total: int) -> Iterator[bytes]:
        body = json.dumps({"prompt": "y" * total, "memory": False}).encode()
        for start in range(0, len(body), 1000):
            yield body[start:start + 1000]

    with running_server(app) as base, httpx.Client(base_url=base, timeout=30) as http:
        before = http.get("/api/interactions").json()
        r = http.post("/api/llm/query", content=chunks(20_000),
                      headers={"content-type": "application/json"})
        assert r.status_code == 413 and r.json()["error"]["limit_bytes"] == 4096
        assert http.get("/api/interactions").json() == before  # the route answered nothing
        ok = http.post("/api/llm/query", content=chunks(1000),
                       headers={"content-type": "application/json"})
        assert ok.status_code == 200, ok.text


# -- upstream errors --------------------------------------------------------------------------

def leaky_upstream() -> FastAPI:
    """An OpenAI-compatible server whose every error carries internal data."""
    app = FastAPI()

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/chat/completions", response_model=None)
    async def chat(request: Request) -> JSONResponse | PlainTextResponse:
        model = (await request.json())["model"]
        if model == "bad-request":
            return JSONResponse({"error": {"message": SECRET, "type": "invalid_request_error"}},
                                status_code=400)
        if model == "crash":
            return PlainTextResponse(f"Traceback ... {SECRET}", status_code=500)
        return JSONResponse({"error": {"message": SECRET, "type": SECRET}}, status_code=200)

    return app


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with running_server(leaky_upstream()) as base:
        yield f"{base}/v1"


@pytest.mark.parametrize(("model", "status", "shown"), [
    ("bad-request", 422, "answered HTTP 400 (invalid_request_error)"),
    ("crash", 502, "answered HTTP 500"),
    ("error-in-200", 502, "reported an error in its reply"),
])
def test_upstream_errors_reach_the_caller_sanitised(
        tmp_path: Path, upstream: str, caplog: pytest.LogCaptureFixture, model: str,
        status: int, shown: str) -> None:
    catalog = json.dumps({"models": [{"name": "leaky", "kind": "openai", "base_url": upstream,
                                      "model": model}]})
    app = create_app(settings(tmp_path, catalog={"inline": catalog}))
    chat = {"model": "leaky", "messages": [{"role": "user", "content": "hi"}]}
    with TestClient(app) as client, caplog.at_level(logging.WARNING, "cerebra.upstream"):
        replies = [client.post("/v1/chat/completions", json=chat),
                   client.post("/api/llm/query", json={"prompt": "hi", "model": "leaky",
                                                       "memory": False})]
        with client.stream("POST", "/v1/chat/completions", json={**chat, "stream": True}) as s:
            streamed = s.read().decode()
        listing = client.get("/api/models").text
    for reply in replies:
        assert reply.status_code == status, reply.text
        assert shown in reply.json()["error"]["message"]
    for text in [*(r.text for r in replies), streamed, listing]:
        assert "INTERNAL-SECRET-DATA" not in text and "hunter2" not in text
    assert "INTERNAL-SECRET-DATA" in caplog.text  # the operator still sees it in the log
