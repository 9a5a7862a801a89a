"""Router API: /api/router — decisions with their reasons, arm statistics, policies, feedback."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from cerebra.brain import Brain
from cerebra.errors import NotFound
from cerebra.routing.router import Router
from cerebra.server.deps import get_brain

router = APIRouter(prefix="/api/router", tags=["router"])


def get_router(brain: Brain = Depends(get_brain)) -> Router:
    if brain.router is None:
        raise NotFound(
            "routing is not enabled: set CEREBRA_ROUTER_STRATEGY (e.g. thompson)", field="router"
        )
    return brain.router


class FeedbackIn(BaseModel):
    decision_id: str = Field(min_length=1)
    quality: float = Field(ge=0.0, le=1.0, description="0 = useless … 1 = perfect")


class PolicyIn(BaseModel):
    tenant_id: str = "*"
    agent_id: str = "*"
    policy: dict[str, Any]


@router.get("/decisions")
async def list_decisions(
    tenant_id: str | None = None,
    agent_id: str | None = None,
    limit: int = Query(default=50, ge=1, le=1000),
    offset: int = Query(default=0, ge=0),
    r: Router = Depends(get_router),
) -> dict[str, Any]:
    found = await asyncio.to_thread(
        r.decisions, tenant_id=tenant_id, agent_id=agent_id, limit=limit, offset=offset
    )
    return {"decisions": [d.to_dict() for d in found]}


@router.get("/decisions/{decision_id}")
async def get_decision(decision_id: str, r: Router = Depends(get_router)) -> dict[str, Any]:
    decision = await asyncio.to_thread(r.get_decision, decision_id)
    if decision is None:
        raise NotFound(f"unknown decision {decision_id!r}", field="decision_id")
    return decision.to_dict()


@router.post("/feedback")
async def feedback(body: FeedbackIn, r: Router = Depends(get_router)) -> dict[str, Any]:
    decision = await asyncio.to_thread(r.feedback, body.decision_id, body.quality)
    return decision.to_dict()


@router.get("/stats")
def stats(
    tenant_id: str = "default", agent_id: str = "", r: Router = Depends(get_router)
) -> dict[str, Any]:
    return r.arm_stats(tenant_id, agent_id)


@router.get("/policies")
def policies(r: Router = Depends(get_router)) -> dict[str, Any]:
    return {"policies": r.policies()}


@router.put("/policies")
def set_policy(body: PolicyIn, r: Router = Depends(get_router)) -> dict[str, Any]:
    policy = r.set_policy(body.policy, tenant_id=body.tenant_id, agent_id=body.agent_id)
    return {"tenant_id": body.tenant_id, "agent_id": body.agent_id, "policy": policy.to_dict()}


@router.delete("/policies")
def delete_policy(
    tenant_id: str = "*", agent_id: str = "*", r: Router = Depends(get_router)
) -> dict[str, str]:
    r.delete_policy(tenant_id=tenant_id, agent_id=agent_id)
    return {"deleted": f"{tenant_id}/{agent_id}"}
