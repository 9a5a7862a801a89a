"""Liveness, readiness, uptime and Prometheus metrics."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from cerebra.brain import Brain
from cerebra.observability.metrics import Metrics
from cerebra.server.deps import get_brain, get_metrics

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
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


@router.get("/uptime")
def uptime(request: Request) -> dict[str, Any]:
    started = float(request.app.state.started_at)
    return {"uptime_s": round(time.time() - started, 3), "started_at": started}


@router.get("/metrics")
def metrics(m: Metrics = Depends(get_metrics), _: Brain = Depends(get_brain)) -> Response:
    return Response(m.render(), media_type=CONTENT_TYPE_LATEST)
