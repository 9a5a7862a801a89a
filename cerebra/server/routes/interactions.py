"""Interactions and feedback: /api/interactions (the ledger) and POST /api/feedback."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from cerebra.auth.principal import Scope
from cerebra.brain import Brain
from cerebra.context import RequestContext
from cerebra.errors import NotFound
from cerebra.server.auth import requires
from cerebra.server.deps import get_brain

router = APIRouter(prefix="/api", tags=["interactions"])


class FeedbackIn(BaseModel):
    trace_id: str = Field(min_length=1)
    quality: float = Field(ge=0.0, le=1.0, description="0 = useless … 1 = perfect")
    comment: str | None = Field(default=None, max_length=2000)


@router.post("/feedback")
async def feedback(
    body: FeedbackIn,
    brain: Brain = Depends(get_brain),
    ctx: RequestContext = Depends(requires(Scope.FEEDBACK)),
) -> dict[str, Any]:
    return await asyncio.to_thread(
        lambda: brain.feedback(body.trace_id, body.quality, body.comment, context=ctx)
    )


@router.get("/interactions")
async def recent(
    limit: int = Query(default=20, ge=1, le=500),
    brain: Brain = Depends(get_brain),
    ctx: RequestContext = Depends(requires(Scope.INTERACTIONS_READ)),
) -> dict[str, Any]:
    rows = await asyncio.to_thread(lambda: brain.ledger.recent(limit, context=ctx))
    return {"interactions": rows}


@router.get("/interactions/{trace_id}")
async def one(
    trace_id: str,
    brain: Brain = Depends(get_brain),
    ctx: RequestContext = Depends(requires(Scope.INTERACTIONS_READ)),
) -> dict[str, Any]:
    row = await asyncio.to_thread(lambda: brain.ledger.get(trace_id, context=ctx))
    if row is None:
        raise NotFound(f"no interaction with trace id {trace_id!r}", field="trace_id")
    return row
