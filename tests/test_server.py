"""HTTP server on fakes: query, OpenAI-compatible routes, errors, health and metrics."""

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


@pytest.fixture
def brain(tmp_path: Path) -> Brain:
    settings = Settings(home=tmp_path / "h")
    return Brain.from_settings(
        settings,
        model=FakeModel("Blue is nice.", name="fake", max_context=200),
        embedder=FakeEmbedder(),
    )


@pytest.fixture
def client(brain: Brain) -> Iterator[TestClient]:
    with TestClient(create_app(brain.settings, brain=brain)) as c:
        yield c


def test_health_ready_uptime(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    assert client.get("/uptime").json()["uptime_s"] >= 0


def test_query_returns_answer_and_recalls(client: TestClient) -> None:
    r1 = client.post("/api/llm/query", json={"prompt": "My dog is called Rex.", "user_id": "u"})
    assert r1.status_code == 200, r1.text
    body = r1.json()
    assert body["answer"] == "Blue is nice."
    assert body["trace_id"] and body["model"] == "fake"
    r2 = client.post("/api/llm/query", json={"prompt": "What is my dog called?", "user_id": "u"})
    ids = [m["id"] for m in r2.json()["memories"]]
    assert body["stored_memory_id"] in ids


def test_query_stream(client: TestClient) -> None:
    with client.stream("POST", "/api/llm/query", json={"prompt": "hi", "stream": True}) as r:
        assert r.status_code == 200
        text = "".join(r.iter_text())
    assert "event: answer" in text and "Blue" in text


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "prompt"),
        ({"prompt": ""}, "prompt"),
        ({"prompt": "x", "max_tokens": -1}, "max_tokens"),
        ({"prompt": "x", "temperature": 9}, "temperature"),
    ],
)
def test_query_bad_input_names_field(
    client: TestClient, body: dict[str, object], field: str
) -> None:
    r = client.post("/api/llm/query", json=body)
    assert r.status_code == 422
    assert r.json()["error"]["field"] == field


