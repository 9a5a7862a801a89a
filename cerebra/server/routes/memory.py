"""Memory API: /api/memory — add, search, list, get, delete."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from cerebra.brain import Brain
from cerebra.errors import NotFound
from cerebra.server.deps import get_brain

router = APIRouter(prefix="/api/memory", tags=["memory"])


class MemoryIn(BaseModel):
    text: str = Field(min_length=1)
    agent_id: str = ""
    user_id: str = ""
    session_id: str = ""
    tags: list[str] = Field(default_factory=list)
    importance: float = Field(default=0.5, ge=0.0, le=1.0)
    metadata: dict[str, Any] = Field(default_factory=dict)
    ttl: float | None = Field(default=None, gt=0)


class SearchIn(BaseModel):
    query: str = Field(min_length=1)
    agent_id: str | None = None
    user_id: str | None = None
    session_id: str | None = None
    k: int = Field(default=5, ge=1, le=200)
    tags: list[str] = Field(default_factory=list)
    explain: bool = False


@router.post("", status_code=201)
async def add_memory(body: MemoryIn, brain: Brain = Depends(get_brain)) -> dict[str, Any]:
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
    )
    return {"id": uid}


@router.post("/search")
async def search_memory(body: SearchIn, brain: Brain = Depends(get_brain)) -> dict[str, Any]:
    hits = await asyncio.to_thread(
        brain.memory.search,
        body.agent_id,
        body.query,
        k=body.k,
        user_id=body.user_id,
        session_id=body.session_id,
        tags=body.tags,
    )
    return {"hits": [h.to_dict(explain=body.explain) for h in hits]}


@router.get("")
async def list_memories(
    agent_id: str | None = None,
    user_id: str | None = None,
    limit: int = Query(default=20, ge=1, le=1000),
    brain: Brain = Depends(get_brain),
) -> dict[str, Any]:
    items = await asyncio.to_thread(brain.memory.recent, agent_id, k=limit, user_id=user_id)
    return {"memories": [m.to_dict() for m in items]}


@router.get("/{memory_id}")
async def get_memory(memory_id: str, brain: Brain = Depends(get_brain)) -> dict[str, Any]:
    memory = await asyncio.to_thread(brain.memory.get, memory_id)
    if memory is None:
        raise NotFound(f"memory {memory_id} not found", field="memory_id")
    return memory.to_dict()


@router.delete("/{memory_id}")
async def delete_memory(memory_id: str, brain: Brain = Depends(get_brain)) -> dict[str, Any]:
    if not await asyncio.to_thread(brain.memory.delete, memory_id):
        raise NotFound(f"memory {memory_id} not found", field="memory_id")
    return {"deleted": memory_id}
