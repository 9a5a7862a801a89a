"""The HTTP server under load, on a FakeModel behind the admission queue: a full queue is a
429 with Retry-After, a client that disconnects stops its generation (streaming or not, on
every generating route) and nothing is written for it, max_tokens over the cap is a 422
naming the cap, and stopped answers keep OpenAI clients' finish reasons. Real uvicorn
servers on 127.0.0.1; tests synchronise on events and queue states, never on sleeps."""

from __future__ import annotations

import json
import socket
import threading
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from cerebra.brain import Brain
from cerebra.config import Settings
from cerebra.db.schema import interactions, memories
from cerebra.models.base import GenerationRequest
from cerebra.models.cancellation import CANCELLED, TIMEOUT
from cerebra.models.queued import QueuedBackend
from cerebra.runtime import load_default_model
from cerebra.server.app import create_app
from cerebra.testing import FakeEmbedder, FakeModel
from tests.helpers import running_server

WAIT = 30.0  # a safety net for a broken implementation, never a synchronisation
REPLY = "one two three four five six seven eight nine ten"

# (path, body) of each generating route; "hold" in the prompt pauses the fake model
ROUTES: dict[str, tuple[str, dict[str, Any]]] = {
    "query": ("/api/llm/query", {"prompt": "hold on", "user_id": "u", "memory": True}),
    "chat": ("/v1/chat/completions", {
        "model": "fake", "messages": [{"role": "user", "content": "hold on"}],
        "user": "u", "max_tokens": 50}),
    "completions": ("/v1/completions", {"model": "fake", "prompt": "hold on",
                                        "max_tokens": 50}),
}


def _text(request: GenerationRequest) -> str:
    return request.prompt if request.prompt is not None else request.messages[-1].content


class Hold:
    """FakeModel hook: a "hold" request pauses at token 1 until released or cancelled."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, request: GenerationRequest, index: int) -> None:
        if index == 1 and "hold" in _text(request):
            self.entered.set()
            token = request.cancellation
            assert token is not None
            token.on_cancel(lambda _: self.release.set())
            assert self.release.wait(WAIT)


class Finished:
    """ASGI wrapper: an event per path, set when the app has completely handled a request
    (everything it writes is written)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.done: defaultdict[str, threading.Event] = defaultdict(threading.Event)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await self.app(scope, receive, send)
        finally:
            if scope["type"] == "http":
                self.done[scope["path"]].set()


@pytest.fixture
def hold() -> Iterator[Hold]:
    h = Hold()
    yield h
    h.release.set()


def _brain(tmp_path: Path, hook: Any, *, queue_size: int = 4, **settings: Any) -> Brain:
    model = QueuedBackend(FakeModel(REPLY, name="fake", before_token=hook),
                          queue_size=queue_size)
    return Brain.from_settings(
        Settings(home=tmp_path / "h", health={"interval_s": 0}, **settings),
        model=model, embedder=FakeEmbedder())


def _queue(brain: Brain) -> QueuedBackend:
    backend: Any = brain.models.get("fake")
    while not isinstance(backend, QueuedBackend):
        backend = backend.inner
    return backend


def _count(brain: Brain, table: Any) -> int:
    brain.ledger.flush()
    with brain.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _post_in_thread(url: str, body: dict[str, Any]) -> tuple[threading.Thread, dict[str, Any]]:
    out: dict[str, Any] = {}

    def run() -> None:
        out["response"] = httpx.post(url, json=body, timeout=WAIT)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def test_full_queue_is_429_with_retry_after(tmp_path: Path, hold: Hold) -> None:
    brain = _brain(tmp_path, hold, queue_size=1)
    queue = _queue(brain)
    with running_server(create_app(brain.settings, brain=brain)) as base:
        url = f"{base}/api/llm/query"
        first, first_out = _post_in_thread(url, {"prompt": "hold a", "memory": False})
        assert hold.entered.wait(WAIT)
        second, second_out = _post_in_thread(url, {"prompt": "b", "memory": False})
        assert queue.admission.wait_until(lambda s: s.queued == 1, WAIT)
        refused = httpx.post(url, json={"prompt": "c", "memory": False}, timeout=WAIT)
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) >= 1
        error = refused.json()["error"]
        assert error["type"] == "overloaded" and error["field"] == "model"
        assert "busy" in error["message"] and error["retry_after_s"] >= 1
        probe = queue.probe()
        assert probe.ok and probe.detail == "busy"
        metrics = httpx.get(f"{base}/metrics").text
        assert 'cerebra_model_queue_rejected_total{model="fake"} 1.0' in metrics
        assert 'cerebra_model_queue_waiting{model="fake"} 1.0' in metrics
        hold.release.set()
        first.join(WAIT)
        second.join(WAIT)
    assert first_out["response"].status_code == 200
    assert second_out["response"].status_code == 200
    brain.close()


def _raw_post(port: int, path: str, body: dict[str, Any]) -> socket.socket:
    data = json.dumps(body).encode()
    sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    sock.sendall(
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\n\r\n".encode() + data
    )
    return sock


