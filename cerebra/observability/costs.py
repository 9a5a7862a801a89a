"""Reading the cost rollups: a tenant's spend per day and per model, key, user and agent over
the last days (what `GET /api/costs/summary` shows), a budget's spend in its period, and the
daily totals a forecast is fitted on. Every read is a range of `cost_rollups` by
(tenant, dimension, day): a few rows per day, never a scan of the interactions. A summary's
breakdowns read the window as the fewest aligned blocks of days (`cost_blocks`) plus single
days (cerebra.observability.costs_blocks): at 1,000,000 interactions with 2,000 users a day,
90 days of the user breakdown is ~19,000 rows instead of ~180,000.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, Select, func, select, union_all

from cerebra.db.cost_tables import cost_blocks, cost_rollups
from cerebra.observability.costs_blocks import day_at, decompose
from cerebra.observability.costs_rollup import utc_day

CURRENCY = "USD"
BREAKDOWNS = {"by_model": "model", "by_key": "key", "by_user": "user", "by_agent": "agent"}
TOP = 50  # rows per breakdown, dearest first


def day_index(ts: float) -> int:
    return int(ts // 86400)


def days_back(now: float, days: int) -> list[str]:
    """The `days` UTC days ending with today, oldest first."""
    today = day_index(now)
    return [utc_day((today - i) * 86400) for i in range(days - 1, -1, -1)]


def _breakdown(tenant_id: str, dim: str, first: int, today: int) -> Select[Any]:
    """The top keys of one dimension from the day index `first` on (`today` and after): the
    window's aligned blocks from `cost_blocks`, its single days and the days after the last
    block from `cost_rollups`, summed per key, dearest first (ties by key) — the same as
    summing the daily rows from `first` on."""
    singles, blocks, covered = decompose(first, today)
    r, b = cost_rollups.c, cost_blocks.c
    parts: list[Select[Any]] = []
    if singles:
        parts.append(select(r.key, r.cost, r.requests,
                            (r.prompt_tokens + r.completion_tokens).label("tokens"))
                     .where(r.tenant_id == tenant_id, r.dim == dim,
                            r.day.in_([day_at(d) for d in singles])))
    # days after the last block (rows dated ahead of the clock: usually none) count too
    parts.append(select(r.key, r.cost, r.requests,
                        (r.prompt_tokens + r.completion_tokens).label("tokens"))
                 .where(r.tenant_id == tenant_id, r.dim == dim, r.day > day_at(covered)))
    for span, starts in blocks.items():
        parts.append(select(b.key, b.cost, b.requests,
                            (b.prompt_tokens + b.completion_tokens).label("tokens"))
                     .where(b.tenant_id == tenant_id, b.span == span,
                            b.first_day.in_([day_at(d) for d in starts]), b.dim == dim))
    rows = union_all(*parts).subquery()
    cost = func.sum(rows.c.cost)
    return (select(rows.c.key, cost.label("cost"), func.sum(rows.c.requests).label("requests"),
                   func.sum(rows.c.tokens).label("tokens"))
            .group_by(rows.c.key).order_by(cost.desc(), rows.c.key).limit(TOP))


@dataclass(frozen=True)
class CostReader:
    engine: Engine

    def summary(self, tenant_id: str, days: int, *, now: float | None = None) -> dict[str, Any]:
        """Spend of the last `days` UTC days (today included): per day (every day, zeros
        where nothing was spent) and the top keys of each breakdown."""
        now = time.time() if now is None else now
        span = days_back(now, days)
        today = day_index(now)
        r = cost_rollups.c
        tokens = r.prompt_tokens + r.completion_tokens
        with self.engine.connect() as conn:
            per_day = {row.day: row for row in conn.execute(
                select(r.day, r.cost, r.requests, tokens.label("tokens")).where(
                    r.tenant_id == tenant_id, r.dim == "total", r.day >= span[0]))}
            out = {name: [{"key": row.key, "cost": float(row.cost),
                           "requests": int(row.requests), "tokens": int(row.tokens)}
                          for row in conn.execute(_breakdown(tenant_id, dim, today - days + 1,
                                                             today))]
                   for name, dim in BREAKDOWNS.items()}
        by_day = [{"day": day, "cost": float(per_day[day].cost) if day in per_day else 0.0,
                   "requests": int(per_day[day].requests) if day in per_day else 0,
                   "tokens": int(per_day[day].tokens) if day in per_day else 0}
                  for day in span]
        return {"currency": CURRENCY, "total": sum(d["cost"] for d in by_day),
                "by_day": by_day, **out}

    def spend(self, tenant_id: str, dim: str, key: str, first_day: str,
              last_day: str) -> float:
        """USD spent by one rollup key (dim "total" with key "" for the tenant) over the
        UTC days first_day..last_day (inclusive)."""
        r = cost_rollups.c
        with self.engine.connect() as conn:
            value = conn.execute(select(func.coalesce(func.sum(r.cost), 0.0)).where(
                r.tenant_id == tenant_id, r.dim == dim, r.key == key,
                r.day >= first_day, r.day <= last_day)).scalar()
        return float(value or 0.0)

    def daily_totals(self, tenant_id: str, first_day: str, last_day: str) -> dict[str, float]:
        """The tenant's spend per UTC day in first_day..last_day (days with none absent)."""
        r = cost_rollups.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(r.day, r.cost).where(
                r.tenant_id == tenant_id, r.dim == "total", r.day >= first_day,
                r.day <= last_day))
            return {row.day: float(row.cost) for row in rows}

    def model_stats(self, tenant_id: str, first_day: str) -> list[dict[str, Any]]:
        """Per model since `first_day`: requests, cost and the feedback sums."""
        r = cost_rollups.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(r.key, func.sum(r.cost).label("cost"),
                       func.sum(r.requests).label("requests"),
                       func.sum(r.feedback_n).label("feedback_n"),
                       func.sum(r.feedback_sum).label("feedback_sum"),
                       func.sum(r.feedback_sq).label("feedback_sq"))
                .where(r.tenant_id == tenant_id, r.dim == "model", r.day >= first_day)
                .group_by(r.key))
            return [{"model": row.key, "cost": float(row.cost),
                     "requests": int(row.requests), "feedback_n": int(row.feedback_n),
                     "feedback_sum": float(row.feedback_sum),
                     "feedback_sq": float(row.feedback_sq)} for row in rows]
