"""Budget alerts: after each ledger batch commits, the budgets its rows touched (their
tenants', keys' and users') are compared with the alert thresholds (fractions of each
budget, `costs.alert_thresholds`); a threshold crossed for the first time in a budget's
period is recorded in `cost_alerts` and sent through the Notifier (the log, and a webhook
when `costs.webhook_url` is set).

"Once per threshold per period" is the table's unique key: the alert is inserted with ON
CONFLICT DO NOTHING and notified only by the process whose insert took, so several servers
(or a replayed batch) never send it twice. The checks run on one worker thread of their
own, so neither the ledger's writer nor a request waits for a slow webhook, and at most
one starts per `check_interval_s` (1 s): the batches that commit meanwhile are checked
together by the next one. A check is a handful of queries; run after every ledger batch
it was the largest Python cost a secured request left on background threads (~120 µs of
GIL time each at a few hundred requests/s). An alert is raised at most that much later.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, select, update

from cerebra.db.cost_tables import cost_alerts
from cerebra.observability.costs_budgets import Budgets, BudgetState, limit_store
from cerebra.observability.costs_rollup import dialect_insert
from cerebra.observability.notify import FanOut, LogNotifier, Notification, Notifier

if TYPE_CHECKING:
    from cerebra.brain import Brain
    from cerebra.config import Settings

log = logging.getLogger("cerebra.costs")

Touched = dict[str, tuple[set[str], set[str]]]  # tenant -> (credentials, users)
CHECK_INTERVAL_S = 1.0  # at most one budget check per this many seconds


def notification(tenant_id: str, state: BudgetState, threshold: float) -> Notification:
    who = "the tenant" if state.scope == "tenant" else state.scope.replace(":", " ", 1)
    share = f"{threshold * 100:.0f} %"
    return Notification(
        kind="budget", tenant_id=tenant_id,
        title=f"{state.period} budget of {who}: {share} spent",
        message=(f"The {state.period} budget of {who} (${state.limit:.2f}, period "
                 f"{state.period_id}) has reached {share}: ${state.spent:.4f} spent."),
        severity="critical" if threshold >= 1.0 else "warning",
        data={"scope": state.scope, "period": state.period, "period_id": state.period_id,
              "threshold": threshold, "limit": state.limit, "spent": state.spent,
              "resets_at": state.resets_at})


class BudgetAlerts:
    """The ledger watcher that raises budget alerts (see the module's docstring)."""

    def __init__(self, engine: Engine, budgets: Budgets, notifier: Notifier, *,
                 clock: Callable[[], float] = time.time,
                 check_interval_s: float = CHECK_INTERVAL_S,
                 sleep: Callable[[float], object] = time.sleep) -> None:
        self.engine = engine
        self._sleep = sleep
        self.check_interval_s = check_interval_s
        self._next_check = 0.0  # time.monotonic() before which no check starts
        self.budgets = budgets
        self.notifier = notifier
        self.clock = clock
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cerebra-costs")
        self._last: Future[Any] | None = None
        self._lock = threading.Lock()
        self._waiting: Touched = {}  # noted, not yet checked: one check takes them all
        self._scheduled = False

    def observe(self, rows: list[dict[str, Any]]) -> None:
        """The ledger's watcher: note whose budgets `rows` touched and check them (later)."""
        with self._lock:
            for row in rows:
                creds, users = self._waiting.setdefault(row["tenant_id"], (set(), set()))
                if row.get("credential_id"):
                    creds.add(row["credential_id"])
                if row.get("user_id"):
                    users.add(row["user_id"])
            if not self._scheduled:  # a check already queued will see these rows too, so
                self._scheduled = True  # a busy ledger queues one check, not one per batch
                self._last = self._pool.submit(self._guarded)

    def _guarded(self) -> None:
        wait = self._next_check - time.monotonic()
        if wait > 0:  # this worker's own thread: what commits meanwhile joins this check
            self._sleep(wait)
        self._next_check = time.monotonic() + self.check_interval_s
        with self._lock:
            touched, self._waiting, self._scheduled = self._waiting, {}, False
        try:
            self.check(touched)
        except Exception:  # a database hiccup: the next batch checks again
            log.exception("budget alert check failed")

    def check(self, touched: Touched) -> list[dict[str, Any]]:
        """Record and notify the thresholds newly crossed by the touched budgets."""
        raised: list[dict[str, Any]] = []
        now = self.clock()
        for tenant_id, (creds, users) in sorted(touched.items()):
            for state in self.budgets.states(tenant_id, now, keys=creds, users=users):
                for threshold in state.crossed:
                    alert_id = self._record(tenant_id, state, threshold, now)
                    if alert_id is None:
                        continue
                    delivery = self.notifier.notify(notification(tenant_id, state, threshold))
                    detail = "delivered" if delivery.ok else f"failed: {delivery.detail}"
                    with self.engine.begin() as conn:
                        conn.execute(update(cost_alerts).where(cost_alerts.c.id == alert_id)
                                     .values(delivery=detail[:1000]))
                    raised.append({"id": alert_id, "tenant_id": tenant_id,
                                   "scope": state.scope, "threshold": threshold})
        return raised

    def _record(self, tenant_id: str, state: BudgetState, threshold: float,
                now: float) -> int | None:
        """The new alert's id, or None when this threshold was already raised."""
        with self.engine.begin() as conn:
            stmt = dialect_insert(conn, cost_alerts).values(
                tenant_id=tenant_id, scope=state.scope, period=state.period,
                period_id=state.period_id, threshold=threshold, limit_usd=state.limit,
                spent=state.spent, created_at=now,
            ).on_conflict_do_nothing(
                index_elements=["tenant_id", "scope", "period_id", "threshold"]
            ).returning(cost_alerts.c.id)
            return conn.execute(stmt).scalar()

    def flush(self, timeout: float = 30.0) -> None:
        """Wait until the checks submitted so far are done."""
        with self._lock:
            last = self._last
        if last is not None:
            last.exception(timeout)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self.notifier.close()


def alerts_of(engine: Engine, tenant_id: str, limit: int = 100) -> list[dict[str, Any]]:
    """The tenant's budget alerts, newest first."""
    a = cost_alerts.c
    with engine.connect() as conn:
        rows = conn.execute(select(cost_alerts).where(a.tenant_id == tenant_id)
                            .order_by(a.created_at.desc(), a.id.desc()).limit(limit))
        return [{"id": r.id, "scope": r.scope, "period": r.period, "period_id": r.period_id,
                 "threshold": r.threshold, "limit": r.limit_usd, "spent": r.spent,
                 "created_at": r.created_at, "delivery": r.delivery} for r in rows]


def build_notifier(settings: Settings) -> Notifier:
    """The log, and the webhook of `costs.webhook_url` when one is set."""
    s = settings.costs
    if not s.webhook_url:
        return LogNotifier()
    from cerebra.observability.notify_webhook import WebhookNotifier

    webhook = WebhookNotifier(s.webhook_url, secret=s.webhook_secret.get_secret_value(),
                              timeout_s=s.webhook_timeout_s)
    return FanOut([LogNotifier(), webhook])


def start_alerts(brain: Brain, settings: Settings) -> BudgetAlerts | None:
    """Budget alerts watching the Brain's ledger (None when no thresholds are set)."""
    thresholds = settings.costs.alert_thresholds
    if not thresholds:
        return None
    budgets = Budgets(brain.engine, limit_store(brain), thresholds)
    alerts = BudgetAlerts(brain.engine, budgets, build_notifier(settings))
    brain.ledger.watchers.append(alerts.observe)
    return alerts


def stop_alerts(brain: Brain, alerts: BudgetAlerts | None) -> None:
    if alerts is None:
        return
    if alerts.observe in brain.ledger.watchers:
        brain.ledger.watchers.remove(alerts.observe)
    alerts.close()
