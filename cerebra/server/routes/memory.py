"""Memory API under /api/memory: the MemoryStore operations over HTTP, one route each.

Routes parse input and call `brain.memory`; validation beyond shapes (text, filters, TTL)
happens in the store and surfaces as InvalidInput → 422 with the offending field.
"""

from __future__ import annotations

import asyncio
import re
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator

from cerebra.auth.principal import Scope
from cerebra.brain import Brain
from cerebra.context import RequestContext
from cerebra.errors import InvalidInput, NotFound
from cerebra.governance.audit_setup import record_action
from cerebra.server.auth import requires
from cerebra.server.deps import get_brain
from cerebra.server.request_schemas import filter_schema, scope_or_confirm

router = APIRouter(prefix="/api/memory", tags=["memory"])

# the limits the store enforces, stated where the schema shows them (422 either way)
Text = Annotated[str, Field(min_length=1, max_length=20_000, pattern=r"\S",
                            description="not blank; at most memory.max_chars (20,000)")]
Tag = Annotated[str, Field(min_length=1, max_length=200, pattern=r"\S")]
Name = Annotated[str, Field(max_length=200)]
Seconds = Annotated[float, Field(gt=0, strict=True)]
UnixTime = Annotated[float, Field(ge=0, le=253_402_300_799, strict=True)]  # to 9999-12-31
# a moment for "as of" recall: an ISO 8601 date (the end of that day), a datetime or a
# UNIX time (anything else: 422 naming as_of)
AsOf = date | datetime | UnixTime
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?")
# cerebra.memory.filters' language (the store checks it: 422 naming the field)
Filters = Annotated[dict[str, Any], WithJsonSchema(filter_schema())]


class ScopeIn(BaseModel):
    agent_id: Name | None = None
    user_id: Name | None = None
    session_id: Name | None = None


class ItemIn(BaseModel):
    text: Text
    tags: list[Tag] = Field(default_factory=list)
    importance: float = Field(default=0.5, ge=0.0, le=1.0, strict=True)
    metadata: dict[str, Any] = Field(default_factory=dict)
    ttl: Seconds | None = None
    expires_at: UnixTime | None = None
    created_at: UnixTime | None = None


class MemoryIn(ItemIn):
    agent_id: Name = ""
    user_id: Name = ""
    session_id: Name = ""


class BatchIn(BaseModel):
    agent_id: Name = ""
    user_id: Name = ""
    session_id: Name = ""
    items: list[ItemIn] = Field(min_length=1, max_length=10_000)


class SearchIn(ScopeIn):
    query: Text
    k: int = Field(default=5, ge=1, le=200)
    tags: list[Tag] = Field(default_factory=list)
    filters: Filters | None = None
    explain: bool = Field(default=False, strict=True)
    # recall as of this moment: the facts valid then rank first (facts in time)
    as_of: AsOf | None = None

    @field_validator("as_of", mode="before")
    @classmethod
    def _as_of_shape(cls, value: Any) -> Any:
        """Only what the schema states: an ISO date or datetime text, or a UNIX time in
        range (pydantic would also read other numbers and digit strings as dates)."""
        if isinstance(value, str) and not _ISO.fullmatch(value):
            raise ValueError("as_of must be an ISO 8601 date or datetime")
        if isinstance(value, int | float) and not isinstance(value, bool) and not (
            0 <= value <= 253_402_300_799
        ):
            raise ValueError("as_of must be a UNIX time between 0 and 9999-12-31")
        return value


class ListIn(ScopeIn):
    k: int = Field(default=20, ge=1, le=1000)
    filters: Filters | None = None


class UpdateIn(BaseModel):
    text: Text | None = None
    tags: list[Tag] | None = None
    metadata: dict[str, Any] | None = None
    importance: float | None = Field(default=None, ge=0.0, le=1.0, strict=True)
    ttl: Seconds | None = None
    expires_at: UnixTime | None = None
    clear_expiry: bool = Field(default=False, strict=True)


class FeedbackIn(BaseModel):
    memory_ids: list[str] = Field(min_length=1, max_length=10_000)
    reward: float = Field(ge=-1.0, le=1.0, strict=True)


class PruneIn(ScopeIn):
    threshold: float = Field(default=0.5, ge=0.0, le=1.0, strict=True)
    ttl: Seconds | None = None


