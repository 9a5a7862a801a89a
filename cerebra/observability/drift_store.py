"""Where drift detection keeps what it found: the latest report per tenant, scope and signal
(replaced by each check) and the alerts it raised (kept, newest first when read)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, delete, func, insert, select

from cerebra.db.drift_tables import drift_alerts, drift_reports


class DriftStore:
    """The tables of cerebra/db/drift_tables.py, per tenant."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def save_reports(self, tenant: str, reports: Sequence[dict[str, Any]],
                     checked_at: float) -> None:
        """Replace the stored report of each (scope, signal) in `reports`."""
        if not reports:
            return
        with self.engine.begin() as conn:
            for report in reports:
                conn.execute(delete(drift_reports).where(
                    drift_reports.c.tenant_id == tenant,
                    drift_reports.c.scope == report["scope"],
                    drift_reports.c.signal == report["signal"]))
            conn.execute(insert(drift_reports), [
                {"tenant_id": tenant, "scope": r["scope"], "signal": r["signal"],
                 "test": r["test"], "statistic": r["statistic"], "p_value": r["p_value"],
                 "drifted": bool(r["drifted"]), "checked_at": checked_at, "data": r}
                for r in reports])

    def keep_only(self, tenant: str, scopes: Sequence[str]) -> None:
        """Forget the reports of the tenant's scopes not in `scopes` (no longer active)."""
        with self.engine.begin() as conn:
            conn.execute(delete(drift_reports).where(drift_reports.c.tenant_id == tenant,
                                                     drift_reports.c.scope.not_in(scopes)))

    def reports(self, tenant: str, scope: str | None = None) -> list[dict[str, Any]]:
        query = select(drift_reports.c.data, drift_reports.c.checked_at).where(
            drift_reports.c.tenant_id == tenant)
        if scope is not None:
            query = query.where(drift_reports.c.scope == scope)
        query = query.order_by(drift_reports.c.scope, drift_reports.c.signal)
        with self.engine.connect() as conn:
            return [{**r.data, "checked_at": r.checked_at} for r in conn.execute(query)]

    def last_alert_at(self, tenant: str, scope: str, signal: str) -> float | None:
        with self.engine.connect() as conn:
            return conn.execute(select(func.max(drift_alerts.c.created_at)).where(
                drift_alerts.c.tenant_id == tenant, drift_alerts.c.scope == scope,
                drift_alerts.c.signal == signal)).scalar()

    def add_alert(self, tenant: str, report: dict[str, Any], message: str, created_at: float,
                  data: dict[str, Any]) -> int:
        with self.engine.begin() as conn:
            result = conn.execute(insert(drift_alerts).values(
                tenant_id=tenant, scope=report["scope"], signal=report["signal"],
                created_at=created_at, statistic=report["statistic"],
                p_value=report["p_value"], message=message, data=data))
            key = result.inserted_primary_key
            return int(key[0]) if key else 0

    def alerts(self, tenant: str, *, scope: str | None = None,
               limit: int = 100) -> list[dict[str, Any]]:
        query = select(drift_alerts).where(drift_alerts.c.tenant_id == tenant)
        if scope is not None:
            query = query.where(drift_alerts.c.scope == scope)
        query = query.order_by(drift_alerts.c.created_at.desc(),
                               drift_alerts.c.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [{"id": r["id"], "scope": r["scope"], "signal": r["signal"],
                 "created_at": r["created_at"], "statistic": r["statistic"],
                 "p_value": r["p_value"], "message": r["message"],
                 "retraining": (r["data"] or {}).get("retraining"),
                 "deliveries": (r["data"] or {}).get("deliveries", [])} for r in rows]
