"""The chat route's direct path (cerebra/server/direct_chat.py): it answers well-formed,
authenticated, non-streaming requests itself, with the route's answer, the security
headers, the overhead header and the route's metrics; everything else — streams, bodies
that fail validation, refused credentials, missing scopes — is the app's own answer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cerebra.auth.identity import IdentityStore
from cerebra.brain import Brain
from cerebra.config import Settings
from cerebra.server.app import create_app
from cerebra.testing import FakeEmbedder, FakeModel

BODY = {"model": "fake-model", "messages": [{"role": "user", "content": "Say hi."}]}


class World:
    def __init__(self, client: TestClient, keys: dict[str, str]) -> None:
        self.client = client
        self.keys = keys

    @property
    def answered(self) -> int:
        return int(self.client.app.state.direct_chat.answered)  # type: ignore[attr-defined]

    def post(self, body: Any = None, role: str | None = "user", **kw: Any) -> Any:
        headers = dict(kw.pop("headers", {}))
        if role is not None:
            headers["Authorization"] = f"Bearer {self.keys[role]}"
        return self.client.post("/v1/chat/completions", json=body if body is not None
                                else BODY, headers=headers, **kw)


@pytest.fixture
def world() -> Iterator[World]:
    config = Settings(auth={"mode": "on"}, health={"interval_s": 0},
                      generation={"max_tokens_cap": 64})
    brain = Brain.from_settings(config, model=FakeModel("Hello there."),
                                embedder=FakeEmbedder())
    identity = IdentityStore(brain.engine)
    identity.create_tenant("t1")
    keys = {role: identity.create_key("t1", role=role, user_id="alice")[0]
            for role in ("user", "read-only", "admin")}
    try:
        with TestClient(create_app(config, brain=brain)) as client:
            yield World(client, keys)
    finally:
        brain.close()


def test_a_plain_request_is_answered_directly_with_the_routes_answer(world: World) -> None:
    r = world.post(headers={"X-Cerebra-Memory": "off"})
    assert r.status_code == 200, r.text
    assert world.answered == 1
    body = r.json()
    assert body["object"] == "chat.completion" and body["id"].startswith("chatcmpl-")
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "Hello there."}
    assert body["usage"]["total_tokens"] > 0
    # inside the hardening and the metrics: same headers as every other answer
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["cache-control"] == "no-store"
    assert float(r.headers["x-cerebra-overhead-ms"]) >= 0
    metrics = world.client.get("/metrics", headers={
        "Authorization": f"Bearer {world.keys['admin']}"})
    assert metrics.status_code == 200, metrics.text
    assert 'route="/v1/chat/completions",status="200"' in metrics.text
    # the interaction is the caller's own, recorded as on the route
    listed = world.client.get("/api/interactions", headers={
        "Authorization": f"Bearer {world.keys['user']}"}).json()["interactions"]
    assert [(i["user_id"], i["endpoint"]) for i in listed] == [("alice", "openai.chat")]


@pytest.mark.parametrize(("case", "status", "field"), [
    ("no credential", 401, None),
    ("unknown key", 401, "authorization"),
    ("no query scope", 403, "scope"),
    ("invalid body", 422, "messages"),
    ("not json", 422, "body"),
])
def test_what_the_route_would_refuse_is_the_apps_own_answer(
    world: World, case: str, status: int, field: str | None,
) -> None:
    if case == "no credential":
        r = world.post(role=None)
        assert "www-authenticate" in {k.lower() for k in r.headers}
    elif case == "unknown key":
        r = world.client.post("/v1/chat/completions", json=BODY,
                              headers={"Authorization": "Bearer ck-not-a-key"})
    elif case == "no query scope":
        r = world.post(role="read-only")
    elif case == "invalid body":
        r = world.post({"model": "fake-model", "messages": []})
    else:
        r = world.client.post("/v1/chat/completions", content=b"model=fake",
                              headers={"Authorization": f"Bearer {world.keys['user']}",
                                       "Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == status, r.text
    error = r.json()["error"]
    if field is not None:
        assert error["field"] == field
    assert world.answered == 0
    assert r.headers["x-content-type-options"] == "nosniff"


def test_a_stream_is_answered_by_the_route(world: World) -> None:
    with world.client.stream("POST", "/v1/chat/completions", json={**BODY, "stream": True},
                             headers={"Authorization": f"Bearer {world.keys['user']}"}) as r:
        text = "".join(r.iter_text())
    assert r.status_code == 200 and "data: [DONE]" in text and "Hello" in text
    assert world.answered == 0


def test_an_error_after_acceptance_goes_through_the_apps_handlers(world: World) -> None:
    # accepted by the schema, refused by the cap the route checks: the app's JSON error
    r = world.post({**BODY, "max_completion_tokens": 8, "max_tokens": 1000})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == "max_tokens"
    assert r.headers["x-content-type-options"] == "nosniff"
    r = world.post({**BODY, "model": "no-such-model"})
    assert r.status_code == 404 and r.json()["error"]["type"]
    assert world.answered == 2  # both answered on the direct path, by the app's handlers