class DeleteAllIn(ScopeIn):
    model_config = ConfigDict(json_schema_extra=scope_or_confirm)

    confirm_all: bool = Field(default=False, strict=True)


def _item(body: ItemIn) -> dict[str, Any]:
    return body.model_dump(exclude_none=True)


@router.post("", status_code=201)
async def add_memory(
    body: MemoryIn,
    brain: Brain = Depends(get_brain),
    ctx: RequestContext = Depends(requires(Scope.MEMORY_WRITE)),
) -> dict[str, Any]:
    uid = await asyncio.to_thread(
        brain.memory.add,
        body.agent_id,
        body.text,
        tags=body.tags,
        importance=body.importance,
        metadata=body.metadata,
        user_id=body.user_id,
        session_id=body.session_id,
        ttl=body.ttl,
        expires_at=body.expires_at,
        created_at=body.created_at,
        context=ctx,
    )
    return {"id": uid}


@router.post("/batch", status_code=201)
async def add_batch(
    body: BatchIn,
    brain: Brain = Depends(get_brain),
    ctx: RequestContext = Depends(requires(Scope.MEMORY_WRITE)),
) -> dict[str, Any]:
    ids = await asyncio.to_thread(
        brain.memory.add_many,
        body.agent_id,
        [_item(i) for i in body.items],
        user_id=body.user_id,
        session_id=body.session_id,
        context=ctx,
    )
    return {"ids": ids}


@router.post("/search")
async def search_memory(
    body: SearchIn,
    brain: Brain = Depends(get_brain),
    ctx: RequestContext = Depends(requires(Scope.MEMORY_READ)),
) -> dict[str, Any]:
    hits = await asyncio.to_thread(
        brain.memory.search,
        body.agent_id,
        body.query,
        k=body.k,
        user_id=body.user_id,
        session_id=body.session_id,
        tags=body.tags,
        filters=body.filters,
        explain=body.explain,
        context=ctx,
        as_of=body.as_of.isoformat() if isinstance(body.as_of, date) else body.as_of,
    )
    return {"hits": [h.to_dict(explain=body.explain) for h in hits]}


@router.post("/similar")
async def similar_memory(
    body: SearchIn,
    brain: Brain = Depends(get_brain),
    ctx: RequestContext = Depends(requires(Scope.MEMORY_READ)),
) -> dict[str, Any]:
    hits = await asyncio.to_thread(
        brain.memory.similar,
        body.agent_id,
        body.query,
        k=body.k,
        tags=body.tags,
        filters=body.filters,
        user_id=body.user_id,
        session_id=body.session_id,
        context=ctx,
    )
    return {"hits": [h.to_dict(explain=body.explain) for h in hits]}


@router.post("/recent")
async def recent_memories(
    body: ListIn,
    brain: Brain = Depends(get_brain),
    ctx: RequestContext = Depends(requires(Scope.MEMORY_READ)),
) -> dict[str, Any]:
    items = await asyncio.to_thread(
        brain.memory.recent,
        body.agent_id,
        k=body.k,
        filters=body.filters,
        user_id=body.user_id,
        session_id=body.session_id,
        context=ctx,
    )
    return {"memories": [m.to_dict() for m in items]}


@router.get("")
async def list_memories(
    agent_id: str | None = Query(default=None, max_length=200),
    user_id: str | None = Query(default=None, max_length=200),
    session_id: str | None = Query(default=None, max_length=200),
    tag: str | None = Query(default=None, min_length=1, max_length=200, pattern=r"\S"),
    limit: int = Query(default=20, ge=1, le=1000),
    brain: Brain = Depends(get_brain),
    ctx: RequestContext = Depends(requires(Scope.MEMORY_READ)),
) -> dict[str, Any]:
    if tag is not None:
        items = await asyncio.to_thread(
            brain.memory.by_tag,
            agent_id,
            tag,
            k=limit,
            user_id=user_id,
            session_id=session_id,
            context=ctx,
        )
    else:
        items = await asyncio.to_thread(
            brain.memory.recent,
            agent_id,
            k=limit,
            user_id=user_id,
            session_id=session_id,
            context=ctx,
        )
    return {"memories": [m.to_dict() for m in items]}


