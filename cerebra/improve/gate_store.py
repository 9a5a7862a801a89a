"""GateStore: every evaluation-gate decision with its full report in the database (table
`gate_reports`, migration 0021), per tenant — another tenant's report is as unknown as one
that never existed.
"""

from __future__ import annotations

import math
import time
from typing import Any, Protocol

from sqlalchemy import Engine, RowMapping, func, insert, select

from cerebra.context import RequestContext
from cerebra.db.improve_tables import gate_reports
from cerebra.errors import InvalidInput, NotFound
from cerebra.ids import new_id

MAX_NAME = 200


class ReportLike(Protocol):
    """What the store reads of a cerebra.improve.gate.GateReport."""

    @property
    def decision(self) -> str: ...
    @property
    def candidate(self) -> str: ...
    @property
    def baseline(self) -> str: ...
    @property
    def p_value(self) -> float: ...
    @property
    def gain(self) -> float: ...
    @property
    def created_at(self) -> float: ...
    def to_dict(self) -> dict[str, Any]: ...


def _finite(value: float) -> float:
    return float(value) if math.isfinite(value) else 1.0


def _json_safe(value: Any) -> Any:
    """Infinities and NaN (a perplexity that overflowed) as None: JSON has no such numbers."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


class GateStore:
    """The caller's tenant's gate reports."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def save(self, context: RequestContext, report: ReportLike) -> str:
        """Store a report; returns its id."""
        body = _json_safe(report.to_dict())
        task = str(body.get("task", {}).get("kit", ""))
        names = {"task": task, "candidate": report.candidate, "baseline": report.baseline}
        for key, value in names.items():
            if len(value) > MAX_NAME:
                raise InvalidInput(f"{key} is at most {MAX_NAME} characters", field=key)
        if report.decision not in ("promote", "refuse"):
            raise InvalidInput("decision is promote or refuse", field="decision")
        report_id = new_id()
        body["id"] = report_id
        with self.engine.begin() as conn:
            conn.execute(insert(gate_reports).values(
                tenant_id=context.tenant_id, id=report_id, decision=report.decision,
                p_value=_finite(report.p_value), gain=float(report.gain) if
                math.isfinite(report.gain) else 0.0, report=body,
                created_at=report.created_at or time.time(), **names))
        return report_id

    def get(self, context: RequestContext, report_id: str) -> dict[str, Any]:
        """One report in full; NotFound when the tenant has none with that id."""
        t = gate_reports
        with self.engine.connect() as conn:
            row = conn.execute(select(t).where(t.c.tenant_id == context.tenant_id,
                                               t.c.id == report_id)).mappings().first()
        if row is None:
            raise NotFound(f"unknown gate report {report_id!r}", field="report_id")
        out = _summary(row)
        out["report"] = row["report"]
        return out

    def list(self, context: RequestContext, *, task: str | None = None,
             decision: str | None = None, limit: int = 50, offset: int = 0
             ) -> list[dict[str, Any]]:
        """The tenant's reports, newest first, as summaries (no per-item outcomes)."""
        t = gate_reports
        query = select(t.c.id, t.c.task, t.c.candidate, t.c.baseline, t.c.decision,
                       t.c.p_value, t.c.gain, t.c.created_at, t.c.report
                       ).where(t.c.tenant_id == context.tenant_id)
        if task is not None:
            query = query.where(t.c.task == task)
        if decision is not None:
            query = query.where(t.c.decision == decision)
        query = query.order_by(t.c.created_at.desc(), t.c.id).limit(limit).offset(offset)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [_summary(r) for r in rows]

    def count(self, context: RequestContext) -> int:
        t = gate_reports
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(t)
                                    .where(t.c.tenant_id == context.tenant_id)).scalar_one())


def _summary(row: RowMapping) -> dict[str, Any]:
    report = row["report"] or {}
    return {"id": row["id"], "task": row["task"], "candidate": row["candidate"],
            "baseline": row["baseline"], "decision": row["decision"],
            "p_value": row["p_value"], "gain": row["gain"], "created_at": row["created_at"],
            "reasons": list(report.get("reasons", []))}
