"""The costs API over HTTP (auth on): each tenant sees only its own spend, budgets, alerts,
forecast and recommendations; it needs metrics:read; bad query values are 422 naming the
field. Interactions go through the app's own ledger, alerts through its own watcher."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from cerebra.observability.costs_budgets import limit_store
from cerebra.observability.costs_rollup import utc_day
from tests.observability.costs_world import DAY, spend
from tests.security.token_app import AuthApp, auth_app, error_of


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> Iterator[AuthApp]:
    with auth_app(monkeypatch) as made:
        yield made


def _brain(app: AuthApp) -> Any:
    return app.client.app.state.brain  # type: ignore[attr-defined]


def _admin(app: AuthApp, tenant: str = "default") -> dict[str, str]:
    secret, _ = app.identity.create_key(tenant, role="admin")
    return {"Authorization": f"Bearer {secret}"}


def test_summary_is_per_tenant_and_per_dimension(app: AuthApp) -> None:
    app.identity.create_tenant("acme")
    mine, theirs = _admin(app), _admin(app, "acme")
    ledger, now = _brain(app).ledger, time.time()
    for amount, model, user in ((1.0, "big", "ana"), (0.5, "big", "bo"), (0.25, "small", "")):
        ledger.record(spend(amount, at=now, model=model, user=user, credential="k1"))
    ledger.record(spend(0.125, at=now - 2 * DAY))
    ledger.record(spend(9.0, at=now, tenant="acme", model="secret-model"))
    got = app.client.get("/api/costs/summary?days=3", headers=mine)
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["currency"] == "USD" and body["total"] == pytest.approx(1.875)
    assert [d["day"] for d in body["by_day"]] == [utc_day(now - i * DAY) for i in (2, 1, 0)]
    assert [d["cost"] for d in body["by_day"]] == pytest.approx([0.125, 0.0, 1.75])
    assert body["by_day"][2]["requests"] == 3 and body["by_day"][2]["tokens"] == 45
    assert [(m["key"], m["cost"], m["requests"]) for m in body["by_model"]] == [
        ("big", 1.625, 3), ("small", 0.25, 1)]
    assert {u["key"]: u["cost"] for u in body["by_user"]} == {
        "ana": 1.0, "bo": 0.5, "": 0.375}
    assert {k["key"] for k in body["by_key"]} == {"k1", ""}
    assert body["by_agent"] == [{"key": "", "cost": 1.875, "requests": 4, "tokens": 60}]
    one_day = app.client.get("/api/costs/summary?days=1", headers=mine).json()
    assert one_day["total"] == pytest.approx(1.75)
    acme = app.client.get("/api/costs/summary", headers=theirs).json()
    assert acme["total"] == 9.0 and [m["key"] for m in acme["by_model"]] == ["secret-model"]
    assert len(acme["by_day"]) == 30


def test_budgets_alerts_and_isolation(app: AuthApp) -> None:
    app.identity.create_tenant("acme")
    mine, theirs = _admin(app), _admin(app, "acme")
    brain, now = _brain(app), time.time()
    _, key = app.identity.create_key("default", role="user")
    store = limit_store(brain)
    store.set_tenant_limits("default", {"daily_budget": 2.0})
    store.set_key_limits("default", key.id, {"monthly_budget": 10.0})
    brain.ledger.record(spend(1.7, at=now, credential=key.id))
    brain.ledger.flush()
    app.client.app.state.costs.flush()  # type: ignore[attr-defined]
    budgets = app.client.get("/api/costs/budgets", headers=mine).json()["budgets"]
    by_scope = {(b["scope"], b["period"]): b for b in budgets}
    tenant = by_scope[("tenant", "daily")]
    assert tenant["limit"] == 2.0 and tenant["spent"] == pytest.approx(1.7)
    assert tenant["thresholds"] == [0.5, 0.8, 1.0] and tenant["crossed"] == [0.5, 0.8]
    assert tenant["resets_at"].endswith("T00:00:00Z")
    assert by_scope[(f"key:{key.id}", "monthly")]["crossed"] == []
    alerts = app.client.get("/api/costs/alerts", headers=mine).json()["alerts"]
    assert sorted(a["threshold"] for a in alerts) == [0.5, 0.8]
    assert {a["scope"] for a in alerts} == {"tenant"}
    assert app.client.get("/api/costs/alerts", headers=theirs).json() == {"alerts": []}
    assert app.client.get("/api/costs/budgets", headers=theirs).json() == {"budgets": []}


def test_forecast_and_recommendations(app: AuthApp) -> None:
    mine = _admin(app)
    brain, now = _brain(app), time.time()
    for day in range(1, 41):  # 40 days of history: Holt-Winters
        brain.ledger.record(spend(1.0 + (day % 7) / 10, at=now - day * DAY, model="legacy"))
    traces = []
    for i in range(40):  # today: "big" costs 10x "small" per request, same feedback
        model, cost = ("big", 0.1) if i % 2 else ("small", 0.01)
        rec = spend(cost, at=now, model=model)
        brain.ledger.record(rec)
        traces.append(rec.trace_id)
    brain.ledger.flush()
    for i, trace in enumerate(traces):
        assert brain.ledger.set_feedback(trace, 0.8 if i % 4 < 2 else 0.6, None, "default")
    forecast = app.client.get("/api/costs/forecast", headers=mine).json()
    assert set(forecast) == {"month", "spent", "forecast", "low", "high", "level", "method"}
    assert forecast["method"] == "holt_winters" and forecast["level"] == 0.95
    assert forecast["month"] == time.strftime("%Y-%m", time.gmtime(now))
    assert forecast["spent"] <= forecast["low"] <= forecast["forecast"] <= forecast["high"]
    recs = app.client.get("/api/costs/recommendations", headers=mine).json()
    [rec] = recs["recommendations"]
    assert rec["text"].startswith("model big served ")
    assert "the cost per request of small with equal feedback" in rec["text"]
    assert rec["data"]["instead"] == "small" and rec["data"]["cost_ratio"] > 2


def test_scope_and_bad_input(app: AuthApp) -> None:
    mine = _admin(app)
    user = app.login().json()["access_token"]
    for path in ("summary", "forecast", "budgets", "alerts", "recommendations"):
        denied = app.get(f"/api/costs/{path}", user)
        assert denied.status_code == 403, (path, denied.text)
        assert app.client.get(f"/api/costs/{path}").status_code == 401
    for query, field in (("summary?days=0", "days"), ("summary?days=367", "days"),
                         ("summary?days=ten", "days"), ("alerts?limit=0", "limit")):
        bad = app.client.get(f"/api/costs/{query}", headers=mine)
        assert bad.status_code == 422, query
        assert error_of(bad)["field"] == field
