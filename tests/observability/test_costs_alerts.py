"""Budget alerts: a threshold crossed fires once per budget and period through the webhook
to a local HTTP server (signed, JSON), again in the next period, never twice from a second
process; key and user budgets alert on their own spend; a failing webhook is recorded, not
raised; the WebhookNotifier's wire format, signature, errors and timeout."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, select

from cerebra.auth.identity import IdentityStore
from cerebra.auth.limit_store import LimitStore
from cerebra.db.cost_tables import cost_alerts
from cerebra.observability.costs_alerts import BudgetAlerts, alerts_of
from cerebra.observability.costs_budgets import Budgets
from cerebra.observability.ledger import Ledger
from cerebra.observability.notify import Notification
from cerebra.observability.notify_webhook import SIGNATURE_HEADER, WebhookNotifier
from tests.observability.costs_world import DAY, Receiver, spend


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    yield made
    made.close()


@pytest.fixture
def engine(sql_engine: Engine) -> Engine:
    """SQLite, then PostgreSQL (the alert's insert-once is ON CONFLICT … RETURNING)."""
    return sql_engine


class World:
    def __init__(self, engine: Engine, url: str, clock: list[float]) -> None:
        self.store = LimitStore(engine, cache_s=0)
        self.ledger = Ledger(engine)
        self.alerts = BudgetAlerts(engine, Budgets(engine, self.store, [0.5, 1.0]),
                                   WebhookNotifier(url, secret="s3cret"),
                                   clock=lambda: clock[0], check_interval_s=0)
        self.ledger.watchers.append(self.alerts.observe)

    def spend(self, *amounts: float, at: float, **who: str) -> None:
        for amount in amounts:
            self.ledger.record(spend(amount, at=at, **who))
        assert self.ledger.flush()
        self.alerts.flush()

    def close(self) -> None:
        self.ledger.close()
        self.alerts.close()


def test_each_threshold_fires_once_per_period(engine: Engine, receiver: Receiver) -> None:
    now = time.time()
    clock = [now]
    world = World(engine, receiver.url, clock)
    world.store.set_tenant_limits("default", {"daily_budget": 1.0})
    world.spend(0.2, 0.2, at=now)
    assert receiver.posts == []  # 40 %: nothing yet
    world.spend(0.2, at=now)  # 60 %: the 50 % threshold
    world.spend(0.05, 0.05, at=now)  # still under 100 %: nothing new
    assert [b["data"]["threshold"] for b in receiver.wait_for(1)] == [0.5]
    world.spend(0.3, 0.3, 0.3, at=now)  # past 100 %, in one batch: one alert, not three
    bodies = receiver.wait_for(2)
    assert [b["data"]["threshold"] for b in bodies] == [0.5, 1.0]
    assert bodies[1]["severity"] == "critical" and bodies[1]["kind"] == "budget"
    assert bodies[1]["tenant_id"] == "default" and bodies[1]["data"]["scope"] == "tenant"
    headers, _, raw = receiver.posts[1]
    expected = "sha256=" + hmac.new(b"s3cret", raw, hashlib.sha256).hexdigest()
    assert headers[SIGNATURE_HEADER] == expected

    second = BudgetAlerts(engine, Budgets(engine, world.store, [0.5, 1.0]),
                          WebhookNotifier(receiver.url), clock=lambda: now)
    assert second.check({"default": (set(), set())}) == []  # another process: no repeat
    second.close()

    clock[0] = now + DAY  # the next day: a new period, its own alerts
    world.spend(0.6, at=now + DAY)
    assert [b["data"]["threshold"] for b in receiver.wait_for(3)] == [0.5, 1.0, 0.5]
    stored = alerts_of(engine, "default")
    assert len(stored) == 3 and {a["delivery"] for a in stored} == {"delivered"}
    assert alerts_of(engine, "acme") == []
    world.close()


def test_key_and_user_budgets_alert_on_their_own_spend(engine: Engine,
                                                       receiver: Receiver) -> None:
    identity = IdentityStore(engine)
    _, key = identity.create_key("default", role="user")
    user = identity.create_user("default", "ana", "a long password")
    now = time.time()
    world = World(engine, receiver.url, [now])
    world.store.set_key_limits("default", key.id, {"monthly_budget": 2.0})
    world.store.set_user_limits("default", user.id, {"daily_budget": 1.0})
    world.spend(1.5, at=now, credential="k-other")  # no budget of its own: nothing
    world.spend(1.2, at=now, credential=key.id)  # 60 % of the key's month
    world.spend(0.5, at=now, user=user.id)  # 50 % of the user's day
    scopes = sorted((b["data"]["scope"], b["data"]["period"]) for b in receiver.wait_for(2))
    assert scopes == [(f"key:{key.id}", "monthly"), (f"user:{user.id}", "daily")]
    world.close()


def test_a_failing_webhook_is_recorded_not_raised(engine: Engine) -> None:
    failing = Receiver(status=500)
    now = time.time()
    world = World(engine, failing.url, [now])
    world.store.set_tenant_limits("default", {"monthly_budget": 1.0})
    world.spend(0.7, at=now)
    [alert] = alerts_of(engine, "default")
    assert alert["delivery"] == "failed: HTTP 500" and alert["threshold"] == 0.5
    with engine.connect() as conn:  # the alert stays raised: no retry storm on each batch
        world.spend(0.01, at=now)
        assert len(conn.execute(select(cost_alerts)).all()) == 1
    world.close()
    failing.close()


NOTE = Notification(kind="budget", tenant_id="t", title="x", message="y", data={"n": 1})


def test_the_webhook_notifier_speaks_json_and_reports_failures(receiver: Receiver) -> None:
    plain = WebhookNotifier(receiver.url)
    assert plain.notify(NOTE).ok
    assert asyncio.run(plain.anotify(NOTE)).ok
    plain.close()
    (headers, body, _), (_, again, _) = receiver.posts
    assert headers["Content-Type"] == "application/json" and SIGNATURE_HEADER not in headers
    assert body == again and body["data"] == {"n": 1} and body["title"] == "x"

    gone = WebhookNotifier("http://127.0.0.1:9/hook", timeout_s=2)
    refused = gone.notify(NOTE)
    assert not refused.ok and "ConnectError" in refused.detail

    receiver.hold.clear()  # the server takes the request and never answers
    slow = WebhookNotifier(receiver.url, timeout_s=0.2)
    late = slow.notify(NOTE)
    assert not late.ok and "Timeout" in late.detail
    receiver.hold.set()
    slow.close()


def test_a_busy_ledger_queues_one_check_not_one_per_batch(engine: Engine) -> None:
    import threading

    started, release = threading.Event(), threading.Event()
    seen: list[set[str]] = []

    class Counting(BudgetAlerts):
        def check(self, touched: dict[str, tuple[set[str], set[str]]]) -> list[dict[str, Any]]:
            seen.append(set(touched))
            started.set()
            release.wait(30)
            return []

    alerts = Counting(engine, Budgets(engine, LimitStore(engine), [0.5]),
                      WebhookNotifier("http://127.0.0.1:9/unused"))
    alerts.observe([{"tenant_id": "default"}])
    assert started.wait(30)  # the first check runs (and waits); batches keep coming
    for tenant in ("a", "b", "c") * 20:
        alerts.observe([{"tenant_id": tenant, "credential_id": "k"}])
    release.set()
    alerts.flush()
    assert seen == [{"default"}, {"a", "b", "c"}]  # 60 batches: one more check
    alerts.close()


def test_checks_start_at_most_once_per_interval(engine: Engine) -> None:
    """A check that follows another within `check_interval_s` first waits out the rest of
    the interval (so the batches committed meanwhile are checked together), then runs."""
    waits: list[float] = []
    seen: list[set[str]] = []

    class Counting(BudgetAlerts):
        def check(self, touched: dict[str, tuple[set[str], set[str]]]) -> list[dict[str, Any]]:
            seen.append(set(touched))
            return []

    alerts = Counting(engine, Budgets(engine, LimitStore(engine), [0.5]),
                      WebhookNotifier("http://127.0.0.1:9/unused"),
                      check_interval_s=3600, sleep=waits.append)
    alerts.observe([{"tenant_id": "a"}])
    alerts.flush()
    assert seen == [{"a"}] and waits == []  # the first check does not wait
    alerts.observe([{"tenant_id": "b"}])
    alerts.flush()
    assert seen == [{"a"}, {"b"}]
    assert len(waits) == 1 and 3500 < waits[0] <= 3600  # the second waited out the interval
    alerts.close()
