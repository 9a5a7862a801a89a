"""Identity administration over HTTP: /api/keys (create — the secret shown once —, list,
revoke), /api/users and /api/tenants. Admin-only; keys and users are always the caller's
tenant's (another tenant's key id is not found); creating tenants is for admins of the
default tenant (the operator of the site)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from cerebra.auth.identity import IdentityStore
from cerebra.auth.principal import Role, Scope
from cerebra.brain import Brain
from cerebra.context import DEFAULT_TENANT, RequestContext
from cerebra.errors import Forbidden
from cerebra.governance.audit_setup import record_action
from cerebra.server.auth import Authenticator, requires
from cerebra.server.deps import get_authenticator, get_brain
from cerebra.server.request_schemas import keys_by_role

router = APIRouter(prefix="/api", tags=["admin"])

RoleName = Role


class KeyIn(BaseModel):
    # a tenant_id in the body is refused; the schema names each role's grantable scopes
    model_config = ConfigDict(extra="forbid", json_schema_extra=keys_by_role)

    role: RoleName = Role.USER
    scopes: list[Scope] | None = Field(default=None, max_length=len(Scope))
    user_id: str | None = Field(default=None, min_length=1, max_length=200)
    name: str = Field(default="", max_length=200)
    agent_id: str = Field(default="", max_length=200)
    expires_in_s: float | None = Field(default=None, gt=0, le=10 * 365 * 86400)


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=200, pattern=r"^[^\s\x00-\x1f]+$")
    password: str = Field(min_length=8, max_length=1024)
    roles: list[RoleName] = Field(default_factory=lambda: [Role.USER], min_length=1,
                                  max_length=len(Role))


class TenantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    name: str | None = Field(default=None, max_length=200)
    admin_key: bool = Field(default=False, strict=True)


def _identity(auth: Authenticator) -> IdentityStore:
    return auth.identity


@router.post("/keys", status_code=201)
async def create_key(
    body: KeyIn,
    ctx: RequestContext = Depends(requires(Scope.KEYS_ADMIN)),
    auth: Authenticator = Depends(get_authenticator),
    brain: Brain = Depends(get_brain),
) -> dict[str, Any]:
    """A new key of the caller's tenant; `key` is the secret, shown only in this answer."""
    secret, record = await asyncio.to_thread(
        lambda: _identity(auth).create_key(
            ctx.tenant_id, role=body.role, scopes=body.scopes, user_id=body.user_id,
            name=body.name, agent_id=body.agent_id, expires_in_s=body.expires_in_s))
    record_action(brain.audit, ctx, "key.create", record.id,
                  details={"roles": list(record.roles), "user_id": record.user_id})
    return {"key": secret, **record.to_dict()}


@router.get("/keys")
async def list_keys(
    ctx: RequestContext = Depends(requires(Scope.KEYS_ADMIN)),
    auth: Authenticator = Depends(get_authenticator),
) -> dict[str, Any]:
    keys = await asyncio.to_thread(_identity(auth).list_keys, ctx.tenant_id)
    return {"keys": [k.to_dict() for k in keys]}


@router.delete("/keys/{key_id}")
async def revoke_key(
    key_id: str,
    ctx: RequestContext = Depends(requires(Scope.KEYS_ADMIN)),
    auth: Authenticator = Depends(get_authenticator),
    brain: Brain = Depends(get_brain),
) -> dict[str, Any]:
    """Revoke a key of the caller's tenant; this server refuses it from now on."""
    record = await asyncio.to_thread(_identity(auth).revoke_key, ctx.tenant_id, key_id)
    auth.forget(key_id)
    record_action(brain.audit, ctx, "key.revoke", record.id)
    return record.to_dict()


@router.post("/users", status_code=201)
async def create_user(
    body: UserIn,
    ctx: RequestContext = Depends(requires(Scope.USERS_ADMIN)),
    auth: Authenticator = Depends(get_authenticator),
    brain: Brain = Depends(get_brain),
) -> dict[str, Any]:
    user = await asyncio.to_thread(
        lambda: _identity(auth).create_user(ctx.tenant_id, body.username, body.password,
                                            roles=[r.value for r in body.roles]))
    record_action(brain.audit, ctx, "user.create", user.id, details={"roles": list(user.roles)})
    return user.to_dict()


@router.get("/users")
async def list_users(
    ctx: RequestContext = Depends(requires(Scope.USERS_ADMIN)),
    auth: Authenticator = Depends(get_authenticator),
) -> dict[str, Any]:
    found = await asyncio.to_thread(_identity(auth).list_users, ctx.tenant_id)
    return {"users": [u.to_dict() for u in found]}


@router.post("/tenants", status_code=201)
async def create_tenant(
    body: TenantIn,
    ctx: RequestContext = Depends(requires(Scope.TENANTS_ADMIN)),
    auth: Authenticator = Depends(get_authenticator),
    brain: Brain = Depends(get_brain),
) -> dict[str, Any]:
    """A new tenant (and, with admin_key, its first admin key, shown once)."""
    if ctx.tenant_id != DEFAULT_TENANT:
        raise Forbidden("only admins of the default tenant create tenants", field="scope",
                        required_scope=Scope.TENANTS_ADMIN.value)
    identity = _identity(auth)
    row = await asyncio.to_thread(identity.create_tenant, body.id, body.name)
    out: dict[str, Any] = {"id": row["id"], "name": row["name"], "created_at": row["created_at"]}
    if body.admin_key:
        secret, record = await asyncio.to_thread(
            lambda: identity.create_key(row["id"], role=Role.ADMIN, name="first admin"))
        out.update(key=secret, key_id=record.id)
    record_action(brain.audit, ctx, "tenant.create", row["id"],
                  details={"admin_key": out.get("key_id")})
    return out


@router.get("/tenants")
async def list_tenants(
    ctx: RequestContext = Depends(requires(Scope.TENANTS_ADMIN)),
    auth: Authenticator = Depends(get_authenticator),
) -> dict[str, Any]:
    if ctx.tenant_id != DEFAULT_TENANT:
        return {"tenants": [t for t in await asyncio.to_thread(_identity(auth).list_tenants)
                            if t["id"] == ctx.tenant_id]}
    return {"tenants": await asyncio.to_thread(_identity(auth).list_tenants)}