@router.post("/feedback")
async def feedback(
    body: FeedbackIn,
    brain: Brain = Depends(get_brain),
    ctx: RequestContext = Depends(requires(Scope.MEMORY_WRITE)),
) -> dict[str, Any]:
    n = await asyncio.to_thread(brain.memory.reinforce, body.memory_ids, body.reward, context=ctx)
    return {"updated": n}


@router.post("/prune")
async def prune(
    body: PruneIn,
    brain: Brain = Depends(get_brain),
    ctx: RequestContext = Depends(requires(Scope.MEMORY_WRITE)),
) -> dict[str, Any]:
    n = await asyncio.to_thread(
        brain.memory.prune,
        body.agent_id,
        threshold=body.threshold,
        ttl=body.ttl,
        user_id=body.user_id,
        session_id=body.session_id,
        context=ctx,
    )
    return {"deleted": n}


@router.post("/delete_all")
async def delete_all(
    body: DeleteAllIn,
    brain: Brain = Depends(get_brain),
    ctx: RequestContext = Depends(requires(Scope.MEMORY_WRITE)),
) -> dict[str, Any]:
    unscoped = body.agent_id is None and body.user_id is None and body.session_id is None
    if unscoped and not body.confirm_all:
        raise InvalidInput(
            "give agent_id, user_id or session_id, or confirm_all=true to delete the "
            "whole tenant's memories",
            field="confirm_all",
        )
    n = await asyncio.to_thread(
        brain.memory.delete_all,
        body.agent_id,
        user_id=body.user_id,
        session_id=body.session_id,
        context=ctx,
    )
    record_action(brain.audit, ctx, "memory.delete", "all", details={
        **body.model_dump(exclude={"confirm_all"}), "deleted": n})
    return {"deleted": n}


@router.get("/{memory_id}")
async def get_memory(
    memory_id: str,
    brain: Brain = Depends(get_brain),
    ctx: RequestContext = Depends(requires(Scope.MEMORY_READ)),
) -> dict[str, Any]:
    memory = await asyncio.to_thread(brain.memory.get, memory_id, context=ctx)
    if memory is None:
        raise NotFound(f"memory {memory_id} not found", field="memory_id")
    return memory.to_dict()


@router.patch("/{memory_id}")
async def update_memory(
    memory_id: str,
    body: UpdateIn,
    brain: Brain = Depends(get_brain),
    ctx: RequestContext = Depends(requires(Scope.MEMORY_WRITE)),
) -> dict[str, Any]:
    """Change the fields given; a patch that changes nothing (`{}`, nulls, clear_expiry
    false) answers the memory as it is, like an empty JSON merge patch (RFC 7396)."""
    changes = body.model_dump(exclude_none=True)
    if not body.clear_expiry and not changes.keys() - {"clear_expiry"}:
        return await get_memory(memory_id, brain, ctx)
    memory = await asyncio.to_thread(brain.memory.update, memory_id, **changes, context=ctx)
    return memory.to_dict()


@router.get("/{memory_id}/history")
async def memory_history(
    memory_id: str,
    brain: Brain = Depends(get_brain),
    ctx: RequestContext = Depends(requires(Scope.MEMORY_READ)),
) -> dict[str, Any]:
    versions = await asyncio.to_thread(brain.memory.history, memory_id, context=ctx)
    memory = await asyncio.to_thread(brain.memory.get, memory_id, context=ctx)
    if not versions:
        raise NotFound(f"memory {memory_id} not found", field="memory_id")
    # facts in time: whether (and by which memory) what it states was superseded
    validity = {k: v for k, v in (memory.to_dict() if memory else {}).items()
                if k in ("valid_from", "valid_to", "superseded_by", "facts")}
    return {"versions": [v.to_dict() for v in versions], "validity": validity}


@router.delete("/{memory_id}")
async def delete_memory(
    memory_id: str,
    brain: Brain = Depends(get_brain),
    ctx: RequestContext = Depends(requires(Scope.MEMORY_WRITE)),
) -> dict[str, Any]:
    if not await asyncio.to_thread(brain.memory.delete, memory_id, context=ctx):
        raise NotFound(f"memory {memory_id} not found", field="memory_id")
    record_action(brain.audit, ctx, "memory.delete", memory_id)
    return {"deleted": memory_id}
