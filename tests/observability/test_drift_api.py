"""/api/drift over real API keys: a check run now reports and alerts the caller's tenant's
drift (and only its own), the reports and alerts are read back, A/B comparisons of prompt
versions and models come with their significance, and bad input or a caller without the
scope is refused as a JSON error naming the field."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from cerebra.config import get_settings
from cerebra.context import RequestContext
from cerebra.prompts.ab import ABTests
from cerebra.prompts.template_store import TemplateStore
from tests.helpers import ApiWorld, api_world
from tests.observability.drift_world import HOUR, WEATHER, stream, two_windows


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[ApiWorld]:
    with api_world(monkeypatch) as made:
        yield made
    get_settings.cache_clear()


def test_a_check_reports_and_alerts_the_callers_tenant_only(world: ApiWorld) -> None:
    client, engine = world.client, world.client.app.state.brain.engine
    two_windows(engine, "default", time.time(), shifted=True)
    assert client.get("/api/drift", headers=world.reader).json() == {"reports": []}
    ran = client.post("/api/drift/check", headers=world.admin)
    assert ran.status_code == 200, ran.text
    reports = ran.json()["reports"]
    assert {(r["scope"], r["signal"]) for r in reports if r["drifted"]} == {
        (s, sig) for s in ("all", "agent:helper", "task:triage")
        for sig in ("embedding", "score", "latency", "feedback")}
    for report in reports:
        assert set(report) >= {"scope", "signal", "test", "statistic", "p_value", "drifted",
                               "reference", "recent", "series"}
        assert set(report["reference"]) == {"from", "to", "n"}
        assert all(set(p) == {"t", "value"} for p in report["series"])
    stored = client.get("/api/drift", params={"scope": "task:triage"}, headers=world.reader)
    assert [r["signal"] for r in stored.json()["reports"]] == [
        "embedding", "feedback", "latency", "score"]
    alerts = client.get("/api/drift/alerts", headers=world.reader).json()["alerts"]
    assert len(alerts) == 12
    assert set(alerts[0]) >= {"id", "scope", "signal", "created_at", "statistic", "p_value",
                              "message"}
    one = client.post("/api/drift/check", json={"scope": "all"}, headers=world.admin)
    assert {r["scope"] for r in one.json()["reports"]} == {"all"}
    assert len(client.get("/api/drift/alerts", headers=world.admin).json()["alerts"]) == 12
    # tenant "other" sees none of it, and its own check finds nothing of "default"'s
    assert client.get("/api/drift", headers=world.other).json() == {"reports": []}
    assert client.get("/api/drift/alerts", headers=world.other).json() == {"alerts": []}
    assert client.post("/api/drift/check", headers=world.other).json() == {"reports": []}


def test_ab_comparisons_of_prompt_versions_and_models(world: ApiWorld) -> None:
    client, engine = world.client, world.client.app.state.brain.engine
    now = time.time()
    stream(engine, "default", start=now - 10 * HOUR, end=now, n=80, seed=1, words=WEATHER,
           good=0.9, model="big")
    stream(engine, "default", start=now - 10 * HOUR, end=now, n=60, seed=2, words=WEATHER,
           good=0.3, model="small")
    stream(engine, "default", start=now - 10 * HOUR, end=now, n=10, seed=3, words=WEATHER,
           good=0.3, model="tiny", agent="other-agent")
    models = client.get("/api/drift/ab", params={"kind": "model"}, headers=world.reader)
    assert models.status_code == 200, models.text
    body = models.json()
    assert body["scope"] == "all" and body["ratings"] is None
    by_b = {c["b"]: c for c in body["comparisons"]}
    assert set(by_b) == {"small", "tiny"} and all(c["a"] == "big" for c in by_b.values())
    assert by_b["small"]["test"] == "two-proportion-z" and by_b["small"]["winner"] == "a"
    assert by_b["small"]["significant"] and by_b["small"]["p_value"] < 0.05
    helper = client.get("/api/drift/ab", params={"kind": "model", "scope": "agent:helper"},
                        headers=world.reader).json()
    assert {c["b"] for c in helper["comparisons"]} == {"small"}
    ctx = RequestContext(tenant_id="default")
    TemplateStore(engine).add("greet", "Hello {{ name }}", context=ctx)
    TemplateStore(engine).add("greet", "Hi {{ name }}!", context=ctx)
    tests = ABTests(engine)
    test = tests.create("greet", 1, 2, context=ctx)
    for i in range(40):
        tests.record(test.id, 1.0 if i % 4 else 0.0, arm="a", context=ctx)
        tests.record(test.id, 1.0 if i % 10 else 0.0, arm="b", context=ctx)
    prompts = client.get("/api/drift/ab", params={"kind": "prompt", "name": "greet"},
                         headers=world.reader).json()
    (row,) = prompts["comparisons"]
    assert row["test_id"] == test.id and (row["a"], row["b"]) == ("v1", "v2")
    assert row["n_a"] == row["n_b"] == 40 and row["test"] == "two-proportion-z"
    assert client.get("/api/drift/ab", params={"kind": "prompt"},
                      headers=world.other).json()["comparisons"] == []
    assert client.get("/api/drift/ab", params={"kind": "model"},
                      headers=world.other).json()["comparisons"] == []


@pytest.mark.parametrize(("method", "path", "kwargs", "field"), [
    ("get", "/api/drift", {"params": {"scope": "nobody"}}, "scope"),
    ("get", "/api/drift/alerts", {"params": {"limit": 0}}, "limit"),
    ("get", "/api/drift/alerts", {"params": {"scope": "agent:"}}, "scope"),
    ("post", "/api/drift/check", {"json": {"scope": "task:bad name"}}, "scope"),
    ("post", "/api/drift/check", {"json": {"scope": "all", "extra": 1}}, "extra"),
    ("get", "/api/drift/ab", {"params": {"kind": "agent"}}, "kind"),
    ("get", "/api/drift/ab", {"params": {"kind": "model", "scope": "greet"}}, "scope"),
    ("get", "/api/drift/ab", {"params": {"alpha": 1.5}}, "alpha"),
    ("get", "/api/drift/ab", {"params": {"kind": "prompt", "name": "bad name"}}, "name"),
])
def test_bad_input_is_a_4xx_naming_the_field(world: ApiWorld, method: str, path: str,
                                             kwargs: dict, field: str) -> None:
    answer = getattr(world.client, method)(path, headers=world.admin, **kwargs)
    assert 400 <= answer.status_code < 500, answer.text
    error = answer.json()["error"]
    assert field in (error.get("field") or "") or field in answer.text, error


def test_scopes_are_required(world: ApiWorld) -> None:
    client = world.client
    assert client.post("/api/drift/check", headers=world.reader).status_code == 403
    assert client.get("/api/drift", headers=world.user).status_code == 403
    assert client.get("/api/drift").status_code == 401
