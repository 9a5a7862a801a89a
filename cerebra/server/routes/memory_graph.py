"""GET /api/memory/graph: the knowledge graph of the caller's memories (cerebra.memory.graph).

One route, three views by its query: the shortest chain of entities linking two (`path`,
given twice: `?path=Bo&path=Sweden`); else one entity with its neighbours, relations and
memory ids (`entity`); else the scope's entities with how many memories mention each. A
request that names both a path and an entity gets the path (each parameter stands alone,
so the schema states every rule).
Scoped like every memory read: the caller's tenant, and the user / agent it is confined
to; an entity with no mention in that scope is 404, as is another tenant's.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import StringConstraints

from cerebra.auth.principal import Scope
from cerebra.brain import Brain
from cerebra.context import RequestContext
from cerebra.memory.graph import MAX_HOPS, MAX_LIMIT, graph_of
from cerebra.server.auth import requires
from cerebra.server.deps import get_brain

router = APIRouter(prefix="/api/memory", tags=["memory"])

Kind = Literal["person", "name", "date", "number", "thing"]
EntityName = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"\S")]


@router.get("/graph")
async def memory_graph(
    agent_id: str | None = Query(default=None, max_length=200),
    user_id: str | None = Query(default=None, max_length=200),
    session_id: str | None = Query(default=None, max_length=200),
    entity: EntityName | None = Query(default=None, description="an entity's name or key"),
    path: list[EntityName] | None = Query(
        default=None, min_length=2, max_length=2, description="two entities: the path's ends"
    ),
    kind: Kind | None = Query(default=None, description="entities list: only this kind"),
    like: EntityName | None = Query(default=None, description="entities list: key contains"),
    limit: int = Query(default=50, ge=1, le=MAX_LIMIT),
    max_hops: int = Query(default=4, ge=1, le=MAX_HOPS),
    brain: Brain = Depends(get_brain),
    ctx: RequestContext = Depends(requires(Scope.MEMORY_READ)),
) -> dict[str, Any]:
    """A path between two entities, an entity's neighbours and memories, or the entities."""
    scope = brain.memory.scope(agent_id, user_id=user_id, session_id=session_id, context=ctx)
    graph = graph_of(brain.memory.backend)
    if path is not None:
        source, target = path
        found = await asyncio.to_thread(graph.path, scope, source, target, max_hops=max_hops)
        return {"path": found}
    if entity is not None:
        return {"entity": await asyncio.to_thread(graph.entity, scope, entity, limit=limit)}
    rows = await asyncio.to_thread(graph.entities, scope, limit=limit, kind=kind, like=like)
    return {"entities": rows}
