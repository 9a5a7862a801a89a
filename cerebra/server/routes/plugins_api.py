"""Plugins API under /api/plugins: each plugin's state (registered, sandboxed, failed with
the stage and reason, what it registered) and a reload. Plugins are the server's, shared by
every tenant, so both need `plugins:admin` (admins only)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends

from cerebra.auth.principal import Scope
from cerebra.brain import Brain
from cerebra.context import RequestContext
from cerebra.server.auth import requires
from cerebra.server.deps import get_brain
from cerebra.server.openapi_doc import error_response

router = APIRouter(prefix="/api/plugins", tags=["plugins"])


@router.get("")
async def list_plugins(
    ctx: RequestContext = Depends(requires(Scope.PLUGINS_ADMIN)),
    brain: Brain = Depends(get_brain),
) -> dict[str, Any]:
    """Whether plugins are enabled and watched, and every plugin found, in registration
    order: name, source (folder or entry_point), origin, state, sandbox, priority,
    description, error and stage (failed ones), provides (tools, agents, judges, ...)."""
    plugins = brain.plugins
    if plugins is None:
        return {"enabled": False, "watching": False, "plugins": []}
    return {"enabled": True, "watching": plugins.watching,
            "plugins": [info.to_dict() for info in plugins.plugins()]}


@router.post("/reload", responses={409: error_response(409, "plugins are not enabled")})
async def reload_plugins(
    ctx: RequestContext = Depends(requires(Scope.PLUGINS_ADMIN)),
    brain: Brain = Depends(get_brain),
) -> dict[str, Any]:
    """Re-import the plugins whose files changed and register them all again; the names
    added, changed and removed, and every plugin's state after it."""
    from cerebra.errors import Conflict

    plugins = brain.plugins
    if plugins is None:
        raise Conflict("plugins are not enabled (CEREBRA_PLUGINS__ENABLED)",
                       field="plugins.enabled")
    report = await asyncio.to_thread(plugins.reload)
    return {"added": list(report.added), "changed": list(report.changed),
            "removed": list(report.removed),
            "plugins": [info.to_dict() for info in plugins.plugins()]}