def test_malformed_json_is_422(client: TestClient) -> None:
    r = client.post(
        "/api/llm/query", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "body"


def test_whitespace_prompt_is_422(client: TestClient) -> None:
    r = client.post("/api/llm/query", json={"prompt": "   "})
    assert r.status_code == 422 and r.json()["error"]["field"] == "prompt"


def test_prompt_too_long_is_413(client: TestClient, brain: Brain) -> None:
    r = client.post("/api/llm/query", json={"prompt": "word " * 500})
    assert r.status_code == 413
    assert "context" in r.json()["error"]["message"]
    assert brain.ledger.recent() == []


def test_unknown_model_is_404_with_known(client: TestClient) -> None:
    r = client.post("/api/llm/query", json={"prompt": "hi", "model": "gpt-9"})
    assert r.status_code == 404
    assert r.json()["error"]["known_models"] == ["fake"]
    r = client.post(
        "/v1/chat/completions",
        json={"model": "gpt-9", "messages": [{"role": "user", "content": "x"}]},
    )
    assert r.status_code == 404 and "fake" in r.json()["error"]["message"]


def test_chat_completions_shape(client: TestClient) -> None:
    r = client.post(
        "/v1/chat/completions",
        json={"model": "fake", "messages": [{"role": "user", "content": "hello"}]},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "Blue is nice."}
    assert (
        body["usage"]["total_tokens"]
        == body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"]
    )


def test_chat_completions_stream_sse(client: TestClient) -> None:
    payload = {
        "model": "fake",
        "stream": True,
        "stream_options": {"include_usage": True},
        "messages": [{"role": "user", "content": "hello"}],
    }
    with client.stream("POST", "/v1/chat/completions", json=payload) as r:
        lines = [line for line in r.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line[6:]) for line in lines[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text.strip() == "Blue is nice."
    assert chunks[-1]["usage"]["completion_tokens"] > 0


@pytest.mark.parametrize(
    "body",
    [
        {"model": "fake", "messages": []},
        {"model": "fake", "messages": [{"role": "wizard", "content": "x"}]},
        {"model": "fake", "messages": "hello"},
        {"model": "fake", "messages": [{"role": "user", "content": "x"}], "max_tokens": 0},
        {"model": "fake", "messages": [{"role": "user", "content": "x"}], "temperature": -1},
        {"messages": [{"role": "user", "content": "x"}]},
    ],
)
def test_chat_completions_invalid(client: TestClient, body: dict[str, object]) -> None:
    r = client.post("/v1/chat/completions", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"]


def test_models_list(client: TestClient) -> None:
    data = client.get("/v1/models").json()
    assert data["object"] == "list" and data["data"][0]["id"] == "fake"


def test_metrics_count_requests_and_tokens(client: TestClient) -> None:
    client.post("/api/llm/query", json={"prompt": "hi"})
    client.post("/api/llm/query", json={})
    text = client.get("/metrics").text
    assert (
        'cerebra_http_requests_total{method="POST",route="/api/llm/query",status="200"} 1.0' in text
    )
    assert 'route="/api/llm/query",status="422"' in text
    assert "cerebra_http_request_duration_seconds_bucket" in text
    assert 'cerebra_tokens_generated_total{model="fake"}' in text
    assert "cerebra_model_latency_seconds" in text


def test_memory_routes(client: TestClient) -> None:
    r = client.post(
        "/api/memory", json={"text": "The office wifi is called Nebula", "agent_id": "a"}
    )
    assert r.status_code == 201
    uid = r.json()["id"]
    hits = client.post(
        "/api/memory/search", json={"query": "wifi name", "agent_id": "a", "explain": True}
    ).json()["hits"]
    assert hits[0]["id"] == uid and "signals" in hits[0]
    assert client.get(f"/api/memory/{uid}").json()["text"].startswith("The office")
    assert client.delete(f"/api/memory/{uid}").status_code == 200
    assert client.get(f"/api/memory/{uid}").status_code == 404
    assert client.post("/api/memory", json={"text": ""}).status_code == 422


def test_every_response_carries_overhead_header(client: TestClient) -> None:
    for r in (client.get("/healthz"), client.post("/api/llm/query", json={"prompt": "hi"})):
        value = float(r.headers["x-cerebra-overhead-ms"])
        assert 0.0 <= value < 10_000


def test_gateway_memory_off_is_pure_proxy(client: TestClient, brain: Brain) -> None:
    messages = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "hello"},
    ]
    r = client.post(
        "/v1/chat/completions",
        headers={"X-Cerebra-Memory": "off"},
        json={"model": "fake", "messages": messages},
    )
    assert r.status_code == 200
    model = brain.models.get("fake")
    sent = model.inner.calls[-1].messages  # type: ignore[attr-defined]
    assert [(m.role, m.content) for m in sent] == [("system", "You are terse."), ("user", "hello")]
    assert r.json()["cerebra"]["memories"] == []


def test_gateway_memory_on_joins_client_system_message(client: TestClient, brain: Brain) -> None:
    brain.memory.add("", "The user's cat is named Miso", user_id="u7")
    r = client.post(
        "/v1/chat/completions",
        json={
            "model": "fake",
            "user": "u7",
            "messages": [
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": "what is my cat named?"},
            ],
        },
    )
    assert r.status_code == 200
    sent = brain.models.get("fake").inner.calls[-1].messages  # type: ignore[attr-defined]
    assert sent[0].role == "system" and sent[0].content.startswith("You are terse.")
    assert "Miso" in sent[0].content
    assert len(sent) == 2


def test_legacy_completions(client: TestClient) -> None:
    r = client.post("/v1/completions", json={"model": "fake", "prompt": "Once", "echo": True})
    assert r.status_code == 200, r.text
    choice = r.json()["choices"][0]
    assert choice["text"].startswith("Once") and r.json()["object"] == "text_completion"
    with client.stream(
        "POST", "/v1/completions", json={"model": "fake", "prompt": "Once", "stream": True}
    ) as s:
        lines = [x for x in s.iter_lines() if x.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    assert client.post("/v1/completions", json={"model": "fake"}).status_code == 422


def test_embeddings(client: TestClient) -> None:
    r = client.post("/v1/embeddings", json={"model": "fake-embedder", "input": ["a b", "c"]})
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert len(data) == 2 and len(data[0]["embedding"]) == 64
    assert client.post("/v1/embeddings", json={"model": "nope", "input": "x"}).status_code == 404
    assert (
        client.post("/v1/embeddings", json={"model": "fake-embedder", "input": ""}).status_code
        == 422
    )


def test_invalid_utf8_body_is_422(client: TestClient) -> None:
    r = client.post(
        "/api/llm/query",
        content=b'{"prompt": "\xff\xfe"}',
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "body"
