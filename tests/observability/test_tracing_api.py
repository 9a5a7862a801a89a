"""GET /api/traces and /api/traces/{trace_id} over the real app (authentication on, two
tenants): a request's trace under the trace id its response carried, with authentication
as its first step, for every entry point (Cerebra's query, the OpenAI chat route's direct
path and its stream, legacy completions); the forcing header at rate 0; paging; tenant
isolation and a confined key's own traces only; 404 and 422 as JSON naming the field."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cerebra.auth.identity import IdentityStore
from cerebra.config import get_settings
from cerebra.server.app import create_app

FAST = {"CEREBRA_MODEL__FAKE": "true", "CEREBRA_MEMORY__EMBEDDER": "fake",
        "CEREBRA_HEALTH__INTERVAL_S": "0", "CEREBRA_AUTH__MODE": "on",
        "CEREBRA_TRACING__SAMPLE_RATE": "0"}  # kept only when a request asks
KEEP = {"X-Cerebra-Trace": "always"}


@dataclass
class World:
    client: TestClient
    keys: dict[str, str]
    app: Any

    def headers(self, who: str, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}", **extra}

    def ask(self, who: str, prompt: str, keep: bool = True, **body: Any) -> str:
        response = self.client.post("/api/llm/query", json={"prompt": prompt, **body},
                                    headers=self.headers(who, **(KEEP if keep else {})))
        assert response.status_code == 200, response.text
        trace_id: str = response.json()["trace_id"]
        return trace_id

    def get(self, who: str, url: str, **params: Any) -> Any:
        return self.client.get(url, params=params, headers=self.headers(who))


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    for key, value in FAST.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    app = create_app(get_settings())
    with TestClient(app) as client:
        identity = IdentityStore(app.state.brain.engine)
        keys: dict[str, str] = {}
        for tenant in ("acme", "globex"):
            identity.create_tenant(tenant)
            keys[f"{tenant}-admin"], _ = identity.create_key(tenant, role="admin")
        keys["acme-ana"], _ = identity.create_key("acme", role="user", user_id="ana")
        keys["acme-query-only"], _ = identity.create_key("acme", role="user", user_id="bo",
                                                         scopes=["query"])
        yield World(client, keys, app)


def spans_of(world: World, who: str, trace_id: str) -> list[dict[str, Any]]:
    response = world.get(who, f"/api/traces/{trace_id}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["trace_id"] == trace_id
    spans: list[dict[str, Any]] = body["spans"]
    return spans


def test_a_query_is_traced_from_authentication_on(world: World) -> None:
    trace_id = world.ask("acme-admin", "hello there")
    spans = spans_of(world, "acme-admin", trace_id)
    root = spans[0]
    assert root["name"] == "api" and root["parent_id"] is None and root["start_ms"] == 0
    children = [s["name"] for s in spans if s["parent_id"] == root["span_id"]]
    assert children[:2] == ["auth", "policy"]
    assert {"memory.recall", "render", "model.generate", "sinks"} <= set(children)
    assert root["attributes"]["cerebra.tenant_id"] == "acme"
    listed = world.get("acme-admin", "/api/traces").json()
    assert [t["trace_id"] for t in listed["traces"]] == [trace_id]
    (summary,) = listed["traces"]
    assert summary["spans"] == len(spans) and summary["status"] == "ok"
    assert summary["name"] == "api" and summary["model"] and summary["duration_ms"] > 0
    assert listed["next"] is None


def test_unforced_requests_are_not_kept_at_rate_zero(world: World) -> None:
    trace_id = world.ask("acme-admin", "hello there", keep=False)
    response = world.get("acme-admin", f"/api/traces/{trace_id}")
    assert response.status_code == 404
    assert response.json()["error"]["field"] == "trace_id"
    # the interaction itself is there under the same id
    assert world.get("acme-admin", f"/api/interactions/{trace_id}").status_code == 200


def test_the_chat_routes_direct_path_stream_and_completions(world: World) -> None:
    direct = world.app.state.direct_chat
    before = direct.answered
    chat = {"model": "gemma-3-270m", "messages": [{"role": "user", "content": "hi"}]}
    response = world.client.post("/v1/chat/completions", json=chat,
                                 headers=world.headers("acme-admin", **KEEP))
    assert response.status_code == 200, response.text
    assert direct.answered == before + 1  # answered by the direct path
    trace_id = response.json()["cerebra"]["trace_id"]
    names = [s["name"] for s in spans_of(world, "acme-admin", trace_id)]
    assert names[:3] == ["openai.chat", "auth", "policy"] and "model.generate" in names

    streamed = world.client.post("/v1/chat/completions", json={**chat, "stream": True},
                                 headers=world.headers("acme-admin", **KEEP))
    assert streamed.status_code == 200
    page = world.get("acme-admin", "/api/traces", limit=1).json()["traces"]
    names = [s["name"] for s in spans_of(world, "acme-admin", page[0]["trace_id"])]
    assert names[0] == "openai.chat" and "auth" in names and "model.stream" in names

    legacy = world.client.post("/v1/completions",
                               json={"model": "gemma-3-270m", "prompt": "once upon"},
                               headers=world.headers("acme-admin", **KEEP))
    assert legacy.status_code == 200, legacy.text
    page = world.get("acme-admin", "/api/traces", limit=1).json()["traces"]
    assert page[0]["name"] == "openai.completions"


def test_pages_go_back_in_time(world: World) -> None:
    made = [world.ask("acme-admin", f"question {i}") for i in range(3)]
    first = world.get("acme-admin", "/api/traces", limit=2).json()
    assert [t["trace_id"] for t in first["traces"]] == made[::-1][:2]
    second = world.get("acme-admin", "/api/traces", limit=2, before=first["next"]).json()
    assert [t["trace_id"] for t in second["traces"]] == made[:1]
    assert second["next"] is None


def test_tenants_and_confined_keys_see_their_own(world: World) -> None:
    acme = world.ask("acme-admin", "acme's question", user_id="carl")
    anas = world.ask("acme-ana", "ana's question")
    assert world.get("globex-admin", f"/api/traces/{acme}").status_code == 404
    assert world.get("globex-admin", "/api/traces").json() == {"traces": [], "next": None}
    assert [t["trace_id"] for t in world.get("acme-ana", "/api/traces").json()["traces"]] == [
        anas]
    assert world.get("acme-ana", f"/api/traces/{acme}").status_code == 404
    assert len(world.get("acme-admin", "/api/traces").json()["traces"]) == 2


@pytest.mark.parametrize(("params", "field"), [
    ({"limit": 0}, "limit"), ({"limit": 501}, "limit"), ({"limit": "x"}, "limit"),
    ({"before": -1}, "before"), ({"before": "soon"}, "before"),
])
def test_bad_input_is_a_422_naming_the_field(world: World, params: dict[str, Any],
                                             field: str) -> None:
    response = world.get("acme-admin", "/api/traces", **params)
    assert response.status_code == 422
    assert field in json.dumps(response.json()["error"])


def test_reading_traces_needs_interactions_read(world: World) -> None:
    assert world.get("acme-query-only", "/api/traces").status_code == 403
    assert world.client.get("/api/traces").status_code == 401
