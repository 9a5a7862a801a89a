"""Effect checks of the cost ledger's settings (costs.*): which budget thresholds alert, where
and how alerts are delivered (webhook URL, signature, timeout), the forecast's method and
interval, and when a model is named too costly."""

from __future__ import annotations

import hashlib
import hmac
import time

from cerebra.brain import Brain
from cerebra.observability.costs_alerts import start_alerts, stop_alerts
from cerebra.observability.costs_budgets import limit_store
from cerebra.observability.costs_service import CostsService
from cerebra.observability.notify_webhook import SIGNATURE_HEADER
from tests.effects.base import Env, effect
from tests.observability.costs_world import DAY, Receiver, spend


def _alerted(env: Env, name: str, amount: float, **values: str) -> list[float]:
    """The thresholds alerted after spending `amount` of a daily budget of 1 USD."""
    brain = env.brain(CEREBRA_HOME=str(env.tmp / name), **values)
    alerts = start_alerts(brain, env.set(**values))
    limit_store(brain).set_tenant_limits("default", {"daily_budget": 1.0})
    brain.ledger.record(spend(amount, at=time.time()))
    brain.ledger.flush()
    if alerts is not None:
        alerts.flush()
    stop_alerts(brain, alerts)
    return sorted(a["threshold"] for a in CostsService(brain).alerts("default", 10))


@effect("CEREBRA_COSTS__ALERT_THRESHOLDS")
def _alert_thresholds(env: Env) -> None:
    assert _alerted(env, "default", 0.85) == [0.5, 0.8]
    assert _alerted(env, "custom", 0.85, CEREBRA_COSTS__ALERT_THRESHOLDS="[0.25, 0.9]") == [
        0.25]
    assert _alerted(env, "none", 0.85, CEREBRA_COSTS__ALERT_THRESHOLDS="[]") == []


@effect("CEREBRA_COSTS__WEBHOOK_URL")
def _webhook_url(env: Env) -> None:
    receiver = Receiver()
    try:
        _alerted(env, "logged", 0.6)
        assert receiver.posts == []
        _alerted(env, "posted", 0.6, CEREBRA_COSTS__WEBHOOK_URL=receiver.url)
        [body] = receiver.wait_for(1)
        assert body["kind"] == "budget" and body["data"]["threshold"] == 0.5
    finally:
        receiver.close()


@effect("CEREBRA_COSTS__WEBHOOK_SECRET")
def _webhook_secret(env: Env) -> None:
    receiver = Receiver()
    try:
        _alerted(env, "unsigned", 0.6, CEREBRA_COSTS__WEBHOOK_URL=receiver.url)
        _alerted(env, "signed", 0.6, CEREBRA_COSTS__WEBHOOK_URL=receiver.url,
                 CEREBRA_COSTS__WEBHOOK_SECRET="k3y")
        (plain, _, _), (signed, _, raw) = receiver.posts
        assert SIGNATURE_HEADER not in plain
        assert signed[SIGNATURE_HEADER] == "sha256=" + hmac.new(
            b"k3y", raw, hashlib.sha256).hexdigest()
    finally:
        receiver.close()


@effect("CEREBRA_COSTS__WEBHOOK_TIMEOUT_S")
def _webhook_timeout(env: Env) -> None:
    receiver = Receiver()
    receiver.hold.clear()  # takes the request, never answers
    try:
        brain = env.brain(CEREBRA_COSTS__WEBHOOK_URL=receiver.url,
                          CEREBRA_COSTS__WEBHOOK_TIMEOUT_S="0.2")
        alerts = start_alerts(brain, env.set())
        assert alerts is not None
        limit_store(brain).set_tenant_limits("default", {"daily_budget": 1.0})
        brain.ledger.record(spend(0.6, at=time.time()))
        brain.ledger.flush()
        alerts.flush()
        [alert] = CostsService(brain).alerts("default", 10)
        assert alert["delivery"].startswith("failed: ") and "Timeout" in alert["delivery"]
        stop_alerts(brain, alerts)
    finally:
        receiver.close()


def _history(brain: Brain, days: int) -> None:
    now = time.time()
    for day in range(1, days + 1):
        brain.ledger.record(spend(1.0 + (day % 7) / 5, at=now - day * DAY))


@effect("CEREBRA_COSTS__FORECAST_METHOD")
def _forecast_method(env: Env) -> None:
    for method, expected in (("auto", "holt_winters"), ("mean", "mean"),
                             ("holt_winters", "holt_winters")):
        brain = env.brain(CEREBRA_HOME=str(env.tmp / method),
                          CEREBRA_COSTS__FORECAST_METHOD=method)
        _history(brain, 35)
        assert CostsService(brain).forecast("default")["method"] == expected, method


@effect("CEREBRA_COSTS__FORECAST_LEVEL")
def _forecast_level(env: Env) -> None:
    widths = {}
    for level in ("0.6", "0.99"):
        brain = env.brain(CEREBRA_HOME=str(env.tmp / level),
                          CEREBRA_COSTS__FORECAST_LEVEL=level)
        _history(brain, 35)
        got = CostsService(brain).forecast("default")
        assert got["level"] == float(level)
        widths[level] = got["high"] - got["low"]
    assert widths["0.99"] > 1.5 * widths["0.6"] > 0


@effect("CEREBRA_COSTS__RECOMMEND_MIN_RATIO")
def _recommend_min_ratio(env: Env) -> None:
    found = {}
    for ratio in ("2", "10"):
        brain = env.brain(CEREBRA_HOME=str(env.tmp / ratio),
                          CEREBRA_COSTS__RECOMMEND_MIN_RATIO=ratio)
        for i in range(24):  # "big" costs 5x "small" per request, same feedback
            rec = spend(0.05 if i % 2 else 0.01, at=time.time(),
                        model="big" if i % 2 else "small")
            brain.ledger.record(rec)
            brain.ledger.flush()
            brain.ledger.set_feedback(rec.trace_id, 0.7 + (i // 2 % 2) / 5, None, "default")
        found[ratio] = CostsService(brain).recommendations("default")
    assert [r["data"]["model"] for r in found["2"]] == ["big"]
    assert found["10"] == []
