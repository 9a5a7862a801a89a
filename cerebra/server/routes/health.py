"""Liveness and readiness (public), uptime and Prometheus metrics (metrics:read, or public
when configured)."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from cerebra.auth.principal import Scope
from cerebra.brain import Brain
from cerebra.errors import Forbidden
from cerebra.observability.metrics import Metrics
from cerebra.server.auth import public, request_context, requires
from cerebra.server.deps import get_brain, get_metrics

router = APIRouter(tags=["health"])


async def metrics_access(request: Request) -> None:
    """/metrics: public when CEREBRA_AUTH__PUBLIC_METRICS is on (a Prometheus scraper),
    else the metrics:read scope like /uptime."""
    if request.app.state.settings.auth.public_metrics:
        return
    context = await request_context(request)
    if Scope.METRICS_READ not in context.scopes:
        raise Forbidden("this needs the scope 'metrics:read'", field="scope",
                        required_scope=Scope.METRICS_READ.value)


metrics_access.__cerebra_requires__ = frozenset({Scope.METRICS_READ})  # type: ignore[attr-defined]


@router.get("/healthz", dependencies=[Depends(public)])
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", dependencies=[Depends(public)])
def readyz(request: Request) -> Response:
    brain: Brain | None = request.app.state.brain
    problems: list[str] = []
    if brain is None:
        problems.append("brain not loaded")
    else:
        try:
            with brain.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:
            problems.append(f"database: {exc}")
        if not brain.models.names():
            problems.append("no model registered")
    if problems:
        return JSONResponse({"status": "not ready", "problems": problems}, status_code=503)
    return JSONResponse({"status": "ready", "models": brain.models.names() if brain else []})


@router.get("/uptime", dependencies=[Depends(requires(Scope.METRICS_READ))])
def uptime(request: Request) -> dict[str, Any]:
    started = float(request.app.state.started_at)
    return {"uptime_s": round(time.time() - started, 3), "started_at": started}


@router.get("/metrics", dependencies=[Depends(metrics_access)], response_class=PlainTextResponse)
def metrics(m: Metrics = Depends(get_metrics), _: Brain = Depends(get_brain)) -> Response:
    return Response(m.render(), media_type=CONTENT_TYPE_LATEST)
