"""Limits and budgets over HTTP: /api/limits — the caller's tenant's, its keys' and its
users' stored limits and those in force (admins with limits:admin set them; a key or user
of another tenant is not found). A user's limits hold for its token and wallet sign-ins.
Changes apply at once in this server, in others within limits.cache_s."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field

from cerebra.auth.limit_store import LimitStore
from cerebra.auth.limits import Limits
from cerebra.auth.limits_guard import LimitsGuard
from cerebra.auth.principal import Scope
from cerebra.brain import Brain
from cerebra.context import RequestContext
from cerebra.governance.audit_setup import record_action
from cerebra.server.auth import requires
from cerebra.server.deps import get_brain
from cerebra.server.request_schemas import WHOLE

router = APIRouter(prefix="/api/limits", tags=["limits"])


class LimitsIn(BaseModel):
    """Limits to store (replacing what was stored); a limit left out uses the default,
    0 means unlimited."""

    model_config = ConfigDict(extra="forbid")

    requests_per_min: Annotated[int, Field(ge=0, le=10**9, strict=True), WHOLE] | None = None
    tokens_per_min: Annotated[int, Field(ge=0, le=10**12, strict=True), WHOLE] | None = None
    daily_budget: float | None = Field(default=None, ge=0, le=1e9, strict=True)
    monthly_budget: float | None = Field(default=None, ge=0, le=1e9, strict=True)


def _store(brain: Brain) -> LimitStore:
    """The limits guard's own store (so its cache learns at once), else a new one."""
    for guard in brain.guards:
        if isinstance(guard, LimitsGuard):
            return guard.store
    return LimitStore(brain.engine)


def _view(stored: Limits, effective: Limits) -> dict[str, Any]:
    return {"stored": stored.to_dict(), "effective": effective.to_dict()}


@router.get("/tenant")
async def tenant_limits(
    ctx: RequestContext = Depends(requires(Scope.LIMITS_ADMIN)),
    brain: Brain = Depends(get_brain),
) -> dict[str, Any]:
    store = _store(brain)
    return await asyncio.to_thread(
        lambda: _view(store.tenant_limits(ctx.tenant_id), store.for_tenant(ctx.tenant_id)))


@router.put("/tenant")
async def set_tenant_limits(
    body: LimitsIn,
    ctx: RequestContext = Depends(requires(Scope.LIMITS_ADMIN)),
    brain: Brain = Depends(get_brain),
) -> dict[str, Any]:
    store = _store(brain)
    stored = await asyncio.to_thread(
        store.set_tenant_limits, ctx.tenant_id, body.model_dump(exclude_none=True))
    record_action(brain.audit, ctx, "limits.set", f"tenant:{ctx.tenant_id}",
                  details=stored.to_dict())
    return _view(stored, store.for_tenant(ctx.tenant_id))


@router.get("/keys/{key_id}")
async def key_limits(
    key_id: str,
    ctx: RequestContext = Depends(requires(Scope.LIMITS_ADMIN)),
    brain: Brain = Depends(get_brain),
) -> dict[str, Any]:
    store = _store(brain)
    from cerebra.auth.identity import IdentityStore

    await asyncio.to_thread(IdentityStore(brain.engine).get_key, ctx.tenant_id, key_id)  # 404
    return await asyncio.to_thread(lambda: _view(store.key_limits(ctx.tenant_id, key_id),
                                                 store.for_key(ctx.tenant_id, key_id)))


@router.put("/keys/{key_id}")
async def set_key_limits(
    key_id: str,
    body: LimitsIn,
    ctx: RequestContext = Depends(requires(Scope.LIMITS_ADMIN)),
    brain: Brain = Depends(get_brain),
) -> dict[str, Any]:
    store = _store(brain)
    stored = await asyncio.to_thread(
        store.set_key_limits, ctx.tenant_id, key_id, body.model_dump(exclude_none=True))
    record_action(brain.audit, ctx, "limits.set", key_id, details=stored.to_dict())
    return _view(stored, store.for_key(ctx.tenant_id, key_id))


@router.get("/users/{user_id}", responses={404: {"description": "no such user here"}})
async def user_limits(
    user_id: Annotated[str, Path(max_length=64)],
    ctx: RequestContext = Depends(requires(Scope.LIMITS_ADMIN)),
    brain: Brain = Depends(get_brain),
) -> dict[str, Any]:
    """A user's limits: what is stored and what holds for its token and wallet sign-ins."""
    store = _store(brain)
    from cerebra.auth.identity import IdentityStore

    await asyncio.to_thread(IdentityStore(brain.engine).get_user, ctx.tenant_id, user_id)
    return await asyncio.to_thread(lambda: _view(store.user_limits(ctx.tenant_id, user_id),
                                                 store.for_user(ctx.tenant_id, user_id)))


@router.put("/users/{user_id}", responses={404: {"description": "no such user here"}})
async def set_user_limits(
    user_id: Annotated[str, Path(max_length=64)],
    body: LimitsIn,
    ctx: RequestContext = Depends(requires(Scope.LIMITS_ADMIN)),
    brain: Brain = Depends(get_brain),
) -> dict[str, Any]:
    """Store a user's limits (replacing what was stored for it)."""
    store = _store(brain)
    stored = await asyncio.to_thread(
        store.set_user_limits, ctx.tenant_id, user_id, body.model_dump(exclude_none=True))
    record_action(brain.audit, ctx, "limits.set", f"user:{user_id}", details=stored.to_dict())
    return _view(stored, store.for_user(ctx.tenant_id, user_id))
