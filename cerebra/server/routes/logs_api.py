"""Logs API: GET /logs and GET /api/system/logs (the same page of recent log lines, newest
first, filtered by level, logger, trace id, text and time; `next` is the `before` of the
next page), and GET /api/system/top (the figures of `cerebra top`). Needs `metrics:read`;
the tenant is the principal's — system lines only for admins (cerebra.observability.
log_store.Viewer)."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request

from cerebra.auth.principal import Scope
from cerebra.brain import Brain
from cerebra.context import RequestContext
from cerebra.observability.log_store import LEVELS, LogQuery, Viewer, read_logs
from cerebra.observability.top import snapshot
from cerebra.server.auth import requires
from cerebra.server.deps import get_brain

router = APIRouter(tags=["logs"])
Level = Literal["debug", "info", "warning", "error", "critical"]


def _query(
    level: Level | None = Query(None, description="the lowest level shown"),
    logger: str | None = Query(None, max_length=200, description="this logger and its children"),
    trace_id: str | None = Query(None, max_length=64, description="lines of this trace"),
    q: str | None = Query(None, max_length=200, description="text in the message, any case"),
    since: float | None = Query(None, ge=0, le=1e11, description="UNIX seconds: lines since"),
    before: int | None = Query(None, ge=1, le=2**63 - 1, description="page cursor (`next`)"),
    limit: int = Query(100, ge=1, le=1000),
) -> LogQuery:
    return LogQuery(level=LEVELS[level] if level else 0, logger=logger or "",
                    trace_id=trace_id or "", text=q or "", since=since, before=before,
                    limit=limit)


@router.get("/logs")
@router.get("/api/system/logs")  # the same page under the name earlier versions used
async def logs(
    request: Request,
    query: LogQuery = Depends(_query),
    ctx: RequestContext = Depends(requires(Scope.METRICS_READ)),
    brain: Brain = Depends(get_brain),
) -> dict[str, Any]:
    """Recent log lines of the caller's tenant, newest first: {"logs": [...], "next"}."""
    runtime = getattr(request.app.state, "logs", None)

    def run() -> dict[str, Any]:
        if runtime is not None:
            runtime.flush(5.0)  # read your writes: this process's lines so far
        return read_logs(brain.engine, query, Viewer.of(ctx))

    return await asyncio.to_thread(run)


@router.get("/api/system/top")
async def top(
    window: float = Query(60.0, gt=0, le=86_400, description="seconds of recent requests"),
    ctx: RequestContext = Depends(requires(Scope.METRICS_READ)),
    brain: Brain = Depends(get_brain),
) -> dict[str, Any]:
    """Requests, latency, spend and tokens over the window, per model; the models' health;
    the jobs queued or running (what `cerebra top` shows)."""
    def run() -> dict[str, Any]:
        brain.ledger.flush()
        return snapshot(brain.engine, ctx.tenant_id, window_s=window,
                        models=brain.models.status())

    return await asyncio.to_thread(run)