@pytest.mark.parametrize("route", list(ROUTES))
def test_non_streaming_client_that_disconnects_stops_its_generation(
    tmp_path: Path, hold: Hold, route: str
) -> None:
    brain = _brain(tmp_path, hold)
    queue = _queue(brain)
    path, body = ROUTES[route]
    app = Finished(create_app(brain.settings, brain=brain))
    with running_server(app) as base:  # type: ignore[arg-type]
        sock = _raw_post(int(base.rsplit(":", 1)[1]), path, body)
        assert hold.entered.wait(WAIT)  # the model is generating this request
        sock.close()  # the client gives up
        assert app.done[path].wait(WAIT)
    stops = queue.stop_stats()
    assert stops.count == {CANCELLED: 1} and stops.tokens == {CANCELLED: 1}
    assert queue.queue_stats().active == 0
    assert _count(brain, interactions) == 0 and _count(brain, memories) == 0  # nothing kept
    brain.close()


@pytest.mark.parametrize("route", list(ROUTES))
def test_streaming_client_that_disconnects_stops_its_generation(
    tmp_path: Path, hold: Hold, route: str
) -> None:
    brain = _brain(tmp_path, hold)
    queue = _queue(brain)
    path, body = ROUTES[route]
    app = Finished(create_app(brain.settings, brain=brain))
    with running_server(app) as base, httpx.Client(timeout=WAIT) as client:  # type: ignore[arg-type]
        with client.stream("POST", f"{base}{path}", json={**body, "stream": True}) as response:
            assert response.status_code == 200
            lines = response.iter_lines()
            while "one" not in next(lines):  # the first token reached the client
                pass
            assert hold.entered.wait(WAIT)
        # leaving the block closed the connection mid-stream
        assert app.done[path].wait(WAIT)
    assert queue.admission.wait_until(lambda s: s.active == 0, WAIT)
    stops = queue.stop_stats()
    assert stops.count == {CANCELLED: 1} and stops.tokens == {CANCELLED: 1}
    assert _count(brain, interactions) == 0 and _count(brain, memories) == 0
    brain.close()


@pytest.fixture
def capped(tmp_path: Path) -> Iterator[tuple[TestClient, FakeModel]]:
    fake = FakeModel(REPLY, name="fake")
    brain = Brain.from_settings(Settings(home=tmp_path / "h", generation={"max_tokens_cap": 50},
                                         health={"interval_s": 0}),
                                model=fake, embedder=FakeEmbedder())
    with TestClient(create_app(brain.settings, brain=brain)) as client:
        yield client, fake


@pytest.mark.parametrize("route", list(ROUTES))
def test_max_tokens_over_the_cap_is_422_naming_it(
    capped: tuple[TestClient, FakeModel], route: str
) -> None:
    client, fake = capped
    path, body = ROUTES[route]
    for stream in (False, True):
        r = client.post(path, json={**body, "max_tokens": 51, "stream": stream})
        assert r.status_code == 422, r.text
        error = r.json()["error"]
        assert error["field"] == "max_tokens" and error["cap"] == 50
        assert "50" in error["message"] and "CEREBRA_MAX_TOKENS_CAP" in error["message"]
    assert fake.calls == []  # refused before the model (or its queue) was asked
    assert client.post(path, json={**body, "max_tokens": 50}).status_code == 200


def _times_out_at_2(request: GenerationRequest, index: int) -> None:
    if index == 2:
        assert request.cancellation is not None
        request.cancellation.cancel(TIMEOUT)


def test_stopped_answers_say_why_and_openai_clients_read_length(tmp_path: Path) -> None:
    brain = _brain(tmp_path, _times_out_at_2)
    with TestClient(create_app(brain.settings, brain=brain)) as client:
        own = client.post("/api/llm/query", json={"prompt": "go", "memory": False}).json()
        assert (own["answer"], own["finish_reason"]) == ("one two", TIMEOUT)
        chat = client.post("/v1/chat/completions", json={
            "model": "fake", "messages": [{"role": "user", "content": "go"}]}).json()
        assert chat["choices"][0]["finish_reason"] == "length"
        legacy = client.post("/v1/completions", json={"model": "fake", "prompt": "go"}).json()
        assert legacy["choices"][0]["finish_reason"] == "length"
        with client.stream("POST", "/v1/chat/completions", json={
                "model": "fake", "stream": True,
                "messages": [{"role": "user", "content": "go"}]}) as r:
            events = [json.loads(line[6:]) for line in r.iter_lines()
                      if line.startswith("data: {")]
        assert [e["choices"][0]["finish_reason"] for e in events][-1] == "length"
        assert 'reason="timeout"' in client.get("/metrics").text
    brain.close()


def test_settings_reach_the_local_model_and_requests(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "h", model={"fake": True, "queue_size": 3},
                        memory={"embedder": "fake"}, generation={"timeout_s": 7},
                        health={"interval_s": 0})
    model = load_default_model(settings)
    assert isinstance(model, QueuedBackend)
    assert model.admission.queue_size == 3 and model.timeout_s == 7
    brain = Brain.from_settings(settings, embedder=FakeEmbedder())
    token = brain.new_cancellation()
    assert token.remaining() is not None and 0 < (token.remaining() or 0) <= 7
    no_limit = settings.generation.model_copy(update={"timeout_s": 0})
    unlimited = Brain.from_settings(settings.model_copy(update={"generation": no_limit}),
                                    model=FakeModel(), embedder=FakeEmbedder())
    assert unlimited.new_cancellation().deadline is None
    brain.close()
    unlimited.close()
