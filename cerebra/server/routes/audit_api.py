"""Audit API under /api/audit: the caller's tenant's chain, verified or read page by page
(with its signed checkpoints and head). Needs `audit:read`; the tenant is the principal's,
never a parameter, so no caller reads or learns about another tenant's chain."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Query

from cerebra.auth.principal import Scope
from cerebra.brain import Brain
from cerebra.context import RequestContext
from cerebra.governance.audit_setup import trusted_keys
from cerebra.governance.audit_sinks import DatabaseAuditSink
from cerebra.governance.audit_verify import verify_chain
from cerebra.server.auth import requires
from cerebra.server.deps import get_brain

router = APIRouter(prefix="/api/audit", tags=["audit"])


def _flushed(brain: Brain) -> None:
    """Read your writes: what this process recorded is in the database before a read (the
    writer gathers events for audit.linger_s; the journal holds them meanwhile)."""
    if brain.audit is not None:
        brain.audit.flush(10.0)


@router.get("/verify")
async def verify(
    ctx: RequestContext = Depends(requires(Scope.AUDIT_READ)),
    brain: Brain = Depends(get_brain),
) -> dict[str, Any]:
    """Verify the tenant's chain: ok, counts and head, or the first bad entry."""
    source = DatabaseAuditSink(brain.engine)
    tenant = ctx.tenant_id

    def run() -> dict[str, Any]:
        _flushed(brain)
        report = verify_chain(tenant, source.entries(tenant), source.checkpoints(tenant),
                              head=source.head(tenant), hashes=source.hashes(tenant),
                              trusted_keys=trusted_keys(brain.settings))
        problem = report.problem
        return {"ok": report.ok, "entries": report.entries,
                "checkpoints": report.checkpoints, "head": report.head_hash,
                "problem": None if problem is None else {
                    "seq": problem.seq, "kind": problem.kind, "message": problem.message}}

    return await asyncio.to_thread(run)


@router.get("/entries")
async def entries(
    after: int = Query(0, ge=0, le=2**63 - 1, description="entries after this seq"),
    limit: int = Query(500, ge=1, le=5000),
    ctx: RequestContext = Depends(requires(Scope.AUDIT_READ)),
    brain: Brain = Depends(get_brain),
) -> dict[str, Any]:
    """A page of the tenant's chain (entries with seq > after), the checkpoints among them
    and the chain's head; `next` is the `after` of the next page (null at the end)."""
    source = DatabaseAuditSink(brain.engine)
    tenant = ctx.tenant_id

    def run() -> dict[str, Any]:
        _flushed(brain)
        head = source.head(tenant) or (0, "")
        page = [e.to_line() for e in source.entries(tenant, after=after, limit=limit)]
        last = page[-1]["seq"] if page else after
        signed = [c.to_line() for c in source.checkpoints(tenant) if after < c.seq <= last]
        return {"head": {"seq": head[0], "hash": head[1]}, "entries": page,
                "checkpoints": signed, "next": last if len(page) == limit else None}

    return await asyncio.to_thread(run)
