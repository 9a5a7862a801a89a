"""The budgets of a tenant as the cost ledger sees them: every daily and monthly budget in
force (the tenant's, each live API key's, each user's with stored limits — the same limits
the limits guard enforces, `cerebra.auth.limit_store`), with what its period has spent so
far from the rollups, the alert thresholds it has crossed and when it resets.

A key's spend is its credential's rollup; a user's, its `user_id` rollup (every credential
the user asked with); the tenant's, its total.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import Engine, select

from cerebra.auth.limit_store import LimitStore
from cerebra.auth.limits import Limits, period_bounds, period_range
from cerebra.db.schema import api_keys, tenants
from cerebra.observability.costs import CostReader
from cerebra.observability.costs_rollup import utc_day

if TYPE_CHECKING:
    from cerebra.brain import Brain

Period = Literal["daily", "monthly"]
MAX_BUDGETS = 500  # keys and users listed per tenant, at most


@dataclass(frozen=True)
class BudgetState:
    scope: str  # "tenant", "key:<id>", "user:<id>"
    period: Period
    period_id: str  # "2026-12-01" or "2026-12"
    limit: float
    spent: float
    thresholds: tuple[float, ...]
    resets_at: float

    @property
    def crossed(self) -> list[float]:
        return [t for t in self.thresholds if self.limit > 0 and self.spent >= t * self.limit]

    def to_dict(self) -> dict[str, Any]:
        reset = datetime.fromtimestamp(self.resets_at, UTC).isoformat().replace("+00:00", "Z")
        return {"scope": self.scope, "period": self.period, "limit": self.limit,
                "spent": self.spent, "thresholds": list(self.thresholds),
                "crossed": self.crossed, "resets_at": reset}


def limit_store(brain: Brain) -> LimitStore:
    """The limits guard's store (its defaults and cache), else one of the stored limits."""
    from cerebra.auth.limits_guard import LimitsGuard

    for guard in brain.guards:
        if isinstance(guard, LimitsGuard):
            return guard.store
    return LimitStore(brain.engine)


class Budgets:
    """Budgets in force and their spend, read from the limit store and the rollups."""

    def __init__(self, engine: Engine, store: LimitStore, thresholds: Collection[float]) -> None:
        self.engine = engine
        self.store = store
        self.reader = CostReader(engine)
        self.thresholds = tuple(sorted(thresholds))

    def _owners(self, tenant_id: str, keys: Collection[str] | None,
                users: Collection[str] | None) -> tuple[list[str], list[str]]:
        """Live keys (of `keys`, when given) and users with stored limits (of `users`)."""
        k = api_keys.c
        query = select(k.id).where(k.tenant_id == tenant_id, k.revoked_at.is_(None))
        if keys is not None:
            query = query.where(k.id.in_(list(keys)))
        with self.engine.connect() as conn:
            key_ids = list(conn.execute(query.order_by(k.id).limit(MAX_BUDGETS)).scalars())
            stored = conn.execute(select(tenants.c.limits).where(
                tenants.c.id == tenant_id)).scalar()
        per_user = (stored or {}).get("users") or {} if isinstance(stored, dict) else {}
        user_ids = sorted(u for u in per_user if users is None or u in users)
        return key_ids, user_ids[:MAX_BUDGETS]

    def states(self, tenant_id: str, now: float, *, keys: Collection[str] | None = None,
               users: Collection[str] | None = None) -> list[BudgetState]:
        """Every budget of the tenant (restricted to `keys` and `users` when given)."""
        key_ids, user_ids = self._owners(tenant_id, keys, users)
        owners: list[tuple[str, str, str, Limits]] = [
            ("tenant", "total", "", self.store.for_tenant(tenant_id))]
        owners += [(f"key:{key}", "key", key, self.store.for_key(tenant_id, key))
                   for key in key_ids]
        owners += [(f"user:{user}", "user", user, self.store.for_user(tenant_id, user))
                   for user in user_ids]
        today = utc_day(now)
        out: list[BudgetState] = []
        for scope, dim, key, limits in owners:
            periods: tuple[tuple[Period, float | None], ...] = (
                ("daily", limits.daily_budget), ("monthly", limits.monthly_budget))
            for period, usd in periods:
                if not usd:
                    continue
                pid, ends = period_bounds(now, period)
                starts, _ = period_range(now, period)
                spent = self.reader.spend(tenant_id, dim, key, utc_day(starts), today)
                out.append(BudgetState(scope, period, pid, usd, spent, self.thresholds, ends))
        return out
