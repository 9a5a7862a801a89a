"""Kept traces (issue 13, item 1): GET /api/traces (a page of the caller's traces, newest
first) and GET /api/traces/{trace_id} (one trace's span tree). A trace id is the one the
response of the traced request carried; reading them needs what reading interactions needs
(`interactions:read`), scoped like the ledger: the caller's tenant, and its own user for a
confined principal."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Path, Query

from cerebra.auth.principal import Scope
from cerebra.brain import Brain
from cerebra.context import RequestContext
from cerebra.errors import NotFound
from cerebra.observability.trace_store import trace_page, trace_tree
from cerebra.server.auth import requires
from cerebra.server.deps import get_brain
from cerebra.server.openapi_doc import error_response

router = APIRouter(prefix="/api/traces", tags=["traces"])


def _settled(brain: Brain) -> None:
    if brain.tracing is not None:  # the traces already finished are in the database
        brain.tracing.settle()


@router.get("")
async def list_traces(
    limit: int = Query(default=50, ge=1, le=500, description="traces per page"),
    before: float | None = Query(default=None, ge=0, le=1e11,
                                 description="UNIX seconds: traces started before (`next`)"),
    brain: Brain = Depends(get_brain),
    ctx: RequestContext = Depends(requires(Scope.INTERACTIONS_READ)),
) -> dict[str, Any]:
    def read() -> tuple[list[dict[str, Any]], float | None]:
        _settled(brain)
        return trace_page(brain.engine, ctx, limit=limit, before=before)

    page, after = await asyncio.to_thread(read)
    return {"traces": page, "next": after}


@router.get("/{trace_id}", responses={404: error_response(
    404, "no trace of the caller's with this id")})
async def one_trace(
    trace_id: str = Path(min_length=1, max_length=64),
    brain: Brain = Depends(get_brain),
    ctx: RequestContext = Depends(requires(Scope.INTERACTIONS_READ)),
) -> dict[str, Any]:
    def read() -> dict[str, Any] | None:
        _settled(brain)
        return trace_tree(brain.engine, ctx, trace_id)

    found = await asyncio.to_thread(read)
    if found is None:
        raise NotFound(f"no trace with id {trace_id!r}", field="trace_id")
    return found
