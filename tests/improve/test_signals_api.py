"""Signals over HTTP with real API keys: POST /api/feedback records its parts as signals
(thumbs, correction, label), POST /api/v1/traces/{id}/signals adds a caller's own signal,
GET /api/v1/signals lists the tenant's; another tenant's trace is a 404, bad input a 422
naming the field, and a caller cannot claim more trust than its source's default."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from cerebra.config import get_settings
from tests.helpers import ApiWorld, api_world, bearer


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[ApiWorld]:
    with api_world(monkeypatch) as made:  # tenant "other" plays the other company
        yield made
    get_settings.cache_clear()


def ask(world: ApiWorld, headers: dict[str, str], prompt: str = "2+2?") -> str:
    reply = world.client.post("/api/llm/query", json={"prompt": prompt}, headers=headers)
    assert reply.status_code == 200, reply.text
    return str(reply.json()["trace_id"])


def signals(world: ApiWorld, headers: dict[str, str] | None = None,
            **params: Any) -> list[dict[str, Any]]:
    reply = world.client.get("/api/v1/signals", params=params,
                             headers=headers or world.reader)
    assert reply.status_code == 200, reply.text
    return list(reply.json()["signals"])


def test_feedback_records_thumbs_correction_and_label(world: ApiWorld) -> None:
    trace = ask(world, world.user)
    reply = world.client.post("/api/feedback", headers=world.user, json={
        "trace_id": trace, "thumbs": "down", "comment": "wrong",
        "correction": "4", "label": "math"})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["quality"] == 0.0 and len(body["signals"]) == 3
    found = {s["kind"]: s for s in signals(world, trace_id=trace)}
    assert set(found) == {"label", "thumbs", "correction"}
    assert found["thumbs"]["value"] == 0.0 and found["thumbs"]["text"] == "wrong"
    assert found["correction"]["text"] == "4" and found["label"]["text"] == "math"
    assert {s["task"] for s in found.values()} == {"math"}
    assert found["thumbs"]["source"].startswith("user:") and found["thumbs"]["trust"] == 1.0
    # the rating is on the interaction too (once); a label alone may come later
    assert world.client.get(f"/api/interactions/{trace}",
                            headers=world.admin).json()["quality"] == 0.0
    later = world.client.post("/api/feedback", headers=world.admin,
                              json={"trace_id": trace, "label": "arithmetic"})
    assert later.status_code == 200 and "quality" not in later.json()
    # a plain quality is a score signal
    other = ask(world, world.admin)
    world.client.post("/api/feedback", headers=world.admin,
                      json={"trace_id": other, "quality": 0.8})
    (score,) = signals(world, trace_id=other)
    assert (score["kind"], score["value"]) == ("score", 0.8)
    assert [s["kind"] for s in signals(world, kind="score")] == ["score"]
    assert len(signals(world, task="math")) == 3


@pytest.mark.parametrize(("body", "field"), [
    ({"thumbs": "sideways"}, "thumbs"),
    ({"correction": "x" * 20_001}, "correction"),
    ({"label": ""}, "label"),
    ({"quality": 1.5}, "quality"),
    ({}, "quality"),  # nothing to record
])
def test_bad_feedback_is_refused_naming_the_field(world: ApiWorld, body: dict[str, Any],
                                                  field: str) -> None:
    trace = ask(world, world.admin)
    reply = world.client.post("/api/feedback", headers=world.admin,
                              json={"trace_id": trace, **body})
    assert reply.status_code == 422, reply.text
    assert field in (reply.json()["error"]["field"] or "")
    assert signals(world, trace_id=trace) == []


def test_a_caller_adds_its_own_signal_to_a_trace(world: ApiWorld) -> None:
    trace = ask(world, world.user)
    url = f"/api/v1/traces/{trace}/signals"
    made = world.client.post(url, headers=world.user,
                             json={"kind": "score", "value": 0.75, "trust": 0.5, "task": "qa"})
    assert made.status_code == 201, made.text
    body = made.json()
    assert (body["kind"], body["value"], body["trust"], body["task"]) == (
        "score", 0.75, 0.5, "qa")
    assert body["trace_id"] == trace and body["source"].startswith("user:")
    assert [s["id"] for s in signals(world)] == [body["id"]]
    for bad, field in [({"kind": "rlaif", "value": 1.0}, "kind"),
                       ({"kind": "score", "value": 2}, "value"),
                       ({"kind": "thumbs", "value": 0.5}, "value"),
                       ({"kind": "correction"}, "text"),
                       ({"kind": "score", "value": 1, "trust": 1.1}, "trust")]:
        refused = world.client.post(url, headers=world.user, json=bad)
        assert refused.status_code == 422, (bad, refused.text)
        assert field in (refused.json()["error"]["field"] or ""), (bad, refused.text)
    # a key issued to an agent speaks as the agent, trusted 0.5 at most
    secret, _ = world.identity.create_key("default", role="admin", agent_id="helper")
    agent = bearer(secret)
    claimed = world.client.post(url, headers=agent,
                                json={"kind": "score", "value": 1.0, "trust": 0.9})
    assert claimed.status_code == 422 and claimed.json()["error"]["field"] == "trust"
    plain = world.client.post(url, headers=agent, json={"kind": "thumbs", "value": 1})
    assert plain.status_code == 201, plain.text
    assert (plain.json()["source"], plain.json()["trust"]) == ("agent:helper", 0.5)


def test_other_tenants_traces_and_signals_are_unknown(world: ApiWorld) -> None:
    trace = ask(world, world.admin)
    world.client.post("/api/feedback", headers=world.admin,
                      json={"trace_id": trace, "thumbs": "up"})
    theirs = world.client.post(f"/api/v1/traces/{trace}/signals", headers=world.other,
                               json={"kind": "score", "value": 0.0})
    assert theirs.status_code == 404 and theirs.json()["error"]["type"] == "not_found"
    fb = world.client.post("/api/feedback", headers=world.other,
                           json={"trace_id": trace, "correction": "mine"})
    assert fb.status_code == 404
    assert signals(world, world.other) == []
    assert len(signals(world)) == 1
    # listing signals needs training:read, which a user key lacks
    assert world.client.get("/api/v1/signals", headers=world.user).status_code == 403
