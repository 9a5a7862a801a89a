"""Costs API under /api/costs: the caller's tenant's spend per day, model, key, user and
agent (from the rollups), the month's forecast with its interval, the budgets and their
alerts, and recommendations. Needs `metrics:read`; the tenant is the principal's, never a
parameter."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Query

from cerebra.auth.principal import Scope
from cerebra.brain import Brain
from cerebra.context import RequestContext
from cerebra.observability.costs_service import CostsService
from cerebra.server.auth import requires
from cerebra.server.deps import get_brain

router = APIRouter(prefix="/api/costs", tags=["costs"])


@router.get("/summary")
async def summary(
    days: int = Query(30, ge=1, le=366, description="UTC days back, today included"),
    ctx: RequestContext = Depends(requires(Scope.METRICS_READ)),
    brain: Brain = Depends(get_brain),
) -> dict[str, Any]:
    """Spend per day (every day of the span) and the top models, keys, users and agents."""
    return await asyncio.to_thread(CostsService(brain).summary, ctx.tenant_id, days)


@router.get("/forecast")
async def forecast(
    ctx: RequestContext = Depends(requires(Scope.METRICS_READ)),
    brain: Brain = Depends(get_brain),
) -> dict[str, Any]:
    """The month's spend so far and its forecast with a prediction interval."""
    return await asyncio.to_thread(CostsService(brain).forecast, ctx.tenant_id)


@router.get("/budgets")
async def budgets(
    ctx: RequestContext = Depends(requires(Scope.METRICS_READ)),
    brain: Brain = Depends(get_brain),
) -> dict[str, Any]:
    """Every daily and monthly budget in force, its period's spend and thresholds crossed."""
    return {"budgets": await asyncio.to_thread(CostsService(brain).budgets, ctx.tenant_id)}


@router.get("/alerts")
async def alerts(
    limit: int = Query(100, ge=1, le=1000),
    ctx: RequestContext = Depends(requires(Scope.METRICS_READ)),
    brain: Brain = Depends(get_brain),
) -> dict[str, Any]:
    """Budget alerts raised for the tenant, newest first."""
    return {"alerts": await asyncio.to_thread(CostsService(brain).alerts, ctx.tenant_id,
                                              limit)}


@router.get("/recommendations")
async def recommendations(
    ctx: RequestContext = Depends(requires(Scope.METRICS_READ)),
    brain: Brain = Depends(get_brain),
) -> dict[str, Any]:
    """Cheaper models with feedback as good, and a forecast over the monthly budget."""
    return {"recommendations": await asyncio.to_thread(
        CostsService(brain).recommendations, ctx.tenant_id)}
