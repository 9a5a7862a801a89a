"""What the costs API answers, per tenant: the spend summary, the month's forecast, the
budgets, the alerts and the recommendations — each assembled from the rollups
(cerebra.observability.costs*) with the `costs` settings.

The forecast's model is fitted on complete days only, so its simulated rest of the month is
kept per (tenant, day, method) and refitted the next day; each request adds what the month
has spent so far (today's part included) to it.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import OrderedDict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from cerebra.auth.limits import period_range
from cerebra.observability.costs import CostReader, day_index
from cerebra.observability.costs_alerts import alerts_of
from cerebra.observability.costs_budgets import Budgets, limit_store
from cerebra.observability.costs_forecast import Rest, month_forecast, simulate
from cerebra.observability.costs_recommend import budget_recommendation, model_recommendations
from cerebra.observability.costs_rollup import utc_day

if TYPE_CHECKING:
    from cerebra.brain import Brain

HISTORY_DAYS = 365  # days of daily totals a forecast is fitted on, at most
RECOMMEND_DAYS = 30
_CACHED = 256  # tenants' simulated months kept

# per database (a test's or a second app's engine sees none of another's): the simulated rests
_caches: weakref.WeakKeyDictionary[Engine, OrderedDict[tuple[str, str, str], Rest]] = (
    weakref.WeakKeyDictionary())
_cache_lock = threading.Lock()


class CostsService:
    def __init__(self, brain: Brain) -> None:
        self.brain = brain
        self.settings = brain.settings.costs
        self.reader = CostReader(brain.engine)

    def _flushed(self) -> None:
        self.brain.ledger.flush(10.0)  # read your writes: the ledger's queue is in the rollups

    def summary(self, tenant_id: str, days: int) -> dict[str, Any]:
        self._flushed()
        return self.reader.summary(tenant_id, days)

    def forecast(self, tenant_id: str, now: float | None = None) -> dict[str, Any]:
        self._flushed()
        now = time.time() if now is None else now
        start, end = period_range(now, "monthly")
        month = datetime.fromtimestamp(start, UTC).strftime("%Y-%m")
        today = utc_day(now)
        spent = sum(self.reader.daily_totals(tenant_id, utc_day(start), today).values())
        days_left = day_index(end - 1) - day_index(now) + 1
        rest = self._rest(tenant_id, today, now, days_left)
        today_left = 1.0 - (now % 86400) / 86400
        return month_forecast(month, spent, rest, today_left,
                              self.settings.forecast_level).to_dict()

    def _rest(self, tenant_id: str, today: str, now: float, days_left: int) -> Rest:
        method = self.settings.forecast_method
        key = (tenant_id, today, method)
        with _cache_lock:
            cache = _caches.setdefault(self.brain.engine, OrderedDict())
            hit = cache.get(key)
        if hit is not None:
            return hit
        yesterday = day_index(now) - 1
        totals = self.reader.daily_totals(tenant_id, utc_day((yesterday - HISTORY_DAYS + 1)
                                                             * 86400), utc_day(yesterday * 86400))
        history: list[float] = []
        if totals:
            first = day_index(datetime.strptime(min(totals), "%Y-%m-%d").replace(
                tzinfo=UTC).timestamp())
            history = [totals.get(utc_day(d * 86400), 0.0) for d in range(first, yesterday + 1)]
        rest = simulate(history, days_left, method, seed=yesterday)
        with _cache_lock:
            cache[key] = rest
            while len(cache) > _CACHED:
                cache.popitem(last=False)
        return rest

    def budgets(self, tenant_id: str) -> list[dict[str, Any]]:
        self._flushed()
        budgets = Budgets(self.brain.engine, limit_store(self.brain),
                          self.settings.alert_thresholds)
        return [b.to_dict() for b in budgets.states(tenant_id, time.time())]

    def alerts(self, tenant_id: str, limit: int) -> list[dict[str, Any]]:
        return alerts_of(self.brain.engine, tenant_id, limit)

    def recommendations(self, tenant_id: str) -> list[dict[str, Any]]:
        self._flushed()
        now = time.time()
        first = utc_day((day_index(now) - RECOMMEND_DAYS + 1) * 86400)
        out = model_recommendations(self.reader.model_stats(tenant_id, first),
                                    self.settings.recommend_min_ratio, RECOMMEND_DAYS)
        monthly = limit_store(self.brain).for_tenant(tenant_id).monthly_budget
        if monthly:
            out += budget_recommendation(self.forecast(tenant_id, now), monthly)
        return out
