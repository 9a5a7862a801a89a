"""Router API: /api/router — decisions with their reasons, arm statistics, policies, feedback.

Everything is of the caller's tenant, which comes from the request context (its
credentials), never from a query parameter or a body: a `tenant_id` in either is refused
(422). `agent_id` narrows within the tenant. Policies of tenant "*" (for every tenant) are
listed alongside the tenant's own.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from cerebra.auth.principal import Scope
from cerebra.brain import Brain
from cerebra.context import RequestContext
from cerebra.errors import InvalidInput, NotFound
from cerebra.routing.decisions import Decision
from cerebra.routing.policy import ANY
from cerebra.routing.router import Router
from cerebra.server.auth import request_context, requires
from cerebra.server.deps import get_brain


def _no_tenant_parameter(request: Request) -> None:
    if "tenant_id" in request.query_params:
        raise InvalidInput(
            "tenant_id is not a parameter: the tenant comes from the request's credentials",
            field="tenant_id",
        )


router = APIRouter(
    prefix="/api/router", tags=["router"], dependencies=[Depends(_no_tenant_parameter)]
)


async def get_router(
    brain: Brain = Depends(get_brain), _: RequestContext = Depends(request_context)
) -> Router:
    """The router; authenticated first, so a caller without credentials gets 401, not 404."""
    if brain.router is None:
        raise NotFound(
            "routing is not enabled: set CEREBRA_ROUTER_STRATEGY (e.g. thompson)", field="router"
        )
    return brain.router


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision_id: str = Field(min_length=1)
    quality: float = Field(ge=0.0, le=1.0, description="0 = useless … 1 = perfect")


class PolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a tenant_id in the body is refused

    agent_id: str = ANY
    policy: dict[str, Any]


def _own(r: Router, decision_id: str, ctx: RequestContext) -> Decision:
    """The decision, if it is the caller's tenant's (another tenant's is as unknown)."""
    decision = r.get_decision(decision_id)
    if decision is None or decision.tenant_id != ctx.tenant_id:
        raise NotFound(f"unknown decision {decision_id!r}", field="decision_id")
    return decision


@router.get("/decisions")
async def list_decisions(
    agent_id: str | None = None,
    limit: int = Query(default=50, ge=1, le=1000),
    offset: int = Query(default=0, ge=0, le=2**63 - 1),
    r: Router = Depends(get_router),
    ctx: RequestContext = Depends(requires(Scope.ROUTER_READ)),
) -> dict[str, Any]:
    found = await asyncio.to_thread(
        r.decisions, tenant_id=ctx.tenant_id, agent_id=agent_id, limit=limit, offset=offset
    )
    return {"decisions": [d.to_dict() for d in found]}


@router.get("/decisions/{decision_id}")
async def get_decision(
    decision_id: str,
    r: Router = Depends(get_router),
    ctx: RequestContext = Depends(requires(Scope.ROUTER_READ)),
) -> dict[str, Any]:
    decision = await asyncio.to_thread(_own, r, decision_id, ctx)
    return decision.to_dict()


@router.post("/feedback")
async def feedback(
    body: FeedbackIn,
    r: Router = Depends(get_router),
    ctx: RequestContext = Depends(requires(Scope.FEEDBACK)),
) -> dict[str, Any]:
    await asyncio.to_thread(_own, r, body.decision_id, ctx)
    decision = await asyncio.to_thread(r.feedback, body.decision_id, body.quality)
    return decision.to_dict()


@router.get("/stats")
def stats(
    agent_id: str = "",
    r: Router = Depends(get_router),
    ctx: RequestContext = Depends(requires(Scope.ROUTER_READ)),
) -> dict[str, Any]:
    return r.arm_stats(ctx.tenant_id, agent_id)


@router.get("/policies")
def policies(
    r: Router = Depends(get_router), ctx: RequestContext = Depends(requires(Scope.ROUTER_READ))
) -> dict[str, Any]:
    return {"policies": [p for p in r.policies() if p["tenant_id"] in (ctx.tenant_id, ANY)]}


@router.put("/policies")
def set_policy(
    body: PolicyIn,
    r: Router = Depends(get_router),
    ctx: RequestContext = Depends(requires(Scope.MODELS_ADMIN)),
) -> dict[str, Any]:
    policy = r.set_policy(body.policy, tenant_id=ctx.tenant_id, agent_id=body.agent_id)
    return {"tenant_id": ctx.tenant_id, "agent_id": body.agent_id, "policy": policy.to_dict()}


@router.delete("/policies")
def delete_policy(
    agent_id: str = ANY,
    r: Router = Depends(get_router),
    ctx: RequestContext = Depends(requires(Scope.MODELS_ADMIN)),
) -> dict[str, str]:
    r.delete_policy(tenant_id=ctx.tenant_id, agent_id=agent_id)
    return {"deleted": f"{ctx.tenant_id}/{agent_id}"}
