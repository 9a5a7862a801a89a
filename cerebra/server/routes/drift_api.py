"""Drift API under /api/drift: the caller's tenant's latest drift reports (recent window
against reference window per scope and signal), its drift alerts, a check run now, and A/B
comparisons of prompt versions and models with their significance. Reading needs
`training:read`; running a check (which may alert and start retraining) `training:write`.
The tenant is the principal's, never a parameter. Logic lives in cerebra.observability."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from cerebra.auth.principal import Scope
from cerebra.brain import Brain
from cerebra.context import RequestContext
from cerebra.observability.drift import DriftDetector
from cerebra.observability.drift_ab import judged_ratings, model_comparisons, prompt_comparisons
from cerebra.observability.drift_data import SCOPE_PATTERN, Window
from cerebra.prompts.template_store import NAME_PATTERN
from cerebra.server.auth import requires
from cerebra.server.deps import get_brain

router = APIRouter(prefix="/api/drift", tags=["drift"])


class CheckIn(BaseModel):
    """Which scope to check now (none: every scope active in the windows)."""

    model_config = ConfigDict(extra="forbid")

    scope: str | None = Field(default=None, pattern=SCOPE_PATTERN,
                              description="all, agent:<id> or task:<name>")


def detector_of(request: Request, brain: Brain) -> DriftDetector:
    service = getattr(request.app.state, "drift", None)
    if service is not None:
        return service.detector
    return DriftDetector(brain.engine, request.app.state.settings.drift,
                         embedder=brain.memory.embedder)


@router.get("")
async def reports(
    request: Request,
    scope: str | None = Query(None, pattern=SCOPE_PATTERN, max_length=207,
                              description="all, agent:<id> or task:<name>"),
    ctx: RequestContext = Depends(requires(Scope.TRAINING_READ)),
    brain: Brain = Depends(get_brain),
) -> dict[str, Any]:
    """The latest check's reports of the tenant (of one scope)."""
    detector = detector_of(request, brain)
    found = await asyncio.to_thread(detector.store.reports, ctx.tenant_id, scope)
    return {"reports": found}


@router.get("/alerts")
async def alerts(
    request: Request,
    scope: str | None = Query(None, pattern=SCOPE_PATTERN, max_length=207),
    limit: int = Query(100, ge=1, le=1000),
    ctx: RequestContext = Depends(requires(Scope.TRAINING_READ)),
    brain: Brain = Depends(get_brain),
) -> dict[str, Any]:
    """The tenant's drift alerts, newest first."""
    detector = detector_of(request, brain)
    found = await asyncio.to_thread(detector.store.alerts, ctx.tenant_id, scope=scope,
                                    limit=limit)
    return {"alerts": found}


@router.post("/check")
async def check(
    request: Request,
    body: CheckIn | None = Body(None),
    ctx: RequestContext = Depends(requires(Scope.TRAINING_WRITE)),
    brain: Brain = Depends(get_brain),
) -> dict[str, Any]:
    """Run the detector over the tenant now: its reports (stored; drifted ones alerted)."""
    detector = detector_of(request, brain)
    scope = body.scope if body is not None else None
    found = await asyncio.to_thread(detector.check, ctx, scope)
    return {"reports": found}


@router.get("/ab")
async def ab(
    request: Request,
    kind: Literal["prompt", "model"] = Query("model"),
    scope: str = Query("all", pattern=SCOPE_PATTERN, max_length=207,
                       description="models: all, agent:<id> or task:<name>"),
    name: str | None = Query(None, pattern=NAME_PATTERN,
                             description="prompt versions: one template's A/B tests"),
    alpha: float = Query(0.05, gt=0, lt=1),
    ctx: RequestContext = Depends(requires(Scope.TRAINING_READ)),
    brain: Brain = Depends(get_brain),
) -> dict[str, Any]:
    """A/B comparisons with significance: prompt versions (the tenant's A/B tests, of
    template `name` or all) or models (each model's feedback in `scope` over both drift
    windows against the most used model's, and the judged Bradley–Terry board)."""
    if kind == "prompt":
        rows = await asyncio.to_thread(prompt_comparisons, brain.engine, ctx, name=name,
                                       alpha=alpha)
        return {"kind": kind, "name": name, "comparisons": rows}
    detector = detector_of(request, brain)
    reference, recent = detector.windows(detector.clock())
    window = Window(reference.start, recent.end)

    def run() -> dict[str, Any]:
        return {"kind": kind, "scope": scope, "window": {"from": window.start, "to": window.end},
                "comparisons": model_comparisons(brain.engine, ctx, scope, window,
                                                 alpha=alpha),
                "ratings": judged_ratings(brain.engine, ctx)}

    return await asyncio.to_thread(run)
