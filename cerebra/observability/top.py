"""The figures of `cerebra top` for one tenant: requests, latency, spend and tokens over a
recent window, per model, and the jobs queued or running — one snapshot, read from the
database (the ledger's `interactions`, the `jobs` table), the same whether the server's
GET /api/system/top or the CLI's local mode asks.

Bounded cost on any table size: the window is read from the newest `SCAN` interactions only
(a primary-key range, then the tenant and time filters), so a busy table past that many rows
in the window shows `truncated: true` instead of slowing the view.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, func, select

from cerebra.db.schema import interactions, jobs

if TYPE_CHECKING:
    from cerebra.models.registry import ModelStatus

SCAN = 20_000  # newest interactions read at most per snapshot
ACTIVE = ("queued", "running")


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


def snapshot(engine: Engine, tenant_id: str, *, window_s: float = 60.0,
             now: float | None = None,
             models: list[ModelStatus] | None = None) -> dict[str, Any]:
    """One frame's figures; `models`, where the caller has a registry, adds its health."""
    now = time.time() if now is None else now
    since = now - window_s
    t = interactions
    with engine.connect() as conn:
        newest = conn.execute(select(func.max(t.c.id))).scalar() or 0
        rows = conn.execute(
            select(t.c.model, t.c.latency_ms, t.c.cost_usd, t.c.prompt_tokens,
                   t.c.completion_tokens)
            .where(t.c.id > newest - SCAN, t.c.tenant_id == tenant_id, t.c.created_at >= since)
        ).all()
        oldest_read = conn.execute(
            select(func.min(t.c.created_at)).where(t.c.id > newest - SCAN)).scalar()
        job_rows = conn.execute(
            select(jobs.c.id, jobs.c.name, jobs.c.state, jobs.c.progress, jobs.c.message)
            .where(jobs.c.tenant_id == tenant_id, jobs.c.state.in_(ACTIVE))
            .order_by(jobs.c.created_at.desc()).limit(20)
        ).all()
        counts: dict[str, int] = dict(conn.execute(
            select(jobs.c.state, func.count()).where(jobs.c.tenant_id == tenant_id)
            .group_by(jobs.c.state)).all())
    per_model: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        per_model[row.model].append(row)
    latencies = [r.latency_ms for r in rows]
    return {
        "at": now, "tenant_id": tenant_id, "window_s": window_s,
        "truncated": newest > SCAN and oldest_read is not None and oldest_read > since,
        "requests": len(rows),
        "rps": round(len(rows) / window_s, 3) if window_s > 0 else 0.0,
        "latency_ms": {"p50": _pct(latencies, 0.5), "p95": _pct(latencies, 0.95),
                       "max": round(max(latencies), 2) if latencies else None},
        "spend_usd": round(sum(r.cost_usd for r in rows), 6),
        "tokens": sum(r.prompt_tokens + r.completion_tokens for r in rows),
        "by_model": sorted(
            ({"model": name, "requests": len(rs),
              "p50_ms": _pct([r.latency_ms for r in rs], 0.5),
              "spend_usd": round(sum(r.cost_usd for r in rs), 6),
              "tokens": sum(r.prompt_tokens + r.completion_tokens for r in rs)}
             for name, rs in per_model.items()),
            key=lambda m: (-m["requests"], m["model"])),
        "models": [asdict(m) for m in models] if models is not None else None,
        "jobs": {"counts": {str(k): int(v) for k, v in counts.items()},
                 "active": [{"id": j.id, "name": j.name, "state": j.state,
                             "progress": j.progress, "message": j.message}
                            for j in job_rows]},
    }
