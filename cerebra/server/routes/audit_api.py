"""Audit API under /api/audit: the caller's tenant's chain, verified (incrementally, or whole
with `full=true`) or read page by page (with its signed checkpoints and head). Needs
`audit:read`; the tenant is the principal's, never a parameter, so no caller reads or learns
about another tenant's chain."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Query

from cerebra.auth.principal import Scope
from cerebra.brain import Brain
from cerebra.context import RequestContext
from cerebra.governance.audit_setup import trusted_keys
from cerebra.governance.audit_sinks import DatabaseAuditSink
from cerebra.governance.audit_verified import verify_tenant
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
    full: bool = Query(False, description="walk the whole chain, not only the entries after "
                       "the prefix verified before"),
    ctx: RequestContext = Depends(requires(Scope.AUDIT_READ)),
    brain: Brain = Depends(get_brain),
) -> dict[str, Any]:
    """Verify the tenant's chain: ok, counts and head, or the first bad entry. By default
    only the entries after the prefix an earlier verification found intact are walked
    (`mode` "incremental", from `verified_from`), once that prefix's last entry is found
    unchanged; a change inside the prefix shows only in a whole-chain walk (`full=true`,
    `mode` "full"), whose last outcome is `last_full`. See cerebra.governance.audit_verified."""
    source = DatabaseAuditSink(brain.engine)
    tenant = ctx.tenant_id

    def run() -> dict[str, Any]:
        _flushed(brain)
        return verify_tenant(source, tenant, trusted_keys=trusted_keys(brain.settings),
                             full=full).to_dict()

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
