"""Learned retrieval weights over HTTP (issue 12, item 6): `GET /api/memory/weights` shows
what a scope searches with (the tenant's, or an agent's, learned from feedback), the
defaults and the versions; `POST /api/memory/weights/reset` returns a scope to the defaults
and `POST /api/memory/weights/rollback` restores an earlier version — both change recall for
every user of the tenant, so they need memory:any_user (operators and admins). Everything
is the caller's tenant's; an agent-confined caller sees only its own agent's weights.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from cerebra.auth.principal import Scope
from cerebra.brain import Brain
from cerebra.context import RequestContext, tenant_of
from cerebra.governance.audit_setup import record_action
from cerebra.memory.learned_weights import LearnedWeights
from cerebra.server.auth import requires
from cerebra.server.deps import get_brain
from cerebra.server.request_schemas import WHOLE

router = APIRouter(prefix="/api/memory/weights", tags=["memory"])

Name = Annotated[str, Field(max_length=200)]


class ResetIn(BaseModel):
    agent_id: Name | None = Field(default=None, description="null: the tenant's weights")


class RollbackIn(ResetIn):
    version: Annotated[int, Field(ge=1, le=2**31 - 1, strict=True,
                                  description="the version of this scope's weights to restore"),
                       WHOLE]  # 3 and 3.0 alike (JSON Schema's integer), never "3" or true


def _learned(brain: Brain) -> LearnedWeights:
    """The brain's learned weights; with learning off, a view of the same versions."""
    learned = brain.memory.learned
    return learned if learned is not None else LearnedWeights.on(brain.engine,
                                                                 brain.memory.weights)


def _agent(brain: Brain, agent_id: str | None, ctx: RequestContext) -> str:
    """The agent the caller may act for (an agent-confined caller: its own; 403 else)."""
    return brain.memory.scope(agent_id, context=ctx).agent_id or ""


@router.get("")
async def show_weights(
    agent_id: str | None = Query(default=None, max_length=200,
                                 description="an agent's weights; none: the tenant's"),
    history: int = Query(default=20, ge=0, le=1000, description="versions listed"),
    brain: Brain = Depends(get_brain),
    ctx: RequestContext = Depends(requires(Scope.MEMORY_READ)),
) -> dict[str, Any]:
    agent = _agent(brain, agent_id, ctx)
    shown = await asyncio.to_thread(_learned(brain).describe, tenant_of(ctx), agent,
                                    history=history)
    return {"learning": brain.memory.learned is not None, **shown}


@router.post("/reset")
async def reset_weights(
    body: ResetIn,
    brain: Brain = Depends(get_brain),
    ctx: RequestContext = Depends(requires(Scope.MEMORY_ANY_USER)),
) -> dict[str, Any]:
    agent = _agent(brain, body.agent_id, ctx)
    version = await asyncio.to_thread(_learned(brain).reset, tenant_of(ctx), agent)
    record_action(brain.audit, ctx, "memory.weights.reset", agent or "*",
                  details={"version": version.version})
    return version.to_dict()


@router.post("/rollback")
async def rollback_weights(
    body: RollbackIn,
    brain: Brain = Depends(get_brain),
    ctx: RequestContext = Depends(requires(Scope.MEMORY_ANY_USER)),
) -> dict[str, Any]:
    agent = _agent(brain, body.agent_id, ctx)
    version = await asyncio.to_thread(_learned(brain).rollback, tenant_of(ctx), agent,
                                      body.version)
    record_action(brain.audit, ctx, "memory.weights.rollback", agent or "*",
                  details={"version": version.version, "restored": body.version})
    return version.to_dict()
