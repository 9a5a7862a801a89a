"""Interactions and feedback: /api/interactions (the ledger) and POST /api/feedback."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from cerebra.auth.principal import Scope
from cerebra.brain import Brain
from cerebra.context import RequestContext
from cerebra.errors import NotFound
from cerebra.feedback import apply_feedback
from cerebra.improve.signals import MAX_TASK, MAX_TEXT
from cerebra.server.auth import requires
from cerebra.server.deps import get_brain
from cerebra.server.openapi_doc import error_response

router = APIRouter(prefix="/api", tags=["interactions"])


def _something_to_record(schema: dict[str, Any]) -> None:
    """FeedbackIn: a quality, thumbs, a correction or a label (each not null)."""
    kinds = {"quality": {"type": "number"}, "thumbs": {"enum": ["up", "down"]},
             "correction": {"type": "string"}, "label": {"type": "string"}}
    schema["anyOf"] = [{"required": [name], "properties": {name: rule}}
                       for name, rule in kinds.items()]


class FeedbackIn(BaseModel):
    model_config = ConfigDict(json_schema_extra=_something_to_record)

    trace_id: str = Field(min_length=1, max_length=64)
    quality: float | None = Field(default=None, ge=0.0, le=1.0,
                                  description="0 = useless … 1 = perfect")
    comment: str | None = Field(default=None, max_length=2000)
    # issue 11 (A1): each is also a signal on the trace; one of quality/thumbs/correction/label
    thumbs: Literal["up", "down"] | None = Field(
        default=None, description="up = 1, down = 0 (the quality, when none is given)")
    correction: str | None = Field(default=None, min_length=1, max_length=MAX_TEXT,
                                   pattern=r"\S",
                                   description="the answer that should have been given")
    label: str | None = Field(default=None, min_length=1, max_length=MAX_TASK, pattern=r"\S",
                              description="the task this exchange belongs to")


@router.post("/feedback", responses={404: error_response(
    404, "no interaction of the caller's tenant has this trace id")})
async def feedback(
    body: FeedbackIn,
    brain: Brain = Depends(get_brain),
    ctx: RequestContext = Depends(requires(Scope.FEEDBACK)),
) -> dict[str, Any]:
    """Rate an answer once (quality or thumbs), and/or correct or label it: each a signal."""
    thumbs = None if body.thumbs is None else body.thumbs == "up"
    return await asyncio.to_thread(
        lambda: apply_feedback(brain.ledger, brain.memory, brain.router, body.trace_id,
                               body.quality, body.comment, context=ctx, thumbs=thumbs,
                               correction=body.correction, label=body.label)
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
