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
from cerebra.errors import InvalidInput
from cerebra.observability.drift import DriftDetector
from cerebra.observability.drift_ab import judged_ratings, model_comparisons, prompt_comparisons
from cerebra.observability.drift_data import SCOPE_PATTERN, Window, check_scope
from cerebra.prompts.template_store import NAME_PATTERN, check_name
from cerebra.server.auth import requires
from cerebra.server.deps import get_brain

router = APIRouter(prefix="/api/drift", tags=["drift"])
AB_SCOPE = f"{SCOPE_PATTERN[:-2]}|{NAME_PATTERN[1:-1]})$"  # a scope, or a template's name


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
    scope: str | None = Query(None, pattern=AB_SCOPE, max_length=207,
                              description="model: all, agent:<id> or task:<name>; prompt: "
                              "a template's name"),
    alpha: float = Query(0.05, gt=0, lt=1),
    ctx: RequestContext = Depends(requires(Scope.TRAINING_READ)),
    brain: Brain = Depends(get_brain),
) -> dict[str, Any]:
    """A/B comparisons with significance: prompt versions (the tenant's A/B tests) or models
    (each model's feedback against the most used model's, over both drift windows)."""
    detector = detector_of(request, brain)
    if kind == "prompt":
        name = None if scope is None else check_name(scope)
        rows = await asyncio.to_thread(prompt_comparisons, brain.engine, ctx, name=name,
                                       alpha=alpha)
        return {"kind": kind, "scope": scope, "comparisons": rows}
    try:
        where = check_scope(scope or "all")
    except InvalidInput:
        raise InvalidInput("for models, scope is all, agent:<id> or task:<name>",
                           field="scope") from None
    reference, recent = detector.windows(detector.clock())
    window = Window(reference.start, recent.end)

    def run() -> dict[str, Any]:
        return {"kind": kind, "scope": where, "window": {"from": window.start, "to": window.end},
                "comparisons": model_comparisons(brain.engine, ctx, where, window,
                                                 alpha=alpha),
                "ratings": judged_ratings(brain.engine, ctx)}

    return await asyncio.to_thread(run)
